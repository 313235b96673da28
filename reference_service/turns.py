"""The conversation turn: one user message and the assistant's reply.

This is the unit both stores hold (a DynamoDB item in ``ChatSessions``, a JSON
entry in the Redis list) and the unit the language layer reads history in.
It lives in its own module so that the memory layer and the language layer
share it without importing each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

TTL_SECONDS = 86_400
"""Items live 24 h (the design's ``ttl = now + 86400``)."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange, with exactly the attributes of the ``ChatSessions`` schema."""

    session_id: str
    turn_number: int
    customer_id: str | None
    timestamp: int
    user_message: str
    assistant_reply: str
    intent: str
    ttl: int

    def to_json(self) -> str:
        """Serialise for the Redis hot path."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Turn:
        """Parse what :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        """Build from a plain mapping (a deserialised DynamoDB item or JSON)."""
        customer = data.get("customer_id")
        return cls(
            session_id=str(data["session_id"]),
            turn_number=int(data["turn_number"]),
            customer_id=None if customer in (None, "") else str(customer),
            timestamp=int(data["timestamp"]),
            user_message=str(data["user_message"]),
            assistant_reply=str(data["assistant_reply"]),
            intent=str(data["intent"]),
            ttl=int(data["ttl"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping of the schema's attributes."""
        return asdict(self)
