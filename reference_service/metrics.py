"""Prometheus metrics for the service, in a registry per app instance.

Why per instance: tests start several apps in one process, and the default
global registry would refuse duplicate metric names.  The two gauges the
design's CloudWatch alarms watch (``DynamoDBCircuitOpen`` and
``StatelessModeSessions``) keep the design's names verbatim so dashboards and
the analyzers can find them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reference_service.memory.breaker import OPEN

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
_STATELESS_SESSION_CAP = 1_000_000


class Metrics:
    """All metrics of one service instance; also a breaker listener."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.circuit_open = Gauge("DynamoDBCircuitOpen", "1 while the DynamoDB breaker is open", registry=r)
        self.stateless_sessions = Gauge(
            "StatelessModeSessions", "Distinct sessions that got a level >= 2 reply", registry=r
        )
        self.requests = Counter(
            "refsvc_chat_requests", "Chat turns answered, by memory mode", ["memory_mode", "transport"], registry=r
        )
        self.memory_op = Histogram(
            "refsvc_memory_op_seconds",
            "Latency of memory operations",
            ["store", "op", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_seconds = Histogram(
            "refsvc_llm_seconds", "Latency of LLM calls", ["outcome"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.breaker_transitions = Counter(
            "refsvc_breaker_transitions", "Breaker state changes", ["breaker", "from_state", "to_state"], registry=r
        )
        self.breaker_probes = Counter(
            "refsvc_breaker_probes", "Half-open probes", ["breaker", "outcome"], registry=r
        )
        self.outbox_pending = Gauge("refsvc_outbox_pending", "Turns waiting for DynamoDB", registry=r)
        self.outbox_flushed = Counter("refsvc_outbox_flushed", "Outbox turns written to DynamoDB", registry=r)
        self.outbox_dead_letters = Counter(
            "refsvc_outbox_dead_letters", "Turns given up on (rejected by DynamoDB or out of attempts)", registry=r
        )
        self.bad_requests = Counter("refsvc_bad_requests", "Rejected requests", ["status"], registry=r)
        self._stateless: set[str] = set()

    def on_transition(self, breaker: str, old: str, new: str, failures_in_window: int) -> None:
        """Breaker listener: count the transition and follow the open gauge."""
        self.breaker_transitions.labels(breaker, old, new).inc()
        if breaker == "dynamodb":
            self.circuit_open.set(1 if new == OPEN else 0)

    def on_probe(self, breaker: str, outcome: str) -> None:
        """Breaker listener: count probes by outcome."""
        self.breaker_probes.labels(breaker, outcome).inc()

    def stateless_session(self, session_id: str) -> None:
        """Record a session that got a stateless (or worse) reply."""
        if session_id not in self._stateless and len(self._stateless) < _STATELESS_SESSION_CAP:
            self._stateless.add(session_id)
            self.stateless_sessions.set(len(self._stateless))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
