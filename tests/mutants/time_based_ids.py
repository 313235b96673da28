"""Session ids are UUIDv1 (time and host based) instead of the design's random UUIDv4.

Guessable ids, and keys that cluster in time: the partition analyzer's UUIDv4 check must say so.
"""

from __future__ import annotations

import uuid

from reference_service.sessions import SessionCodec
from tests.mutants.base import Mutant


def _install() -> None:
    SessionCodec.new_id = staticmethod(lambda: str(uuid.uuid1()))  # type: ignore[method-assign]


MUTANT = Mutant(
    name="time_based_ids",
    breaks="session ids are UUIDv1 (time-based, guessable), not UUIDv4",
    must_fail=("partitions.uuid4_keys",),
    install=_install,
)
