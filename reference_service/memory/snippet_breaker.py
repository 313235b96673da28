"""The seed document's ``DynamoDBCircuitBreaker`` snippet, implemented literally.

The seed variant uses it so the harness measures what the design's *code* does,
not what its prose and state diagram promise (that is the spec breaker,
:class:`~reference_service.memory.breaker.CircuitBreaker`). It keeps the
snippet's structure and so its defects: (1) no time window, the count resets
only on success; (2) only ``TimeoutError`` counts; (3) ``on_success`` is never
defined, read conventionally as close-and-reset; (4) HALF-OPEN admits every
caller; (5) each failure at the threshold starts another recovery timer, and an
old one can flip a re-opened or closed breaker to HALF-OPEN early; (6) the
recovery task is fire-and-forget (we keep references so the other defects are
measured deterministically); (7) the open metric is set to 1, never cleared.
The sleep is injectable for tests; the timeout is the snippet's ``timeout_ms=200``.
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
