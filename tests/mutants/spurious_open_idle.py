"""``spurious_open``'s breaker in a run with no fault at all: nothing may open it."""

from __future__ import annotations

from dataclasses import replace

from tests.mutants.spurious_open import MUTANT as SPURIOUS

MUTANT = replace(
    SPURIOUS,
    name="spurious_open_idle",
    breaks="breaker opens with no failed call (after its 50th call), in a run without any fault",
    must_fail=("breaker.stays_closed_without_fault", "alarms.circuit_open.baseline_silent"),
    fault=(),
)
