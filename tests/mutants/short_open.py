"""The breaker half-opens after a third of its open period while ``/debug/memory`` advertises the full one."""

from __future__ import annotations

from reference_service.memory.breaker import HALF_OPEN, OPEN, CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    def state(self: CircuitBreaker) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.config.open_s / 3:
            self._transition(HALF_OPEN)
        return self._state

    CircuitBreaker.state = property(state)  # type: ignore[assignment,method-assign]


MUTANT = Mutant(
    name="short_open",
    breaks="breaker stays open 1 s of its advertised 3 s before probing",
    must_fail=("breaker.open_duration",),
    install=_install,
)
