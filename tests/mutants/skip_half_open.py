"""An expired open breaker closes outright, with no half-open probe: an edge the spec does not have."""

from __future__ import annotations

from reference_service.memory.breaker import CLOSED, OPEN, CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    def state(self: CircuitBreaker) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.config.open_s:
            self._failures.clear()
            self._transition(CLOSED)  # open -> closed, no probe
        return self._state

    CircuitBreaker.state = property(state)  # type: ignore[assignment,method-assign]


MUTANT = Mutant(
    name="skip_half_open",
    breaks="breaker goes open -> closed after its open period, never probing in half-open",
    must_fail=("breaker.legal_transitions",),
    install=_install,
)
