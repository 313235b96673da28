"""The seed document's ``DynamoDBCircuitBreaker`` snippet, implemented literally.

The seed variant uses this class so the harness can measure what the design's
*code* does, as opposed to what its prose and state diagram promise (that is
:class:`~reference_service.memory.breaker.CircuitBreaker`).  It keeps the
snippet's structure — a bare ``failure_count``, ``on_failure`` that opens at the
threshold and spawns ``schedule_recovery`` as a task, and a recovery coroutine
that sleeps and then flips the state — and therefore its defects:

1. **No time window.** ``failure_count`` only grows; "5 failures in 10 s" is
   really "5 failures since the last success", however far apart.
2. **Only ``TimeoutError`` counts.** ``except TimeoutError`` is the only
   handler, so connection refused, throttling or 5xx errors never open the
   breaker (they propagate to the caller, uncounted).
3. **``on_success`` is never defined** in the snippet.  We read it in the
   conventional way (close and reset the count); the literal code would raise
   ``AttributeError`` on every successful read.
4. **HALF-OPEN admits everybody.** The only check is ``state == "OPEN"``, so in
   HALF-OPEN every concurrent caller goes to DynamoDB — a thundering herd onto
   a dependency that is just recovering.
5. **Stacked recovery timers.** Every failure at or over the threshold calls
   ``create_task(schedule_recovery())`` again — including late failures of
   calls admitted before it opened and each failed half-open caller — so
   several timers run at once and an old one can flip a freshly re-opened
   breaker to HALF-OPEN early, or even a CLOSED one to HALF-OPEN.
6. **Fire-and-forget task.** The recovery task is not referenced; the event loop
   holds tasks weakly, so it can in principle be garbage-collected mid-sleep
   and leave the breaker OPEN forever.  (We keep references so the harness
   measures the other defects deterministically, and note it here.)
7. **Open is counted, never cleared.** The CloudWatch metric is put to 1 on
   opening and never back to 0 (our own gauge follows the real state).

The sleep function is injectable (default :func:`asyncio.sleep`) so tests can
drive the recovery timer; the timeout is the snippet's ``timeout_ms=200``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reference_service.memory.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerBase,
    BreakerConfig,
    CircuitOpenError,
)

T = TypeVar("T")


class SnippetBreaker(BreakerBase):
    """Literal port of the seed snippet behind the common breaker interface."""

    def __init__(
        self,
        name: str = "dynamodb",
        config: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(name, config, clock, wall_clock)
        self.failure_count = 0
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()

    def failures_in_window(self) -> int:
        """The snippet has no window: the raw failure count."""
        return self.failure_count

    @property
    def recovery_timers(self) -> int:
        """How many ``schedule_recovery`` tasks are pending (defect 5 made visible)."""
        return sum(1 for t in self._tasks if not t.done())

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``read_history`` from the snippet, with the fallback left to the caller."""
        if self._state == OPEN:
            raise CircuitOpenError(f"{self.name} circuit open")
        probing = self._state == HALF_OPEN
        try:
            result = await self._timed(fn)
        except TimeoutError:
            self.on_failure()
            if probing:
                self._probe_done("failure")
            raise
        self.on_success()
        if probing:
            self._probe_done("success")
        return result

    def on_success(self) -> None:
        """Not defined by the snippet; conventional reading: close and reset."""
        self.failure_count = 0
        self._set_state(CLOSED)

    def on_failure(self) -> None:
        """The snippet's ``on_failure``: count, and open (again) at the threshold."""
        self.failure_count += 1
        if self.failure_count >= self.config.threshold:
            self._set_state(OPEN)
            task = asyncio.get_running_loop().create_task(self.schedule_recovery())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def schedule_recovery(self) -> None:
        """Sleep the open time, then go HALF-OPEN whatever the state is now."""
        await self._sleep(self.config.open_s)
        self._set_state(HALF_OPEN)

    async def aclose(self) -> None:
        """Cancel pending recovery timers (service shutdown / test cleanup)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
