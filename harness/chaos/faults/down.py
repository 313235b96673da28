"""The dependency is gone: the proxy disabled, so connects are refused and live ones closed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.chaos.faults.base import Fault
from harness.toxiclient import ToxiproxyClient


@dataclass
class DownFault(Fault):
    """The proxy disabled: new connects are refused and live ones are closed."""

    proxy: str
    disables_proxy = True
    holds = "enabled"

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.set_enabled(self.proxy, False)
        return {"proxy": self.proxy, "toxic": None, "detail": {"enabled": False}}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.set_enabled(self.proxy, True)
        return {"proxy": self.proxy, "toxic": None, "detail": {"enabled": True}}

    def describe(self) -> str:
        return f"{self.proxy} down"

    def effect(self) -> dict[str, Any]:
        return {"down": True}
