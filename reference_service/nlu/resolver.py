"""Cross-turn reference resolution: "the second one", "it", "the deluxe one".

Without memory these phrases are unanswerable (the design's "I'm sorry, I
don't understand what you mean by 'the second one'"); with memory they resolve
against the assistant's earlier turns. Ordinals index the numbered list
``(1) A, (2) B, (3) C`` of the most recent list-bearing turn, scanning *all*
loaded history, so a list five or more turns back is still found and a newer
recommendation replaces an older one; pronouns and "that one" mean the most
recently mentioned product; "the deluxe one" picks that edition of the most
recent title that has one. Anything unresolved is reported with the exact
referring phrase so the service can ask for clarification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reference_service.nlu.catalog import EDITION_KEYWORDS, Catalog, Doc, load_catalog
from reference_service.turns import Turn

_ORD_WORDS: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
    "final": -1,
}
_NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
}
_ORD = "|".join(sorted(_ORD_WORDS, key=len, reverse=True))
_NOUN = r"one|option|title|pick|choice|recommendation|suggestion|series|book|manga"
_VERB = r"mentioned|suggested|recommended|listed|said|named"
_ORDINAL_RES = (
    re.compile(rf"\b(?:the|that)\s+(?P<ord>{_ORD})\s+(?:{_NOUN})(?:\s+(?:that\s+)?you\s+(?:{_VERB}))?\b"),
    re.compile(rf"^(?P<ord>{_ORD})\s+one\b"),
    re.compile(rf"\bthe\s+(?P<ord>{_ORD})(?=\s*(?:[?.!,;:]|$))"),
    re.compile(r"(?:\bnumber\s+|\bno\.\s*|#)(?P<num>one|two|three|four|five|[1-5])\b"),
)
_EDITION_ALT = "|".join(
    re.escape(k) for k in sorted(EDITION_KEYWORDS, key=len, reverse=True) if not k.endswith("edition")
)
_EDITION_ONE_RE = re.compile(rf"\b(?:the|that|this)\s+(?P<kw>{_EDITION_ALT})(?:'s)?\s+(?:one|version|edition)\b")
_THAT_ONE_RE = re.compile(r"\b(?:that|this)\s+one\b")
_PRONOUN_RE = re.compile(r"\b(it|its|that|this|them|they|those|these)\b")
_TELL_MORE_RE = re.compile(r"^\s*(?:tell me more|more details|more info|go on)\b")
_LIST_MARK_RE = re.compile(r"\((\d{1,2})\)\s+")


@dataclass(frozen=True)
class Reference:
    """A referring phrase found in a message."""

    kind: str  # "ordinal" | "edition" | "that_one" | "pronoun"
    phrase: str
    index: int | None = None  # 1-based list position, -1 = last
    edition: str | None = None  # edition-name fragment for kind "edition"


@dataclass(frozen=True)
class Resolution:
    """What a reference points at; ``doc`` is None when it could not be resolved."""

    reference: Reference
    doc: Doc | None
    name: str | None  # the item's name even when it is not in the catalog
    turn_number: int | None  # the history turn it was resolved against


def find_reference(message: str) -> Reference | None:
    """The referring phrase in ``message`` (ordinal > edition > "that one" > pronoun)."""
    low = message.lower().strip()
    for pattern in _ORDINAL_RES:
        match = pattern.search(low)
        if match is not None:
            if match.groupdict().get("num"):
                index = _NUMBER_WORDS[match.group("num")]
            else:
                index = _ORD_WORDS[match.group("ord")]
            return Reference("ordinal", message.strip()[match.start() : match.end()], index=index)
    match = _EDITION_ONE_RE.search(low)
    if match is not None:
        return Reference(
            "edition", message.strip()[match.start() : match.end()], edition=EDITION_KEYWORDS[match.group("kw")]
        )
    match = _THAT_ONE_RE.search(low)
    if match is not None:
        return Reference("that_one", message.strip()[match.start() : match.end()])
    match = _PRONOUN_RE.search(low)
    if match is not None:
        return Reference("pronoun", message.strip()[match.start() : match.end()])
    match = _TELL_MORE_RE.search(low)
    if match is not None:
        return Reference("pronoun", message.strip()[match.start() : match.end()])
    return None


def chronological(history: Sequence[Turn]) -> list[Turn]:
    """History sorted by turn number (stores may return newest first)."""
    return sorted(history, key=lambda t: t.turn_number)


def parse_list(reply: str, catalog: Catalog | None = None) -> list[tuple[str, Doc | None]]:
    """The numbered items ``(1) A, (2) B, ...`` of a reply, in order; [] if none.

    Each item is matched against catalog titles first (titles may contain
    commas or full stops, e.g. "Dr. Stone"), else taken up to the next
    ", (n)" or sentence end.
    """
    catalog = catalog or load_catalog()
    marks = list(_LIST_MARK_RE.finditer(reply))
    items: list[tuple[str, Doc | None]] = []
    expected = 1
    for i, mark in enumerate(marks):
        if int(mark.group(1)) != expected:
            if items:
                break
            continue
        expected += 1
        end = marks[i + 1].start() if i + 1 < len(marks) else len(reply)
        segment = reply[mark.end() : end]
        mentions = [m for m in catalog.mentions(segment) if m.start == 0]
        if mentions:
            m = mentions[0]
            items.append((m.doc.label, m.doc))
            continue
        name = re.split(r",\s*$|\.\s|\.$|,\s*\(", segment.strip(), maxsplit=1)[0].strip().rstrip(",.")
        items.append((name, None))
    return items


def last_mentioned(history: Sequence[Turn], catalog: Catalog | None = None) -> list[tuple[Doc, int]]:
    """Products mentioned in history, newest turn first (within a turn: reply first, by position)."""
    catalog = catalog or load_catalog()
    out: list[tuple[Doc, int]] = []
    for turn in reversed(chronological(history)):
        for mention in catalog.mentions(turn.assistant_reply):
            out.append((mention.doc, turn.turn_number))
        keyword = catalog.edition_keyword(turn.user_message)
        for mention in catalog.mentions(turn.user_message):
            doc = mention.doc
            if not mention.explicit_edition and keyword is not None:
                doc = mention.title.edition_matching(keyword) or doc
            out.append((doc, turn.turn_number))
    return out


def resolve(reference: Reference, history: Sequence[Turn], catalog: Catalog | None = None) -> Resolution:
    """Resolve ``reference`` against ``history`` (any order; up to all loaded turns)."""
    catalog = catalog or load_catalog()
    if reference.kind == "ordinal":
        for turn in reversed(chronological(history)):
            items = parse_list(turn.assistant_reply, catalog)
            if not items:
                continue
            index = reference.index or 0
            if index == -1:
                index = len(items)
            if 1 <= index <= len(items):
                name, doc = items[index - 1]
                return Resolution(reference, doc, name, turn.turn_number)
            return Resolution(reference, None, None, turn.turn_number)
        return Resolution(reference, None, None, None)
    mentioned = last_mentioned(history, catalog)
    if reference.kind == "edition":
        fragment = reference.edition if reference.edition is not None else ""
        for doc, turn_number in mentioned:
            picked = catalog.title_of(doc).edition_matching(fragment)
            if picked is not None:
                return Resolution(reference, picked, picked.label, turn_number)
        return Resolution(reference, None, None, None)
    if mentioned:
        doc, turn_number = mentioned[0]
        return Resolution(reference, doc, doc.label, turn_number)
    return Resolution(reference, None, None, None)
