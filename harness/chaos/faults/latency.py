"""Every answer from the dependency is late: a ``latency`` toxic on the downstream link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.chaos.faults.base import Fault, toxic_name
from harness.toxiclient import ToxiproxyClient


@dataclass
class LatencyFault(Fault):
    """A ``latency`` toxic on a proxy's downstream (server → client) link, on a share of connections."""

    proxy: str
    latency_ms: int
    jitter_ms: int = 0
    toxicity: float = 1.0

    @property
    def toxic_name(self) -> str:
        return toxic_name(self.tag, f"{self.proxy}_latency")

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        toxic = client.add_toxic(
            self.proxy, "latency", {"latency": self.latency_ms, "jitter": self.jitter_ms},
            name=self.toxic_name, stream="downstream", toxicity=self.toxicity,
        )
        return {"proxy": self.proxy, "toxic": self.toxic_name, "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.remove_toxic(self.proxy, self.toxic_name)
        return {"proxy": self.proxy, "toxic": self.toxic_name}

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms}ms" if self.jitter_ms else ""
        share = f" on {self.toxicity:.0%} of connections" if self.toxicity < 1 else ""
        return f"{self.proxy} latency {self.latency_ms}ms{jitter}{share}"

    def effect(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms, "toxicity": self.toxicity}
