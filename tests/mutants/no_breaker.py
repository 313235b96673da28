"""The breaker never counts a failure, so it never opens: every call waits out its 200 ms timeout.

``/debug/memory`` still advertises the design's threshold of 5; only the
state machine is gone, so the service keeps calling a slow DynamoDB.
"""

from __future__ import annotations

from reference_service.memory.breaker import CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    def ignore(self: CircuitBreaker, epoch: int, probe: bool) -> None:
        return None

    CircuitBreaker._record_failure = ignore  # type: ignore[method-assign]


MUTANT = Mutant(
    name="no_breaker",
    breaks="breaker never opens (failures are not counted); DynamoDB keeps being called during the fault",
    must_fail=("breaker.opened_after_fault",),
    install=_install,
)
