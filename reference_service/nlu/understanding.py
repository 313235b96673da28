"""Turn a message plus loaded history into an :class:`Understanding`.

This is the design's steps 3 and 4 ("classify intent with context", "resolve
references using history") done together, because each needs the other: the
intent of "What about the second one?" depends on whether "the second one"
resolves to a product, and "Is it available for Kindle?" must name the product
"it" stands for in the query that retrieval and the model see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reference_service.nlu.catalog import Doc, load_catalog
from reference_service.nlu.intent import ask_format as detect_format
from reference_service.nlu.intent import classify
from reference_service.nlu.resolver import Reference, find_reference, parse_list, resolve
from reference_service.nlu.retrieval import get_index
from reference_service.turns import Turn


@dataclass(frozen=True)
class Understanding:
    """What the service understood of one message (see "Prompt format" in docs/contracts.md)."""

    message: str
    intent: str
    resolved_query: str
    focus_id: str | None = None
    ask_format: str | None = None
    unresolved_reference: str | None = None
    needs_context: bool = False
    reference: str | None = None  # the referring phrase, resolved or not
    resolved_from_turn: int | None = None  # history turn the reference was resolved against
    tags: tuple[str, ...] = ()  # catalog tags the message names
    exclude_title_ids: tuple[str, ...] = field(default_factory=tuple)  # already-listed titles


def _query_for(intent: str, doc: Doc, fmt: str | None) -> str:
    if intent == "availability":
        if fmt == "kindle":
            return f"Is {doc.label} available for Kindle?"
        if fmt == "print":
            return f"Is {doc.label} available in print?"
        return f"Is {doc.label} available?"
    return f"Tell me more about {doc.label}"


def understand(message: str, history: Sequence[Turn]) -> Understanding:
    """Classify and resolve ``message`` against ``history`` (any order, any length)."""
    catalog = load_catalog()
    text = message.strip()
    fmt = detect_format(text)
    tags = tuple(get_index().query_tags(text))
    mentions = catalog.mentions(text)
    reference: Reference | None = find_reference(text)
    if reference is not None and reference.kind != "ordinal" and mentions:
        reference = None  # "Is Berserk on Kindle?" - "it"-style words are not needed
    if (
        reference is not None
        and reference.kind == "pronoun"
        and reference.phrase.lower() in ("that", "this")
        and tags
        and not mentions
    ):
        reference = None  # "I like that kind of dark fantasy" - not a product reference

    focus: Doc | None = None
    unresolved: str | None = None
    from_turn: int | None = None
    if reference is not None:
        resolution = resolve(reference, history, catalog)
        focus, from_turn = resolution.doc, resolution.turn_number
        if focus is None:
            unresolved = reference.phrase
    elif mentions:
        first = mentions[0]
        focus = first.doc
        keyword = catalog.edition_keyword(text)
        if not first.explicit_edition and keyword is not None:
            focus = first.title.edition_matching(keyword) or focus

    intent = classify(
        text,
        history,
        has_subject=focus is not None,
        has_tags=bool(tags),
        is_reference=reference is not None,
        has_list=lambda: any(parse_list(t.assistant_reply, catalog) for t in history),
    )

    exclude: tuple[str, ...] = ()
    resolved_query = text
    if intent == "recommendation":
        if not tags and not mentions and reference is None:
            # "Any others?" continues the previous recommendation without its titles.
            for turn in sorted(history, key=lambda t: t.turn_number, reverse=True):
                items = parse_list(turn.assistant_reply, catalog)
                if items:
                    resolved_query = turn.user_message
                    tags = tuple(get_index().query_tags(resolved_query))
                    exclude = tuple(d.title_id for _, d in items if d is not None)
                    break
        elif mentions:
            exclude = tuple(m.title.id for m in mentions)
        focus = None
    elif focus is not None:
        resolved_query = _query_for(intent, focus, fmt)

    return Understanding(
        message=text,
        intent=intent,
        resolved_query=resolved_query,
        focus_id=None if focus is None else focus.id,
        ask_format=fmt if intent == "availability" else None,
        unresolved_reference=unresolved,
        needs_context=reference is not None,
        reference=None if reference is None else reference.phrase,
        resolved_from_turn=from_turn,
        tags=tags,
        exclude_title_ids=exclude,
    )
