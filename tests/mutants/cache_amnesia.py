"""Loses the history while claiming ``memory_mode: cache_only`` -- an excuse, not a degradation.

Every turn is answered at level 1 ("Redis only") with no turns at all, while
DynamoDB and Redis are both healthy. A reference to the turn before lies inside
the Redis window that ``cache_only`` claims to hold, so the unresolved answer
is wrong, not honestly degraded.
"""

from __future__ import annotations

from reference_service.memory.history import HardenedHistory, HistoryResult
from tests.mutants.base import Mutant


def _install() -> None:
    load = HardenedHistory.load

    async def excuse(self: HardenedHistory, session_id: str) -> HistoryResult:
        real = await load(self, session_id)
        return HistoryResult([], level=1, reason="dynamodb_timeout", source="redis",
                             max_turn_seen=real.max_turn_seen)

    HardenedHistory.load = excuse  # type: ignore[method-assign]


MUTANT = Mutant(
    name="cache_amnesia",
    breaks="history dropped under memory_mode=cache_only while DynamoDB and Redis are healthy",
    must_fail=("correctness.baseline.wrong", "correctness.recovery.wrong"),
    install=_install,
)
