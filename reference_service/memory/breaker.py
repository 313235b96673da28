"""The DynamoDB circuit breaker exactly as the design's *prose and diagram* specify: the spec breaker.

Hand-written because the Python libraries fall short (pybreaker is not
asyncio-aware; aiobreaker and purgatory count consecutive failures with no time
window and let every concurrent caller probe in half-open). CLOSED: a failure
(an exception, or exceeding the call timeout) is timestamped, and ``threshold``
failures within the sliding ``window_s`` open it; successes do not erase
failures, the window does. OPEN: calls fail fast for ``open_s``. HALF_OPEN:
exactly one probe; success closes, failure re-opens. The seed's snippet breaker
(``snippet_breaker``) differs on purpose: no time window, only timeouts count,
every caller probes in half-open. Every state decision is synchronous (no
``await`` between check and update), so one event loop never interleaves two
admissions; the clock is injectable for tests, and listeners get each edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# A timer this much past its deadline means the event loop itself was stalled.
LATE_TIMER_S = 0.02

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """Raised instead of calling the dependency while the breaker rejects calls."""


class CallTimeout(TimeoutError):
    """The guarded call exceeded the breaker's call timeout (counts as a failure)."""


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Tunable parameters; defaults are the design's numbers."""

    threshold: int = 5
    window_s: float = 10.0
    open_s: float = 30.0
    timeout_ms: float = 200.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (for ``/debug/memory`` and ``run.json``)."""
        return asdict(self)


class BreakerListener(Protocol):
    """Receives every transition and probe outcome (event log, metrics)."""

    def on_transition(self, breaker: str, old: str, new: str, failures_in_window: int) -> None:
        """Called once per state change."""

    def on_probe(self, breaker: str, outcome: str) -> None:
        """Called once per completed half-open probe (``success`` | ``failure``)."""


class BreakerBase:
    """Shared plumbing for both breaker variants: listeners, transition log, timeout call."""

    def __init__(
        self,
        name: str = "dynamodb",
        config: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._wall = wall_clock
        self._state = CLOSED
        self._listeners: list[BreakerListener] = []
        self.transitions: deque[dict[str, Any]] = deque(maxlen=200)
        self.kind = type(self).__name__

    def add_listener(self, listener: BreakerListener) -> None:
        """Subscribe to transitions and probes."""
        self._listeners.append(listener)

    @property
    def state(self) -> str:
        """The current state (``closed`` | ``open`` | ``half_open``)."""
        return self._state

    def failures_in_window(self) -> int:
        """How many failures currently count towards opening."""
        raise NotImplementedError

    def _set_state(self, new: str) -> None:
        old = self._state
        if old == new:
            return
        self._state = new
        failures = self.failures_in_window()
        self.transitions.append(
            {"ts": self._wall(), "from": old, "to": new, "failures_in_window": failures}
        )
        for listener in self._listeners:
            listener.on_transition(self.name, old, new, failures)

    def _probe_done(self, outcome: str) -> None:
        for listener in self._listeners:
            listener.on_probe(self.name, outcome)

    async def _timed(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await asyncio.wait_for(fn(), self.config.timeout_ms / 1000.0)
        except TimeoutError as exc:
            if isinstance(exc, CallTimeout):
                raise
            raise CallTimeout(f"{self.name} call exceeded {self.config.timeout_ms:g} ms") from exc

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` under the breaker with the call timeout."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release background work (none for the spec breaker)."""

    def snapshot(self) -> dict[str, Any]:
        """State, configuration and recent transitions for ``/debug/memory``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "config": self.config.to_dict(),
            "failures_in_window": self.failures_in_window(),
            "transitions": list(self.transitions),
        }


class CircuitBreaker(BreakerBase):
    """The spec breaker (hardened variant): sliding time window, single half-open probe."""

    def __init__(
        self,
        name: str = "dynamodb",
        config: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        client_error: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        super().__init__(name, config, clock, wall_clock)
        # A request the dependency promptly refused as malformed proves it is
        # up: counting it would let one poison turn open the breaker for all.
        self._client_error = client_error
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_in_flight = False
        # Bumped on every transition so results of calls admitted in an earlier
        # state (e.g. a slow call admitted while closed that ends after the
        # breaker opened) cannot move the state machine.
        self._epoch = 0

    async def _timed(self, fn: Callable[[], Awaitable[T]]) -> T:
        """The 200 ms call timeout, not charged to DynamoDB for this process's own stall.

        A timer that fires late means the event loop was stalled (a GC pause, a
        starved CPU) and the answer may be waiting unread: seen in a control run,
        where a 270 ms stall timed out five writes the wire saw answered in time
        and opened the breaker. The call then gets as much more time as the loop
        lost, once. A timer on time gives the design's timeout exactly.
        """
        loop = asyncio.get_running_loop()
        budget = self.config.timeout_ms / 1000.0
        task = asyncio.ensure_future(fn())
        start = loop.time()
        try:
            done, _ = await asyncio.wait({task}, timeout=budget)
            late = loop.time() - start - budget
            if not done and late > LATE_TIMER_S:
                done, _ = await asyncio.wait({task}, timeout=min(late, budget))
        except asyncio.CancelledError:
            task.cancel()
            raise
        if done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise CallTimeout(f"{self.name} call exceeded {self.config.timeout_ms:g} ms")

    def _prune(self, now: float) -> None:
        horizon = now - self.config.window_s
        while self._failures and self._failures[0] <= horizon:
            self._failures.popleft()

    def failures_in_window(self) -> int:
        """Failures inside the sliding window as of now."""
        self._prune(self._clock())
        return len(self._failures)

    def _transition(self, new: str) -> None:
        self._epoch += 1
        self._set_state(new)

    @property
    def state(self) -> str:
        """Current state; an expired OPEN reads as HALF_OPEN (the transition happens here)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.config.open_s:
            self._transition(HALF_OPEN)
        return self._state

    def _admit(self) -> tuple[int, bool]:
        """Decide synchronously whether a call may run; returns (epoch, is_probe)."""
        state = self.state
        if state == CLOSED:
            return self._epoch, False
        if state == HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return self._epoch, True
        raise CircuitOpenError(f"{self.name} circuit {state}")

    def _record_failure(self, epoch: int, probe: bool) -> None:
        now = self._clock()
        if probe:
            self._probe_in_flight = False
            self._opened_at = now
            # The probe's outcome is logged inside its half-open episode, before the edge it causes.
            self._probe_done("failure")
            self._transition(OPEN)
            return
        if epoch != self._epoch or self._state != CLOSED:
            return
        self._prune(now)
        self._failures.append(now)
        if len(self._failures) >= self.config.threshold:
            self._opened_at = now
            self._transition(OPEN)

    def _record_success(self, epoch: int, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._failures.clear()
            self._probe_done("success")
            self._transition(CLOSED)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` if admitted; raise :class:`CircuitOpenError` if not."""
        epoch, probe = self._admit()
        try:
            result = await self._timed(fn)
        except asyncio.CancelledError:
            # The caller went away: the probe proved nothing, so free the slot.
            if probe:
                self._probe_in_flight = False
            raise
        except Exception as exc:
            if self._client_error(exc):
                self._record_success(epoch, probe)
            else:
                self._record_failure(epoch, probe)
            raise
        self._record_success(epoch, probe)
        return result
