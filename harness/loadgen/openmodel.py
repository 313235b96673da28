"""Open-model arrivals: sessions start on a fixed schedule, whatever the latency.

Locust is closed-loop: a user waits for a reply before sending more, so a
stalled server simply receives fewer requests and its stall shows up as one
slow sample (coordinated omission). Here a scheduler greenlet starts a new
session greenlet every ``1/rate`` seconds on a precomputed schedule. Each
session's first request carries its *intended* start (the schedule slot), so
analyzers can report latency from the intended start (corrected) as well as
from the actual start (uncorrected). Session greenlets run in a bounded pool:
when the pool is full the generator cannot keep up, and the slot is recorded
as a ``missed_start`` instead of silently disappearing. Later turns of a
session are closed-loop by nature (a person waits for the answer), so their
intended start is their actual start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
from gevent.pool import Pool


class ArrivalScheduler:
    """Start ``start_session(intended_start)`` at ``rate_fn()`` sessions/s in ``pool``."""

    def __init__(
        self,
        rate_fn: Callable[[], float],
        pool: Pool,
        start_session: Callable[[float], None],
        on_missed: Callable[[float], None],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = gevent.sleep,
    ) -> None:
        self.rate_fn = rate_fn
        self.pool = pool
        self.start_session = start_session
        self.on_missed = on_missed
        self.clock = clock
        self.sleep = sleep
        self.started = 0
        self.missed = 0

    def tick(self, intended: float) -> None:
        """Handle one schedule slot."""
        if self.pool.full():
            self.missed += 1
            self.on_missed(intended)
        else:
            self.started += 1
            self.pool.spawn(self.start_session, intended)

    def run(self, until: float | None = None) -> None:
        """Run the schedule (forever, or until ``until`` on the scheduler's clock)."""
        intended = self.clock()
        while until is None or intended < until:
            now = self.clock()
            if now < intended:
                self.sleep(intended - now)
                continue
            self.tick(intended)
            intended += 1.0 / max(self.rate_fn(), 1e-9)


__all__ = ["ArrivalScheduler"]
