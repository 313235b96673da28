"""Stores each turn with its intent blanked: the text round-trips, the design's ``intent`` attribute does not."""

from __future__ import annotations

from typing import Any

import reference_service.memory.dynamo as dynamo
from tests.mutants.base import Mutant


def _install() -> None:
    honest = dynamo.turn_to_item

    def without_intent(turn: Any) -> dict[str, Any]:
        item = honest(turn)
        item["intent"] = {"S": ""}  # DynamoStore.put reads the module global at call time
        return item

    dynamo.turn_to_item = without_intent


MUTANT = Mutant(
    name="blank_intent",
    breaks="every stored turn has an empty intent (message, reply, ttl and key intact)",
    must_fail=("durability.content",),
    install=_install,
)
