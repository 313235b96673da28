"""A share of LLM calls answered with an API error: 529 ``overloaded_error``, or 429 ``rate_limit_error``.

A TCP proxy cannot forge an HTTP answer, so with our stand-in reachable the
errors are real answers from its control API; otherwise a ``reset_peer``
toxic with the same toxicity makes that share of connections fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from harness.chaos.faults.base import Fault
from harness.state import Component
from harness.toxiclient import ToxiproxyClient


@dataclass
class LlmErrorFault(Fault):
    """A share of LLM calls answered with 529 ``overloaded_error`` (or ``status`` 429 ``rate_limit_error``).

    With our stand-in reachable (``control_url``) the errors are real HTTP
    answers from its control API; otherwise a ``reset_peer`` toxic with the
    same toxicity makes that share of connections fail.
    """

    rate: float
    control_url: str | None = None
    status: int = 529

    proxy = "llm"
    holds = "errors"  # the stand-in holds one fault setting at a time

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        if self.control_url:
            body = {"error_rate": self.rate, "status": self.status, "retry_after_s": 0}
            resp = httpx.put(f"{self.control_url}/_standin/faults", json=body, timeout=5)
            resp.raise_for_status()
            return {"proxy": "llm", "toxic": None, "detail": {"standin_faults": body}}
        toxic = client.add_toxic("llm", "reset_peer", {"timeout": 0}, name=self.named("llm_errors"),
                                 toxicity=self.rate)
        return {"proxy": "llm", "toxic": toxic["name"], "detail": toxic}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        if self.control_url:
            resp = httpx.delete(f"{self.control_url}/_standin/faults", timeout=5)
            resp.raise_for_status()
            return {"proxy": "llm", "toxic": None, "detail": {"standin_faults": None}}
        client.remove_toxic("llm", self.named("llm_errors"))
        return {"proxy": "llm", "toxic": self.named("llm_errors")}

    def describe(self) -> str:
        what = "throttled" if self.status == 429 else "errors"
        return f"llm {what} {self.rate:.0%} ({self.status})"

    def bind(self, components: dict[str, Component]) -> None:
        llm = components.get("llm")
        if llm is not None and llm.backend == "anthropic-standin":
            self.control_url = llm.url

    def effect(self) -> dict[str, Any]:
        return {"errors": self.rate, "status": self.status}
