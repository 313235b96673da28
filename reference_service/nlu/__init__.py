"""The reference service's language layer.

Everything between "a message arrived with some history" and "here is the
request for the LLM": intent classification with context, cross-turn
reference resolution, retrieval over a real manga catalog, and a prompt that
obeys the design's token budget. It is deterministic end to end so that the
harness can tell a memory failure ("the second one" unresolved) from noise.

Usage by the service::

    u = understand(message, history)
    docs = retrieve(u, k=5)
    prompt = build_prompt(history, u, docs)
"""

from __future__ import annotations

from reference_service.nlu.catalog import Catalog, Doc, Title, load_catalog
from reference_service.nlu.intent import INTENTS
from reference_service.nlu.prompt import (
    CONTEXT_BUDGET,
    HISTORY_BUDGET,
    MAX_TOKENS,
    SYSTEM_BUDGET,
    SYSTEM_PROMPT,
    USER_BUDGET,
    Prompt,
    build_prompt,
    normalize_messages,
)
from reference_service.nlu.retrieval import retrieve
from reference_service.nlu.tokens import count_tokens, truncate_to_tokens
from reference_service.nlu.understanding import Understanding, understand

STATELESS_NOTICE = (
    "I'm having a brief technical hiccup with my memory. I can still help you! What were you looking for?"
)
"""The design's level-2 user message, verbatim."""

CONTEXT_LOST_NOTICE = "I've lost our conversation context. Could you briefly remind me what we were discussing?"
"""The design's "lost context" message, verbatim."""

CLARIFY_TEMPLATE = "I'm sorry, I don't understand what you mean by '{phrase}'."
"""The design's no-memory reply; format with ``phrase=u.unresolved_reference``."""

__all__ = [
    "CLARIFY_TEMPLATE",
    "CONTEXT_BUDGET",
    "CONTEXT_LOST_NOTICE",
    "HISTORY_BUDGET",
    "INTENTS",
    "MAX_TOKENS",
    "STATELESS_NOTICE",
    "SYSTEM_BUDGET",
    "SYSTEM_PROMPT",
    "USER_BUDGET",
    "Catalog",
    "Doc",
    "Prompt",
    "Title",
    "Understanding",
    "build_prompt",
    "count_tokens",
    "load_catalog",
    "normalize_messages",
    "retrieve",
    "truncate_to_tokens",
    "understand",
]
