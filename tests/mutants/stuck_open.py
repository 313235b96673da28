"""A successful half-open probe re-opens the breaker instead of closing it: it never closes again."""

from __future__ import annotations

from reference_service.memory.breaker import CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    record = CircuitBreaker._record_success

    def never_close(self: CircuitBreaker, epoch: int, probe: bool) -> None:
        if probe:
            self._record_failure(epoch, probe)  # logs the probe as failed and re-opens
            return
        record(self, epoch, probe)

    CircuitBreaker._record_success = never_close  # type: ignore[method-assign]


MUTANT = Mutant(
    name="stuck_open",
    breaks="breaker never closes after the fault: every successful probe is treated as a failure",
    must_fail=("breaker.closed_after_recovery",),
    install=_install,
)
