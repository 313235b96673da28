"""The dependency accepts connections and never answers: Toxiproxy's ``timeout`` toxic with timeout 0.

The nastiest way a dependency fails: nothing is refused, so only the caller's
own timeout ends the wait. The toxic sits on the upstream link, so requests
never reach the server (a write is not applied behind the caller's back), and
with a toxicity below 1 only that share of connections is swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.chaos.faults.base import Fault, toxic_name
from harness.toxiclient import ToxiproxyClient


@dataclass
class BlackholeFault(Fault):
    """A ``timeout`` toxic (timeout 0: hold forever) on the upstream link of a share of connections."""

    proxy: str
    toxicity: float = 1.0

    @property
    def toxic_name(self) -> str:
        return toxic_name(self.tag, f"{self.proxy}_blackhole")

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        toxic = client.add_toxic(self.proxy, "timeout", {"timeout": 0}, name=self.toxic_name,
                                 stream="upstream", toxicity=self.toxicity)
        return {"proxy": self.proxy, "toxic": self.toxic_name, "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.remove_toxic(self.proxy, self.toxic_name)
        return {"proxy": self.proxy, "toxic": self.toxic_name}

    def describe(self) -> str:
        share = f" on {self.toxicity:.0%} of connections" if self.toxicity < 1 else ""
        return f"{self.proxy} blackhole{share}"

    def effect(self) -> dict[str, Any]:
        return {"blackhole": True, "toxicity": self.toxicity}
