"""Faults the harness can inject, each a small class behind one interface.

A fault is applied at the start of the fault phase and rolled back at its end
(or on Ctrl-C, SIGTERM or a crash). Everything goes through the Toxiproxy API,
so the same fault works against our embedded proxy, Shopify's server or a
docker-compose stack; the one exception is LLM error answers, which a TCP proxy
cannot forge: they use the stand-in's control API when the LLM is ours, and
connection resets otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from harness.toxiclient import ToxiproxyClient

TOXIC_PREFIX = "harness_"


def toxic_name(tag: str, what: str) -> str:
    """``harness_<run tag>_<what>``: a toxic names the run that added it, so a dead run's can be found."""
    return f"{TOXIC_PREFIX}{tag}_{what}" if tag else f"{TOXIC_PREFIX}{what}"


class Fault(ABC):
    """One fault: how to apply it, how to undo it, and how to describe it."""

    kind: str = ""
    tag: str = ""  # the owning run's tag, set by the runner before apply

    @abstractmethod
    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        """Inject the fault; return what was done, for the timeline."""

    @abstractmethod
    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        """Undo :meth:`apply`; raise if that fails so the runner can say so loudly."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description (``dynamodb latency 2s``)."""


@dataclass
class LatencyFault(Fault):
    """A ``latency`` toxic on a proxy's downstream (server → client) link."""

    proxy: str
    latency_ms: int
    jitter_ms: int = 0

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"{self.proxy}_latency"

    @property
    def toxic_name(self) -> str:
        return toxic_name(self.tag, f"{self.proxy}_latency")

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        toxic = client.add_toxic(
            self.proxy, "latency", {"latency": self.latency_ms, "jitter": self.jitter_ms},
            name=self.toxic_name, stream="downstream",
        )
        return {"proxy": self.proxy, "toxic": self.toxic_name, "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.remove_toxic(self.proxy, self.toxic_name)
        return {"proxy": self.proxy, "toxic": self.toxic_name}

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms}ms" if self.jitter_ms else ""
        return f"{self.proxy} latency {self.latency_ms}ms{jitter}"


@dataclass
class DownFault(Fault):
    """The proxy disabled: new connects are refused and live ones are closed."""

    proxy: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"{self.proxy}_down"

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.set_enabled(self.proxy, False)
        return {"proxy": self.proxy, "toxic": None, "detail": {"enabled": False}}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        client.set_enabled(self.proxy, True)
        return {"proxy": self.proxy, "toxic": None, "detail": {"enabled": True}}

    def describe(self) -> str:
        return f"{self.proxy} down"


@dataclass
class LlmErrorFault(Fault):
    """A share of LLM calls answered with 529 ``overloaded_error``.

    With our stand-in reachable (``control_url``) the errors are real HTTP
    answers from its control API; otherwise a ``reset_peer`` toxic with the
    same toxicity makes that share of connections fail.
    """

    rate: float
    control_url: str | None = None
    status: int = 529

    kind = "llm_errors"

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        if self.control_url:
            body = {"error_rate": self.rate, "status": self.status, "retry_after_s": 0}
            resp = httpx.put(f"{self.control_url}/_standin/faults", json=body, timeout=5)
            resp.raise_for_status()
            return {"proxy": "llm", "toxic": None, "detail": {"standin_faults": body}}
        toxic = client.add_toxic("llm", "reset_peer", {"timeout": 0}, name=toxic_name(self.tag, "llm_errors"),
                                 toxicity=self.rate)
        return {"proxy": "llm", "toxic": toxic["name"], "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        if self.control_url:
            resp = httpx.delete(f"{self.control_url}/_standin/faults", timeout=5)
            resp.raise_for_status()
            return {"proxy": "llm", "toxic": None, "detail": {"standin_faults": None}}
        client.remove_toxic("llm", toxic_name(self.tag, "llm_errors"))
        return {"proxy": "llm", "toxic": toxic_name(self.tag, "llm_errors")}

    def describe(self) -> str:
        return f"llm errors {self.rate:.0%} ({self.status})"


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
