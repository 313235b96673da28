"""Deterministic reply composer for the LLM stand-in.

The harness measures the *memory* path, not a model, so the stand-in must give
the same answer for the same prompt every time, and that answer must reveal
whether the service resolved the user's reference correctly. It therefore reads
only the last user message, which ``reference_service/nlu/prompt.py`` tags per
docs/contracts.md, "Prompt format and the LLM stand-in" (``<context>``, ``<intent>``, ``<resolved_query>``,
``<focus>``, ``<ask_format>``, ``<message>``), and writes a reply from those
tags alone: a scenario can check "the second one" became Vinland Saga by looking
for "Vinland Saga" in the reply.

The composer never raises on odd input: an untagged or empty message gets the
generic help sentence, since the real model would also answer something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

GENERIC_REPLY = "I can help you find manga, compare editions and check formats."
"""Reply for intent ``other``, for unknown intents and when no docs were retrieved."""

STANDARD_EDITION = "Standard Edition"

_DOC_RE = re.compile(r"<doc\b([^>]*)>(.*?)</doc>", re.DOTALL)
_ATTR_RE = re.compile(r'([A-Za-z_][\w-]*)="([^"]*)"')
_SENTENCE_END_RE = re.compile(r"([.!?])\s+(?=[A-Z0-9\"'(])")
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "st", "vol", "vs", "no", "jr", "sr", "mt"})


@dataclass(frozen=True, slots=True)
class ContextDoc:
    """One ``<doc>`` element of the ``<context>`` block."""

    id: str
    title: str
    edition: str
    formats: tuple[str, ...]
    price: float | None
    text: str

    @property
    def label(self) -> str:
        """``Title`` or ``Title Edition`` (the edition is omitted when standard)."""
        if not self.edition or self.edition == STANDARD_EDITION:
            return self.title
        return f"{self.title} {self.edition}"


@dataclass(frozen=True, slots=True)
class TaggedMessage:
    """The parsed final user message."""

    docs: tuple[ContextDoc, ...]
    intent: str
    resolved_query: str
    focus: str | None
    ask_format: str | None
    message: str


def message_text(content: Any) -> str:
    """Flatten Anthropic message content (a string or a list of blocks) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, str):
                parts.append(block)
        return "".join(parts)
    return ""


def _tag(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>", text, re.DOTALL)
    if match is None:
        return None
    return unescape(match.group(1)).strip()


def _price(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def parse_tagged(text: str) -> TaggedMessage:
    """Parse the tagged message ("Prompt format" in docs/contracts.md); missing tags become empty/None."""
    docs: list[ContextDoc] = []
    context = re.search(r"<context>(.*?)</context>", text, re.DOTALL)
    if context is not None:
        for match in _DOC_RE.finditer(context.group(1)):
            attrs = {k: unescape(v) for k, v in _ATTR_RE.findall(match.group(1))}
            formats = tuple(f.strip().lower() for f in attrs.get("formats", "").split(",") if f.strip())
            docs.append(
                ContextDoc(
                    id=attrs.get("id", ""),
                    title=attrs.get("title", ""),
                    edition=attrs.get("edition", ""),
                    formats=formats,
                    price=_price(attrs.get("price")),
                    text=unescape(match.group(2)).strip(),
                )
            )
    return TaggedMessage(
        docs=tuple(docs),
        intent=(_tag(text, "intent") or "other").lower(),
        resolved_query=_tag(text, "resolved_query") or "",
        focus=_tag(text, "focus") or None,
        ask_format=(_tag(text, "ask_format") or "").lower() or None,
        message=_tag(text, "message") or "",
    )


def format_name(fmt: str) -> str:
    """``print`` stays lower case, ``kindle`` is written ``Kindle``."""
    return "Kindle" if fmt.lower() == "kindle" else fmt.lower()


def _join(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _money(price: float | None) -> str:
    return "$?" if price is None else f"${price:.2f}"


def first_sentence(text: str) -> str:
    """The first sentence of ``text``; "Dr. Stone" or "Monkey D. Luffy" do not end one."""
    text = " ".join(text.split())
    if not text:
        return ""
    for match in _SENTENCE_END_RE.finditer(text):
        before = re.search(r"([A-Za-z]+)$", text[: match.start()])
        word = before.group(1) if before else ""
        if match.group(1) == "." and (len(word) == 1 or word.lower() in _ABBREVIATIONS):
            continue
        return text[: match.end(1)]
    return text if text[-1] in ".!?" else text + "."


def _recommendation(docs: tuple[ContextDoc, ...]) -> str:
    picked: list[ContextDoc] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.title and doc.title not in seen:
            seen.add(doc.title)
            picked.append(doc)
        if len(picked) == 3:
            break
    if not picked:
        return GENERIC_REPLY
    listing = ", ".join(f"({i}) {doc.title}" for i, doc in enumerate(picked, start=1))
    sentences = [s for s in (first_sentence(doc.text) for doc in picked) if s]
    return " ".join([f"Here are my top {len(picked)}: {listing}.", *sentences])


def _focus_doc(tagged: TaggedMessage) -> ContextDoc:
    if tagged.focus:
        for doc in tagged.docs:
            if doc.id == tagged.focus:
                return doc
    return tagged.docs[0]


def _product_question(doc: ContextDoc) -> str:
    text = " ".join(doc.text.split())
    if text and text[-1] not in ".!?":
        text += "."
    formats = _join([format_name(f) for f in doc.formats]) or "print"
    return f"{doc.label}: {text} Available in {formats} from {_money(doc.price)}."


def _availability(doc: ContextDoc, tagged: TaggedMessage) -> str:
    ask = tagged.ask_format
    if ask is None:
        formats = _join([format_name(f) for f in doc.formats]) or "print"
        return f"Yes, {doc.label} is available in {formats} at {_money(doc.price)}."
    if ask in doc.formats:
        where = "for Kindle" if ask == "kindle" else f"in {format_name(ask)}"
        return f"Yes, {doc.label} is available {where} at {_money(doc.price)}."
    only = _join([format_name(f) for f in doc.formats]) or "print"
    only_phrase = "on Kindle" if doc.formats == ("kindle",) else f"in {only}"
    reply = f"{doc.label} is only available {only_phrase}."
    sibling = next(
        (d for d in tagged.docs if d.id != doc.id and d.title == doc.title and ask in d.formats),
        None,
    )
    if sibling is not None:
        where = "on Kindle" if ask == "kindle" else f"in {format_name(ask)}"
        if sibling.edition in ("", STANDARD_EDITION):
            reply += f" The standard {doc.title} volumes are available {where}."
        else:
            reply += f" {sibling.label} is available {where}."
    return reply


def compose(tagged: TaggedMessage) -> str:
    """Compose the reply for an already parsed message."""
    if not tagged.docs:
        return GENERIC_REPLY
    if tagged.intent == "recommendation":
        return _recommendation(tagged.docs)
    if tagged.intent == "product_question":
        return _product_question(_focus_doc(tagged))
    if tagged.intent == "availability":
        return _availability(_focus_doc(tagged), tagged)
    return GENERIC_REPLY


def compose_reply(system: str, messages: list[dict[str, Any]]) -> str:
    """Answer deterministically from the last user message ("Prompt format and the LLM stand-in" in docs/contracts.md).

    ``system`` is accepted for signature parity with the Messages API and is
    deliberately ignored: the reply must depend only on what the service
    resolved, so that the reply is a faithful probe of the memory path.
    """
    del system
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return compose(parse_tagged(message_text(message.get("content"))))
    return GENERIC_REPLY
