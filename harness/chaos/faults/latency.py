"""Every answer from the dependency is late: a ``latency`` toxic, on the downstream link unless told otherwise.

Upstream delays the request on its way in (a write lands late at the store);
downstream delays the answer (the store has already acted). The caller waits
the same either way; what differs is whether its timeout races the write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.faults.base import Fault
from harness.chaos.faults.network import STREAMS
from harness.toxiclient import ToxiproxyClient


@dataclass
class LatencyFault(Fault):
    """A ``latency`` toxic on one link of a proxy (downstream: server → client), on a share of connections."""

    proxy: str
    latency_ms: int
    jitter_ms: int = 0
    toxicity: float = 1.0
    ramp_from_ms: int | None = None  # set: the latency rises linearly from this to latency_ms over the phase
    steps: tuple[tuple[float, int], ...] = ()  # (seconds into the fault phase, latency_ms from then on)
    stream: str = "downstream"
    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be upstream or downstream, not {self.stream!r}")

    _applied_at: float = field(default=0.0, init=False, repr=False, compare=False)
    _next_step: int = field(default=0, init=False, repr=False, compare=False)
    _current_ms: int | None = field(default=None, init=False, repr=False, compare=False)
    _updated_at: float = field(default=0.0, init=False, repr=False, compare=False)

    @property
    def toxic_name(self) -> str:
        return self.named(f"{self.proxy}_latency")

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        start = self.latency_ms if self.ramp_from_ms is None else self.ramp_from_ms
        self._current_ms, self._updated_at = start, time.monotonic()
        self._applied_at, self._next_step = self._updated_at, 0
        toxic = client.add_toxic(
            self.proxy, "latency", {"latency": start, "jitter": self.jitter_ms},
            name=self.toxic_name, stream=self.stream, toxicity=self.toxicity,
        )
        return {"proxy": self.proxy, "toxic": self.toxic_name, "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.remove_toxic(self.proxy, self.toxic_name)
        return {"proxy": self.proxy, "toxic": self.toxic_name}

    def tick(self, client: ToxiproxyClient, progress: float, now: float | None = None) -> dict[str, Any] | None:
        """On a ramp, move the live toxic to the latency due now.

        Toxiproxy restarts a toxic on every update and lets the chunks it was
        holding through at once (Go's latency toxic does not drop data on an
        interrupt). Updating every tick would cap the real latency at the tick
        period, so a step waits at least a second and twice the current latency.
        """
        if self.steps:
            return self._step(client, time.monotonic() if now is None else now)
        if self.ramp_from_ms is None or self._current_ms is None:
            return None
        now = time.monotonic() if now is None else now
        due = round(self.ramp_from_ms + (self.latency_ms - self.ramp_from_ms) * min(max(progress, 0.0), 1.0))
        if due == self._current_ms or now - self._updated_at < max(1.0, 2 * self._current_ms / 1000.0):
            return None
        client.update_toxic(self.proxy, self.toxic_name, {"latency": due, "jitter": self.jitter_ms})
        self._current_ms, self._updated_at = due, now
        return {"proxy": self.proxy, "toxic": self.toxic_name, "latency_ms": due}

    def _step(self, client: ToxiproxyClient, now: float) -> dict[str, Any] | None:
        """Move the live toxic to every step that is due; say how late the last one landed."""
        due = None
        while self._next_step < len(self.steps) and now - self._applied_at >= self.steps[self._next_step][0]:
            due = self.steps[self._next_step]
            self._next_step += 1
        if due is None:
            return None
        client.update_toxic(self.proxy, self.toxic_name, {"latency": due[1], "jitter": self.jitter_ms})
        self._current_ms, self._updated_at = due[1], now
        late_ms = round((time.monotonic() - self._applied_at - due[0]) * 1000.0, 1)
        return {"proxy": self.proxy, "toxic": self.toxic_name, "latency_ms": due[1], "scheduled_s": due[0],
                "late_ms": late_ms}

    def describe(self) -> str:
        if self.steps:
            shown = ", ".join(f"{ms}ms at +{t:g}s" for t, ms in self.steps)
            return f"{self.proxy} latency {self.latency_ms}ms, then {shown}"
        if self.ramp_from_ms is not None:
            return f"{self.proxy} latency ramping {self.ramp_from_ms}ms..{self.latency_ms}ms"
        jitter = f" ± {self.jitter_ms}ms" if self.jitter_ms else ""
        share = f" on {self.toxicity:.0%} of connections" if self.toxicity < 1 else ""
        link = " (upstream)" if self.stream == "upstream" else ""
        return f"{self.proxy} latency {self.latency_ms}ms{jitter}{link}{share}"

    def effect(self) -> dict[str, Any]:
        out: dict[str, Any] = {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms, "toxicity": self.toxicity,
                               "stream": self.stream}
        if self.steps:  # the worst latency of the schedule, and the schedule itself
            out["latency_ms"] = max(self.latency_ms, *(ms for _, ms in self.steps))
            out["steps"] = [[t, ms] for t, ms in self.steps]
        return out if self.ramp_from_ms is None else {**out, "ramp_from_ms": self.ramp_from_ms}
