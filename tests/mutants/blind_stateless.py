"""The service's telemetry under-reports stateless turns: each chat event says level 0, full memory.

The replies stay honest (users see the stateless notice), so the users are
served as the design says; only the metric the stateless-sessions alarm watches
lies, and the alarm stays silent while more than 1 % of sessions go stateless.
Run with DynamoDB and Redis both down, where the design goes stateless.
"""

from __future__ import annotations

from typing import Any

from reference_service.events import EventLog
from tests.mutants.base import Mutant


def _install() -> None:
    emit = EventLog.emit

    def blind(self: EventLog, event: str, **fields: Any) -> None:
        if event == "chat":
            fields.update(level=0, memory_mode="full")
        emit(self, event, **fields)

    EventLog.emit = blind  # type: ignore[method-assign]


MUTANT = Mutant(
    name="blind_stateless",
    breaks="chat events always claim level 0: the stateless alarm's metric hides stateless sessions",
    must_fail=("alarms.stateless.fires",),
    install=_install,
    fault=("--dynamo-down", "--redis-down"),
)
