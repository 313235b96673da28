"""One place that times a memory operation, classifies its outcome and reports it.

Why: every read and write must show up identically in the event log
(``memory_read`` / ``memory_write`` lines) and in the latency histograms, and
the failure reason vocabulary (``dynamo_timeout``, ``circuit_open`` ...) must be
the same everywhere, so the read and write paths share this helper.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.exceptions as redis_exc

from reference_service.events import EventLog
from reference_service.memory.breaker import CircuitOpenError
from reference_service.metrics import Metrics

T = TypeVar("T")


def outcome_of(exc: BaseException) -> str:
    """Event-log ``outcome`` for a failed operation."""
    if isinstance(exc, CircuitOpenError):
        return "circuit_open"
    if isinstance(exc, TimeoutError | redis_exc.TimeoutError):
        return "timeout"
    return "error"


def reason_of(store: str, exc: BaseException) -> str:
    """``debug_metadata.reason`` for a failed operation on ``store``."""
    outcome = outcome_of(exc)
    if outcome == "circuit_open":
        return "circuit_open"
    prefix = "dynamo" if store == "dynamodb" else "redis"
    return f"{prefix}_{outcome}"


@dataclass(slots=True)
class OpResult:
    """What an observed operation returned, or why it failed."""

    ok: bool
    value: Any = None
    error: BaseException | None = None
    latency_ms: float = 0.0


class Observer:
    """Times, logs and counts memory operations."""

    def __init__(self, events: EventLog, metrics: Metrics) -> None:
        self.events = events
        self.metrics = metrics

    async def run(
        self,
        kind: str,
        store: str,
        op: str,
        fn: Callable[[], Awaitable[T]],
        describe: Callable[[T], dict[str, Any]] | None = None,
        **fields: Any,
    ) -> OpResult:
        """Await ``fn()``; never raises (except cancellation); emits one ``kind`` event."""
        start = time.perf_counter()
        try:
            value = await fn()
        except Exception as exc:
            latency = (time.perf_counter() - start) * 1000.0
            outcome = outcome_of(exc)
            self.metrics.memory_op.labels(store, op, outcome).observe(latency / 1000.0)
            self.events.emit(
                kind, store=store, latency_ms=round(latency, 3), outcome=outcome,
                error=f"{type(exc).__name__}: {exc}"[:300], **fields,
            )
            return OpResult(False, error=exc, latency_ms=latency)
        latency = (time.perf_counter() - start) * 1000.0
        extra = describe(value) if describe else {}
        outcome = extra.pop("outcome", "ok")
        self.metrics.memory_op.labels(store, op, outcome).observe(latency / 1000.0)
        self.events.emit(kind, store=store, latency_ms=round(latency, 3), outcome=outcome, **fields, **extra)
        return OpResult(True, value=value, latency_ms=latency)

    async def call(
        self,
        kind: str,
        store: str,
        op: str,
        fn: Callable[[], Awaitable[T]],
        describe: Callable[[T], dict[str, Any]] | None = None,
        **fields: Any,
    ) -> T:
        """Like :meth:`run`, but a failure is re-raised after it was logged and counted.

        The seed's write path is the design's literal ``gather``: a failed put
        must travel up to whatever awaits it, and still be visible in the event
        log and the histograms like every other memory operation.
        """
        res = await self.run(kind, store, op, fn, describe, **fields)
        if not res.ok:
            assert res.error is not None
            raise res.error
        value: T = res.value
        return value
