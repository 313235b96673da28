"""A share of DynamoDB calls answered with a DynamoDB error: throttling or an internal error.

A TCP proxy cannot forge these HTTP answers, so the fault uses the control API
of our DynamoDB stand-in (``harness/standins/dynamo_faults.py``). Against any
other DynamoDB (dynalite, a URL, real AWS) it refuses to start rather than
inject something else under the same name.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from harness.chaos.faults.base import Fault
from harness.chaos.target import PROBED_STANDIN
from harness.state import Component
from harness.toxiclient import ToxiproxyClient

STANDIN_BACKENDS = {"moto-indexed", "moto", PROBED_STANDIN}  # the last: probed behind a --target


class NoControlApi(RuntimeError):
    """The DynamoDB in use is not our stand-in, so its answers cannot be forged."""


class StandinFault(Fault):
    """A DynamoDB fault set through our stand-in's control API: PUT the fault, DELETE it to roll back.

    Subclasses are dataclasses with a ``control_url`` field (``None`` until :meth:`bind`)
    and say what they ask the stand-in for (:meth:`body`) and, for the refusal, what they
    are (:meth:`needs`).
    """

    proxy = "dynamodb"
    holds = "errors"  # the stand-in holds one fault setting at a time
    control_url: str | None

    @abstractmethod
    def body(self) -> dict[str, Any]:
        """The control API's fault, as PUT."""

    @abstractmethod
    def needs(self) -> str:
        """What this fault is, for the refusal on a DynamoDB that is not the stand-in."""

    def bind(self, components: dict[str, Component]) -> None:
        dynamodb = components.get("dynamodb")
        if dynamodb is None or dynamodb.backend not in STANDIN_BACKENDS:
            backend = dynamodb.backend if dynamodb else "not known: --target"
            raise NoControlApi(f"{self.needs()} need the embedded DynamoDB stand-in "
                               f"(this stack's DynamoDB is {backend})")
        self.control_url = dynamodb.url

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client  # API answers, not a toxic
        body = self.body()
        resp = httpx.put(f"{self.control_url}/_standin/faults", json=body, timeout=5)
        resp.raise_for_status()
        return {"proxy": "dynamodb", "toxic": None, "detail": {"standin_faults": body}}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client
        if not self.control_url:
            return {"proxy": "dynamodb", "toxic": None, "detail": {"standin_faults": None}}
        resp = httpx.delete(f"{self.control_url}/_standin/faults", timeout=5)
        resp.raise_for_status()
        return {"proxy": "dynamodb", "toxic": None, "detail": {"standin_faults": None, "counts": resp.json()}}


@dataclass
class DynamoErrorFault(StandinFault):
    """``rate`` of DynamoDB calls answered with ``code`` (exact share, deterministic order)."""

    rate: float
    code: str = "ProvisionedThroughputExceededException"
    control_url: str | None = None

    def needs(self) -> str:
        return f"DynamoDB {self.code} answers"

    def body(self) -> dict[str, Any]:
        return {"error_rate": self.rate, "code": self.code}

    def describe(self) -> str:
        return f"dynamodb {self.code} on {self.rate:.0%} of calls"

    def effect(self) -> dict[str, Any]:
        return {"errors": self.rate, "error_code": self.code}
