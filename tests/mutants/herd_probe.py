"""In half-open the breaker admits every caller as a probe, not exactly one (a thundering herd).

This is what the design's own breaker snippet and several libraries do. Each
probe's outcome moves the state, so the log and the wire both show many calls
per half-open episode.
"""

from __future__ import annotations

from reference_service.memory.breaker import HALF_OPEN, CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    admit = CircuitBreaker._admit

    def herd(self: CircuitBreaker) -> tuple[int, bool]:
        if self.state == HALF_OPEN:
            self._probe_in_flight = True
            return self._epoch, True  # ignores the probe already in flight
        return admit(self)

    CircuitBreaker._admit = herd  # type: ignore[method-assign]


MUTANT = Mutant(
    name="herd_probe",
    breaks="half-open admits every concurrent caller as a probe instead of exactly one",
    must_fail=(),
    must_fail_any=("breaker.wire_one_probe_per_half_open", "breaker.one_probe_per_half_open"),
    install=_install,
)
