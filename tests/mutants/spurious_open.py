"""The breaker opens by itself after its 50th call, with DynamoDB perfectly healthy."""

from __future__ import annotations

import itertools

from reference_service.memory.breaker import CLOSED, OPEN, CircuitBreaker
from tests.mutants.base import Mutant

_calls = itertools.count(1)


def _install() -> None:
    admit = CircuitBreaker._admit

    def jumpy(self: CircuitBreaker) -> tuple[int, bool]:
        if self.state == CLOSED and next(_calls) == 50:
            self._opened_at = self._clock()
            self._transition(OPEN)  # no failure behind it
        return admit(self)

    CircuitBreaker._admit = jumpy  # type: ignore[method-assign]


MUTANT = Mutant(
    name="spurious_open",
    breaks="breaker opens with no failed call (after its 50th call, in the baseline)",
    must_fail=("breaker.closed_before_fault", "alarms.circuit_open.baseline_silent"),
    install=_install,
)
