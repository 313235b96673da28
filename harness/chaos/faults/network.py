"""The shared shape of the stream faults: one Toxiproxy toxic of a given type on one link of a proxy.

Latency has its own module (a ramp, steps); the blackhole (a ``timeout`` toxic
held forever), ``reset_peer``, ``bandwidth``, ``slicer`` and ``limit_data``
differ only in their toxic type, their one parameter and what they do to the
calls, so each is a few lines over :class:`ToxicFault`. ``--toxic TARGET:KIND[=VALUE][@STREAM]``
builds them (:func:`parse_toxic`); an experiment file names the same kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from harness.chaos.faults.base import Fault
from harness.toxiclient import ToxiproxyClient

STREAMS = ("upstream", "downstream")


@dataclass
class ToxicFault(Fault):
    """One toxic of type :attr:`toxic_type` with ``value`` as its :attr:`param`, on a share of connections."""

    toxic_type: ClassVar[str]
    param: ClassVar[str]         # the toxic attribute ``value`` sets
    unit: ClassVar[str]          # how ``value`` reads in a description
    default: ClassVar[int]       # ``value`` when the flag gives none
    default_stream: ClassVar[str] = "downstream"
    fails_calls: ClassVar[bool] = True  # False: it slows or fragments, a call may still succeed
    label: ClassVar[str] = ""    # the fault's name in its toxic name (default: the toxic type)

    proxy: str
    value: int = -1
    stream: str = ""
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        if self.value < 0:
            self.value = self.default
        self.stream = self.stream or self.default_stream
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be upstream or downstream, not {self.stream!r}")

    @property
    def toxic_name(self) -> str:
        """``harness_<tag>_<proxy>_<label or toxic type>``: stale-run cleanup and rollback find it by this name."""
        return self.named(f"{self.proxy}_{self.label or self.toxic_type}")

    def attributes(self) -> dict[str, int]:
        return {self.param: self.value}

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        toxic = client.add_toxic(self.proxy, self.toxic_type, self.attributes(), name=self.toxic_name,
                                 stream=self.stream, toxicity=self.toxicity)
        return {"proxy": self.proxy, "toxic": self.toxic_name, "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.remove_toxic(self.proxy, self.toxic_name)
        return {"proxy": self.proxy, "toxic": self.toxic_name}

    def describe(self) -> str:
        share = f" on {self.toxicity:.0%} of connections" if self.toxicity < 1 else ""
        return f"{self.proxy} {self.toxic_type} {self.value}{self.unit} ({self.stream}){share}"

    def effect(self) -> dict[str, Any]:
        """What the analyzers need: which toxic, and whether it fails calls outright or only may."""
        return {self.toxic_type: self.value, "toxicity": self.toxicity,
                "fails_calls" if self.fails_calls else "may_fail_calls": True}
