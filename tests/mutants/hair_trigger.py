"""The breaker opens on the first failure while ``/debug/memory`` advertises a threshold of 5."""

from __future__ import annotations

from reference_service.memory.breaker import OPEN, CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    record = CircuitBreaker._record_failure

    def hair_trigger(self: CircuitBreaker, epoch: int, probe: bool) -> None:
        if probe or epoch != self._epoch or self._state != "closed":
            record(self, epoch, probe)
            return
        self._failures.append(self._clock())
        self._opened_at = self._clock()
        self._transition(OPEN)  # threshold 1, whatever the config says

    CircuitBreaker._record_failure = hair_trigger  # type: ignore[method-assign]


MUTANT = Mutant(
    name="hair_trigger",
    breaks="breaker opens on the first failed call instead of 5 within the window",
    # The wire counts failures up to 10 ms after each opening (COUNT_GRACE_S); the service's
    # breaker_transition carries failures_in_window, which breaker.logged_threshold_before_open reads.
    must_fail=(),
    must_fail_any=("breaker.wire_threshold_before_open", "breaker.logged_threshold_before_open"),
    install=_install,
)
