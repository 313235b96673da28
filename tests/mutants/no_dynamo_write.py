"""Turns are never written to DynamoDB, yet every reply says ``persisted: true`` (Redis still serves reads)."""

from __future__ import annotations

from reference_service.memory.dynamo import DynamoStore
from reference_service.turns import Turn
from tests.mutants.base import Mutant


def _install() -> None:
    async def pretend(self: DynamoStore, turn: Turn) -> bool:
        return True  # "the conditional put succeeded" -- nothing was sent

    DynamoStore.put_turn_if_free = pretend  # type: ignore[method-assign]


MUTANT = Mutant(
    name="no_dynamo_write",
    breaks="the DynamoDB put is skipped but reported as done: acknowledged turns are not durable",
    must_fail=("durability.no_lost_turns",),
    install=_install,
)
