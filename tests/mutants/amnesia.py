"""Reads the history, then answers as if there were none -- while still claiming ``memory_mode: full``."""

from __future__ import annotations

from reference_service.memory.history import HardenedHistory, HistoryResult
from tests.mutants.base import Mutant


def _install() -> None:
    load = HardenedHistory.load

    async def forgetful(self: HardenedHistory, session_id: str) -> HistoryResult:
        real = await load(self, session_id)
        # same level, reason, source and turn numbering: only the turns are dropped
        return HistoryResult([], level=real.level, reason=real.reason, source=real.source,
                             max_turn_seen=real.max_turn_seen)

    HardenedHistory.load = forgetful  # type: ignore[method-assign]


MUTANT = Mutant(
    name="amnesia",
    breaks="history is read but not used: 'the second one' goes unresolved under memory_mode=full",
    must_fail=("correctness.baseline.wrong", "correctness.recovery.wrong"),
    install=_install,
)
