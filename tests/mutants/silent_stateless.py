"""Stateless replies drop the design's notice: the user is never told their context is gone.

Memory degrades as the design says (level 2 under both stores down) and
``debug_metadata`` stays honest, but the reply text omits "I'm having a brief
technical hiccup with my memory...", so a user cannot tell a forgetful answer
from a confused one. Run with DynamoDB and Redis both down.
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
    fault=("--dynamo-down", "--redis-down"),
    # Not caught yet, and why: the hardened service reaches level 2 ("stateless")
    # only when DynamoDB fails while Redis answers with an empty window. With both
    # stores down it goes to level 3 ("fallback"), and no fault the suite can
    # inject empties a reachable Redis, so no stateless reply is ever judged
    # (measured: 34 fallback and 21 cache_only replies, 0 stateless). The design
    # asks for the notice at level 2 only, so level 3 is not held to it.
    xfail="no fault empties a reachable Redis, so the service never reaches level 2 (stateless) in a run",
)
