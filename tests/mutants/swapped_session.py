"""One reply in fifty names a session other than the one the client's cookie holds."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from tests.mutants.base import Mutant, rewrite_chat

_count = itertools.count(1)


async def _swap(status: int, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
    if status == 200 and body is not None and next(_count) % 50 == 0:
        body = {**body, "session_id": str(uuid.uuid4())}
    return status, body


MUTANT = Mutant(
    name="swapped_session",
    breaks="2 % of replies carry another session's id (a cross-talk bug between users)",
    must_fail=("durability.session_identity", "correctness.session_identity"),
    wrap=rewrite_chat(_swap),
)
