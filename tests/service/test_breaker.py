"""The breaker state machines on a fake clock: the spec breaker and the seed snippet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reference_service.memory.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerConfig,
    CallTimeout,
    CircuitBreaker,
    CircuitOpenError,
)
from reference_service.memory.snippet_breaker import SnippetBreaker

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


class Recorder:
    def __init__(self) -> None:
        self.transitions: list[tuple[str, str, int]] = []
        self.probes: list[str] = []

    def on_transition(self, breaker: str, old: str, new: str, failures_in_window: int) -> None:
        self.transitions.append((old, new, failures_in_window))

    def on_probe(self, breaker: str, outcome: str) -> None:
        self.probes.append(outcome)


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("down")


def slow(seconds: float) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        await asyncio.sleep(seconds)
        return "slow"

    return run


def spec(clock: Clock, **kw: Any) -> tuple[CircuitBreaker, Recorder]:
    cfg = BreakerConfig(**{"threshold": 5, "window_s": 10.0, "open_s": 30.0, "timeout_ms": 50.0, **kw})
    b = CircuitBreaker("dynamodb", cfg, clock=clock)
    rec = Recorder()
    b.add_listener(rec)
    return b, rec


async def fail(b: Any, n: int, clock: Clock | None = None, step: float = 0.0) -> None:
    for _ in range(n):
        with pytest.raises(ConnectionError):
            await b.call(boom)
        if clock:
            clock.advance(step)


def test_opens_on_threshold_within_window() -> None:
    async def go() -> None:
        clock = Clock()
        b, rec = spec(clock)
        await fail(b, 4, clock, 2.0)  # t=0,2,4,6
        assert b.state == CLOSED
        assert await b.call(ok) == "ok"  # successes do not erase failures
        await fail(b, 1)  # t=8: 5 failures inside 10 s
        assert b.state == OPEN
        assert rec.transitions == [(CLOSED, OPEN, 5)]
        with pytest.raises(CircuitOpenError):
            await b.call(ok)

    asyncio.run(go())


def test_window_slides_old_failures_out() -> None:
    async def go() -> None:
        clock = Clock()
        b, _ = spec(clock)
        await fail(b, 4, clock, 3.0)  # t=0,3,6,9 ; now t=12
        assert b.failures_in_window() == 3  # t=0 slid out (12-10=2)
        await fail(b, 1)
        assert b.state == CLOSED
        await fail(b, 1)  # 3,6,9,12,12 -> 5 within window
        assert b.state == OPEN

    asyncio.run(go())


def test_spread_out_failures_never_open() -> None:
    async def go() -> None:
        clock = Clock()
        b, _ = spec(clock)
        await fail(b, 50, clock, 2.6)  # never 5 within 10 s
        assert b.state == CLOSED

    asyncio.run(go())


def test_open_then_half_open_after_open_time() -> None:
    async def go() -> None:
        clock = Clock()
        b, rec = spec(clock)
        await fail(b, 5)
        clock.advance(29.9)
        assert b.state == OPEN
        clock.advance(0.1)
        assert b.state == HALF_OPEN
        assert rec.transitions[-1][:2] == (OPEN, HALF_OPEN)

    asyncio.run(go())


def test_exactly_one_probe_under_concurrency_and_success_closes() -> None:
    async def go() -> None:
        clock = Clock()
        b, rec = spec(clock, timeout_ms=1000.0)
        await fail(b, 5)
        clock.advance(30)
        calls = 0

        async def counted() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return "probe"

        results = await asyncio.gather(*(b.call(counted) for _ in range(20)), return_exceptions=True)
        assert calls == 1
        assert sum(1 for r in results if r == "probe") == 1
        assert sum(1 for r in results if isinstance(r, CircuitOpenError)) == 19
        assert b.state == CLOSED
        assert b.failures_in_window() == 0
        assert rec.probes == ["success"]
        assert [t[:2] for t in rec.transitions] == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]

    asyncio.run(go())


def test_probe_failure_reopens_and_restarts_timer() -> None:
    async def go() -> None:
        clock = Clock()
        b, rec = spec(clock)
        await fail(b, 5)
        clock.advance(30)
        await fail(b, 1)
        assert b.state == OPEN
        assert rec.probes == ["failure"]
        clock.advance(29)
        assert b.state == OPEN  # timer restarted at the probe failure
        clock.advance(1)
        assert b.state == HALF_OPEN

    asyncio.run(go())


def test_timeout_counts_as_failure_and_raises_timeout() -> None:
    async def go() -> None:
        clock = Clock()
        b, _ = spec(clock, threshold=2, timeout_ms=20.0)
        for _ in range(2):
            with pytest.raises(CallTimeout):
                await b.call(slow(1.0))
        assert b.state == OPEN

    asyncio.run(go())


def test_probe_timeout_reopens() -> None:
    async def go() -> None:
        clock = Clock()
        b, rec = spec(clock, threshold=1, timeout_ms=20.0)
        await fail(b, 1)
        clock.advance(30)
        with pytest.raises(TimeoutError):
            await b.call(slow(1.0))
        assert b.state == OPEN and rec.probes == ["failure"]

    asyncio.run(go())


def test_late_failure_of_call_admitted_before_open_is_ignored() -> None:
    async def go() -> None:
        clock = Clock()
        b, _rec = spec(clock, threshold=2, timeout_ms=1000.0)

        async def late_fail() -> str:
            await asyncio.sleep(0.05)
            raise ConnectionError("late")

        late = asyncio.ensure_future(b.call(late_fail))
        await asyncio.sleep(0)
        await fail(b, 2)
        assert b.state == OPEN
        clock.advance(30)
        assert b.state == HALF_OPEN
        with pytest.raises(ConnectionError):
            await late
        assert b.state == HALF_OPEN  # the stale failure did not re-open it
        assert await b.call(ok) == "ok"
        assert b.state == CLOSED

    asyncio.run(go())


def test_cancelled_probe_frees_the_slot() -> None:
    async def go() -> None:
        clock = Clock()
        b, _ = spec(clock, threshold=1, timeout_ms=5000.0)
        await fail(b, 1)
        clock.advance(30)
        probe = asyncio.ensure_future(b.call(slow(10)))
        await asyncio.sleep(0.01)
        with pytest.raises(CircuitOpenError):
            await b.call(ok)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert await b.call(ok) == "ok"
        assert b.state == CLOSED

    asyncio.run(go())


def test_snapshot_and_transition_log() -> None:
    clock = Clock()
    b, _ = spec(clock)
    asyncio.run(fail(b, 5))
    snap = b.snapshot()
    assert snap["state"] == OPEN and snap["kind"] == "CircuitBreaker"
    assert snap["config"] == {"threshold": 5, "window_s": 10.0, "open_s": 30.0, "timeout_ms": 50.0}
    assert snap["transitions"][0]["from"] == CLOSED and snap["transitions"][0]["to"] == OPEN


# ----------------------------------------------------------------------------------- snippet


class ManualSleep:
    """An injectable sleep that waits until the test releases it."""

    def __init__(self) -> None:
        self.events: list[asyncio.Event] = []

    async def __call__(self, seconds: float) -> None:
        ev = asyncio.Event()
        self.events.append(ev)
        await ev.wait()

    def release_all(self) -> None:
        for ev in self.events:
            ev.set()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def snippet(sleep: ManualSleep, **kw: Any) -> tuple[SnippetBreaker, Recorder]:
    cfg = BreakerConfig(**{"threshold": 5, "window_s": 10.0, "open_s": 30.0, "timeout_ms": 20.0, **kw})
    b = SnippetBreaker("dynamodb", cfg, sleep=sleep)
    rec = Recorder()
    b.add_listener(rec)
    return b, rec


async def time_out(b: SnippetBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(TimeoutError):
            await b.call(slow(1.0))


def test_snippet_ignores_non_timeout_errors() -> None:
    async def go() -> None:
        b, _ = snippet(ManualSleep())
        await fail(b, 20)
        assert b.state == CLOSED and b.failure_count == 0

    asyncio.run(go())


def test_snippet_has_no_time_window() -> None:
    async def go() -> None:
        sleeper = ManualSleep()
        b, _ = snippet(sleeper)
        clock = Clock()
        b._clock = clock  # irrelevant to the snippet: it never looks at time
        for _ in range(5):
            await time_out(b, 1)
            clock.advance(3600)  # an hour apart
        assert b.state == OPEN
        await b.aclose()

    asyncio.run(go())


def test_snippet_half_open_admits_every_caller_and_timers_stack() -> None:
    async def go() -> None:
        sleeper = ManualSleep()
        b, _rec = snippet(sleeper, threshold=2)
        await time_out(b, 2)
        assert b.state == OPEN and b.recovery_timers == 1
        with pytest.raises(CircuitOpenError):
            await b.call(ok)
        await settle()
        sleeper.release_all()
        await settle()
        assert b.state == HALF_OPEN
        calls = 0

        async def counted() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.001)
            return "x"

        results = await asyncio.gather(*(b.call(counted) for _ in range(10)))
        assert calls == 10 and results == ["x"] * 10  # thundering herd, no single probe
        assert b.state == CLOSED

        # stacked timers: failures at/over the threshold each schedule another recovery
        await time_out(b, 2)
        assert b.state == OPEN
        # a concurrent batch admitted while CLOSED that all time out after it opened
        await b.aclose()
        b2, _ = snippet(ManualSleep(), threshold=2)
        await asyncio.gather(*(b2.call(slow(1.0)) for _ in range(6)), return_exceptions=True)
        assert b2.state == OPEN and b2.failure_count == 6
        assert b2.recovery_timers == 5
        await b2.aclose()

    asyncio.run(go())


def test_snippet_probe_failure_reopens() -> None:
    async def go() -> None:
        sleeper = ManualSleep()
        b, rec = snippet(sleeper, threshold=1)
        await time_out(b, 1)
        await settle()
        sleeper.release_all()
        await settle()
        assert b.state == HALF_OPEN
        await time_out(b, 1)
        assert b.state == OPEN and rec.probes == ["failure"]
        await b.aclose()

    asyncio.run(go())


def test_a_stall_of_our_own_loop_is_not_charged_to_dynamodb() -> None:
    """An answer due at 100 ms, while the event loop is frozen from 50 to 320 ms: it is read, not timed out."""
    import time

    async def scenario() -> tuple[object, float]:
        br = CircuitBreaker(config=BreakerConfig(timeout_ms=200))

        async def answer() -> str:
            await asyncio.sleep(0.1)
            for _ in range(5):  # reading and parsing the reply takes a few loop turns, as a real client's does
                await asyncio.sleep(0)
            return "items"

        async def stall() -> None:
            await asyncio.sleep(0.05)
            time.sleep(0.27)  # a GC pause or a starved CPU: nothing on this loop runs

        staller = asyncio.ensure_future(stall())
        t = time.monotonic()
        got = await br.call(answer)
        await staller
        return got, time.monotonic() - t

    got, took = asyncio.run(scenario())
    assert got == "items" and took < 0.6


def test_a_slow_answer_on_a_live_loop_still_times_out_at_200ms() -> None:
    import time

    async def scenario() -> float:
        br = CircuitBreaker(config=BreakerConfig(timeout_ms=200))
        t = time.monotonic()
        with pytest.raises(CallTimeout):
            await br.call(lambda: asyncio.sleep(0.5))
        assert br.failures_in_window() == 1
        return time.monotonic() - t

    assert 0.19 <= asyncio.run(scenario()) < 0.4
