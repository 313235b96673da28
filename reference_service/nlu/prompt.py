"""Build the Messages API request within the design's token budget.

The budget (design doc, "Token budget management") is enforced, not just
reported: system 500; history 3,000, keeping the *newest* whole turns so a user
message never loses its reply; retrieved context 2,500, keeping the best docs
that fit; the user's words in ``<message>`` cut to 100; response 1,000
(``max_tokens``). History becomes alternating user/assistant messages and the
final user message is the tagged block of the Prompt format section of
docs/contracts.md that the LLM stand-in parses; :func:`normalize_messages`
keeps the list starting with a user message and alternating, as the Messages
API requires, even for odd histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from reference_service.nlu.catalog import Doc
from reference_service.nlu.resolver import chronological
from reference_service.nlu.tokens import count_tokens, truncate_to_tokens
from reference_service.nlu.understanding import Understanding
from reference_service.turns import Turn

SYSTEM_BUDGET = 500
HISTORY_BUDGET = 3000
USER_BUDGET = 100
CONTEXT_BUDGET = 2500  # the design's "RAG retrieved context: ~2,500" tokens
MAX_TOKENS = 1000

SYSTEM_PROMPT = (
    "You are the shopping assistant of an online manga store. Help customers find manga, "
    "compare editions and check formats and prices. Answer only from the documents in "
    "<context>; never invent titles, editions, formats or prices. The final user message "
    "carries tags: <intent> is what the customer wants, <resolved_query> restates the "
    "question with references to earlier turns already resolved, <focus> is the id of the "
    "product being discussed and <ask_format> the format asked about. <message> holds the "
    "customer's own words. For a recommendation, list your top picks as (1) A, (2) B, (3) C "
    "so the customer can refer to them by number. If a reference cannot be resolved, ask "
    "what the customer means instead of guessing. Be brief, friendly and factual."
)


@dataclass(frozen=True)
class Prompt:
    """A ready ``messages.create`` request body (minus model) and its token accounting."""

    system: str
    messages: list[dict[str, Any]]
    max_tokens: int
    token_counts: dict[str, int]
    docs: list[Doc] = field(default_factory=list)  # the docs that made it into <context>
    history_turns_used: int = 0
    history_turns_dropped: int = 0

    def request(self, model: str) -> dict[str, Any]:
        """Keyword arguments for ``AsyncAnthropic().messages.create``."""
        return {"model": model, "max_tokens": self.max_tokens, "system": self.system, "messages": self.messages}


def _attr(value: str) -> str:
    return escape(value, quote=True)


def fit_budget(docs: list[Doc], budget: int = CONTEXT_BUDGET) -> list[Doc]:
    """The longest prefix of ``docs`` whose ``<doc>`` elements fit in ``budget`` tokens."""
    out: list[Doc] = []
    used = count_tokens("<context>\n</context>")
    for doc in docs:
        cost = count_tokens(render_doc(doc)) + 1
        if used + cost > budget:
            break
        out.append(doc)
        used += cost
    return out


def render_doc(doc: Doc) -> str:
    """One ``<doc>`` element (attribute values and text XML-escaped)."""
    return (
        f'<doc id="{_attr(doc.id)}" title="{_attr(doc.title)}" edition="{_attr(doc.edition)}" '
        f'formats="{_attr(",".join(doc.formats))}" price="{doc.price:.2f}">{escape(doc.text, quote=False)}</doc>'
    )


def render_final(u: Understanding, docs: Sequence[Doc], message: str) -> str:
    """The tagged final user message ("Prompt format" in docs/contracts.md; empty optional tags omitted)."""
    lines: list[str] = []
    if docs:
        lines.append("<context>")
        lines.extend(render_doc(d) for d in docs)
        lines.append("</context>")
    lines.append(f"<intent>{escape(u.intent, quote=False)}</intent>")
    if u.resolved_query:
        lines.append(f"<resolved_query>{escape(u.resolved_query, quote=False)}</resolved_query>")
    if u.focus_id:
        lines.append(f"<focus>{escape(u.focus_id, quote=False)}</focus>")
    if u.ask_format:
        lines.append(f"<ask_format>{escape(u.ask_format, quote=False)}</ask_format>")
    lines.append(f"<message>{escape(message, quote=False)}</message>")
    return "\n".join(lines)


def turn_tokens(turn: Turn) -> int:
    """Tokens one history turn costs (its user and assistant messages)."""
    return count_tokens(turn.user_message) + count_tokens(turn.assistant_reply)


def window_history(history: Sequence[Turn], budget: int = HISTORY_BUDGET) -> tuple[list[Turn], int]:
    """The newest usable turns whose total fits ``budget``; returns (turns, dropped count).

    Turns with an empty user message or reply are skipped (the API rejects
    empty content); they are not counted as dropped for budget.
    """
    usable = [t for t in chronological(history) if t.user_message.strip() and t.assistant_reply.strip()]
    kept: list[Turn] = []
    used = 0
    for turn in reversed(usable):
        cost = turn_tokens(turn)
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    return kept, len(usable) - len(kept)


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make a message list valid for the Messages API.

    Drops empty messages, merges consecutive messages of the same role, and
    drops leading assistant messages so the list starts with a user turn.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            continue
        if out and out[-1]["role"] == message["role"]:
            out[-1] = {"role": message["role"], "content": out[-1]["content"] + "\n\n" + content}
        else:
            out.append({"role": message["role"], "content": content})
    while out and out[0]["role"] != "user":
        out.pop(0)
    return out


def build_prompt(history: Sequence[Turn], u: Understanding, docs: Sequence[Doc]) -> Prompt:
    """Assemble system prompt, windowed history and the tagged final message."""
    system = truncate_to_tokens(SYSTEM_PROMPT, SYSTEM_BUDGET)
    kept, dropped = window_history(history)
    history_messages: list[dict[str, Any]] = []
    for turn in kept:
        history_messages.append({"role": "user", "content": turn.user_message})
        history_messages.append({"role": "assistant", "content": turn.assistant_reply})
    context_docs = fit_budget(list(docs), CONTEXT_BUDGET)
    message = truncate_to_tokens(u.message, USER_BUDGET)
    final = render_final(u, context_docs, message)
    messages = normalize_messages([*history_messages, {"role": "user", "content": final}])
    context_tokens = count_tokens("\n".join(["<context>", *map(render_doc, context_docs), "</context>"]))
    counts = {
        "system": count_tokens(system),
        "history": sum(turn_tokens(t) for t in kept),
        "context": context_tokens if context_docs else 0,
        "user": count_tokens(message),
        "response": MAX_TOKENS,
        "final_message": count_tokens(final),
    }
    counts["total"] = counts["system"] + counts["history"] + counts["final_message"] + counts["response"]
    return Prompt(
        system=system,
        messages=messages,
        max_tokens=MAX_TOKENS,
        token_counts=counts,
        docs=context_docs,
        history_turns_used=len(kept),
        history_turns_dropped=dropped,
    )
