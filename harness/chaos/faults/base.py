"""The one interface every fault implements, and what faults share.

A fault is applied at the start of the fault phase and rolled back at its end
(or on Ctrl-C, SIGTERM or a crash). Each fault says what it does to its
dependency (:meth:`Fault.effect`, written to ``run.json`` for the analyzers)
and whether it takes the proxy down, so the runner never asks which class a
fault is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from harness.chaos.schedule import Window
from harness.state import Component
from harness.toxiclient import ToxiproxyClient

TOXIC_PREFIX = "harness_"


def toxic_name(tag: str, what: str) -> str:
    """``harness_<run tag>_<what>``: a toxic names the run that added it, so a dead run's can be found."""
    return f"{TOXIC_PREFIX}{tag}_{what}" if tag else f"{TOXIC_PREFIX}{what}"


class Fault(ABC):
    """One fault: how to apply it, how to undo it, and how to describe it."""

    proxy: str  # the Toxiproxy proxy it acts on: dynamodb, redis or llm
    tag: str = ""  # the owning run's tag, set by the runner before apply
    disables_proxy: bool = False  # True: the runner records the proxy before apply, for crash recovery
    window: Window = Window()  # when it is in force inside the fault phase; the flags set it per fault
    slot: str = ""  # set by the flags when a run has two faults of this kind on one proxy: their toxics differ
    holds: ClassVar[str] = ""  # a setting it owns on its proxy (enabled, errors): two at once would overwrite it

    def named(self, what: str) -> str:
        """This fault's toxic name: ``harness_<tag>_<what>``, with its slot when it has one."""
        return toxic_name(self.tag, f"{what}_{self.slot}" if self.slot else what)

    @abstractmethod
    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        """Inject the fault; return what was done, for the timeline."""

    @abstractmethod
    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        """Undo :meth:`apply`; raise if that fails so the runner can say so loudly."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description (``dynamodb latency 2s``)."""

    def effect(self) -> dict[str, Any]:
        """What the dependency suffers, for ``run.json``'s ``fault.<proxy>`` (merged over all faults)."""
        return {}

    def tick(self, client: ToxiproxyClient, progress: float, now: float | None = None) -> dict[str, Any] | None:
        """Follow a schedule inside the fault phase (``progress`` 0..1); return what changed, if anything."""
        del client, progress, now  # a constant fault never changes
        return None

    def bind(self, components: dict[str, Component]) -> None:
        """Learn about the stack before apply (e.g. a stand-in's control API); default: nothing."""
        del components  # most faults need nothing but their proxy


def parse_rate(text: str) -> float:
    """``30%`` or ``0.3`` → 0.3; rejects values outside (0, 1]."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError as exc:
        raise ValueError(f"invalid rate {text!r}: use a fraction (0.3) or a percentage (30%)") from exc
    if not 0 < value <= 1:
        raise ValueError(f"invalid rate {text!r}: must be above 0 and at most 100%")
    return value
