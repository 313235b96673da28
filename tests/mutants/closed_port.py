"""Nothing listens on the target port: the run must abort at its preflight, fast."""

from __future__ import annotations

from tests.mutants.base import Mutant

MUTANT = Mutant(
    name="closed_port",
    breaks="no service at all: connections to the target are refused",
    must_fail=("requests.early_abort",),
    listens=False,
    max_seconds=15.0,
)
