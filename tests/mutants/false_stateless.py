"""One turn in ten claims ``memory_mode: stateless`` (level 2) with DynamoDB and Redis healthy.

It drops the history and shows the design's notice, as level 2 would: honest
about what it did, but the degradation has no cause, and more than 1 % of
sessions go stateless in the baseline.
"""

from __future__ import annotations

import itertools

from reference_service.memory.history import HardenedHistory, HistoryResult
from tests.mutants.base import Mutant

_count = itertools.count(1)


def _install() -> None:
    load = HardenedHistory.load

    async def flaky(self: HardenedHistory, session_id: str) -> HistoryResult:
        real = await load(self, session_id)
        if next(_count) % 10:
            return real
        return HistoryResult([], level=2, reason="dynamodb_timeout", source="none", max_turn_seen=real.max_turn_seen)

    HardenedHistory.load = flaky  # type: ignore[method-assign]


MUTANT = Mutant(
    name="false_stateless",
    breaks="10 % of turns go stateless (level 2) with every store healthy",
    must_fail=("alarms.stateless.baseline_silent",),
    install=_install,
)
