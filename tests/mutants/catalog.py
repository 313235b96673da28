"""Every mutant, in the order the suite runs them (one module per mutant, each defining ``MUTANT``)."""

from __future__ import annotations

import importlib

from tests.mutants.base import Mutant

NAMES = (
    "control",
    "closed_port",
    "http_503",
    "http_503_some",
    "hang",
    "hang_some",
    "no_debug_metadata",
    "slow_tail",
    "amnesia",
    "cache_amnesia",
    "no_dynamo_write",
    "no_breaker",
    "hair_trigger",
    "leaky_open",
    "herd_probe",
    "stuck_open",
    "short_open",
    "skip_half_open",
    "short_ttl",
    "time_based_ids",
    "swapped_session",
    "spurious_open",
    "false_stateless",
    "blank_intent",
    "spurious_open_idle",
    "shared_breaker",
    "blind_stateless",
    "silent_stateless",
    "windowless",
)


def load(name: str) -> Mutant:
    """The ``MUTANT`` of ``tests/mutants/<name>.py``."""
    mutant = importlib.import_module(f"tests.mutants.{name}").MUTANT
    assert isinstance(mutant, Mutant) and mutant.name == name, name
    return mutant


def load_all() -> list[Mutant]:
    return [load(name) for name in NAMES]
