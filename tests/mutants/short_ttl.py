"""Items expire 1 h after they are written instead of the design's 24 h (``ttl`` = timestamp + 3600)."""

from __future__ import annotations

import reference_service.memory.writer as writer
from tests.mutants.base import Mutant


def _install() -> None:
    writer.TTL_SECONDS = 3600  # make_turn reads the module global at call time


MUTANT = Mutant(
    name="short_ttl",
    breaks="ttl is timestamp + 1 h, not + 24 h: conversations vanish after an hour",
    must_fail=("durability.ttl_24h",),
    install=_install,
)
