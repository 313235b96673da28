"""The dependency accepts connections and never answers: Toxiproxy's ``timeout`` toxic with timeout 0.

The nastiest way a dependency fails: nothing is refused, so only the caller's
own timeout ends the wait. The toxic sits on the upstream link, so requests
never reach the server (a write is not applied behind the caller's back), and
with a toxicity below 1 only that share of connections is swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.chaos.faults.network import ToxicFault


@dataclass
class BlackholeFault(ToxicFault):
    """A ``timeout`` toxic (timeout 0: hold forever) on the upstream link of a share of connections."""

    toxic_type = "timeout"
    param = "timeout"
    unit = "ms"
    default = 0
    default_stream = "upstream"
    label = "blackhole"

    def describe(self) -> str:
        share = f" on {self.toxicity:.0%} of connections" if self.toxicity < 1 else ""
        link = " (downstream: requests land, answers never come)" if self.stream == "downstream" else ""
        return f"{self.proxy} blackhole{link}{share}"

    def effect(self) -> dict[str, Any]:
        return {"blackhole": True, "toxicity": self.toxicity}
