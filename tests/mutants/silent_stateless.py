"""Stateless replies drop the design's notice: the user is never told their context is gone.

Memory degrades as the design says (level 2: DynamoDB down, Redis empty) and
``debug_metadata`` stays honest, but the reply text omits "I'm having a brief
technical hiccup with my memory...", so a user cannot tell a forgetful answer
from a confused one. Run with DynamoDB down and Redis restarted empty.
"""

from __future__ import annotations

from typing import Any

from reference_service.nlu import CONTEXT_LOST_NOTICE, STATELESS_NOTICE
from tests.mutants.base import Mutant, rewrite_chat


async def _silence(status: int, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
    meta = body.get("debug_metadata") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(meta, dict) and meta.get("memory_mode") == "stateless":
        text = str(body.get("response", ""))
        for notice in (STATELESS_NOTICE, CONTEXT_LOST_NOTICE):
            text = text.replace(notice, "")
        body["response"] = text.strip() or "Happy to help. What are you looking for?"
    return status, body


MUTANT = Mutant(
    name="silent_stateless",
    breaks="stateless replies omit the design's notice (memory degrades honestly in debug_metadata only)",
    must_fail=("correctness.fault.stateless_notice",),
    wrap=rewrite_chat(_silence),
    # Level 2 needs a reachable but empty Redis while DynamoDB fails; with both
    # stores down the design is at level 3, which it does not hold to the notice.
    fault=("--dynamo-down", "--redis-flush"),
)
