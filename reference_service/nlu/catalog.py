"""The product catalog and how text refers to it.

The catalog is a JSON file of real manga series, each with one or more
editions. Retrieval, reference resolution and the composer all talk about
*editions* (the thing with a format and a price), so every edition becomes one
:class:`Doc` whose id is the edition id. A series' first edition (normally its
Standard Edition, whose id is the series id) carries the series description;
other editions carry their own note plus the series' opening sentence.

Finding titles in free text lives here too, because both the resolver (what
did the assistant mention?) and the understanding step (did the user name a
product?) need exactly the same matching.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.json")
STANDARD_EDITION = "Standard Edition"

# Titles that are also ordinary English words: matched only when capitalised,
# so "a monster" in a description is not a mention of Naoki Urasawa's Monster.
_CASE_SENSITIVE = frozenset({"monster", "pluto", "bleach", "nana", "blame!", "akira"})

# Words in a user's message that pick an edition, mapped to a fragment of the
# edition name they select ("" selects the Standard Edition).
EDITION_KEYWORDS: dict[str, str] = {
    "deluxe": "deluxe",
    "omnibus": "omnibus",
    "box set": "box set",
    "boxset": "box set",
    "3-in-1": "3-in-1",
    "3 in 1": "3-in-1",
    "three-in-one": "3-in-1",
    "2-in-1": "2-in-1",
    "2 in 1": "2-in-1",
    "collector": "collector",
    "perfect edition": "perfect",
    "colossal": "colossal",
    "vizbig": "vizbig",
    "black edition": "black",
    "all-in-one": "all-in-one",
    "eternal": "eternal",
    "fullmetal edition": "fullmetal",
    "master edition": "master",
    "standard": "",
    "regular": "",
    "non-deluxe": "",
}
_EDITION_KEYWORD_RE = re.compile(
    r"(?<![a-z0-9-])(" + "|".join(re.escape(k) for k in sorted(EDITION_KEYWORDS, key=len, reverse=True)) + r")",
)


@dataclass(frozen=True)
class Doc:
    """One retrievable chunk: an edition of a title, with its chunk of text."""

    id: str
    title: str
    edition: str
    formats: list[str]
    price: float
    text: str
    title_id: str = ""
    tags: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How replies name it: the edition is omitted when it is the standard one."""
        return self.title if self.edition == STANDARD_EDITION else f"{self.title} {self.edition}"


@dataclass(frozen=True)
class Title:
    """A series and its editions (``docs[0]`` is the primary edition)."""

    id: str
    title: str
    author: str
    publisher: str
    aliases: tuple[str, ...]
    tags: dict[str, float]
    description: str
    docs: tuple[Doc, ...]

    @property
    def primary(self) -> Doc:
        """The edition a bare mention of the title means (the standard one if any)."""
        for doc in self.docs:
            if doc.edition == STANDARD_EDITION:
                return doc
        return self.docs[0]

    def edition_matching(self, fragment: str) -> Doc | None:
        """The edition whose name contains ``fragment`` ("" = the primary edition)."""
        if fragment == "":
            return self.primary
        for doc in self.docs:
            if fragment in doc.edition.lower():
                return doc
        return None


@dataclass(frozen=True)
class Mention:
    """A catalog title found in text, and the edition named right after it."""

    start: int
    end: int
    title: Title
    doc: Doc
    explicit_edition: bool


def _first_sentence(text: str) -> str:
    for match in re.finditer(r"[.!?](?=\s|$)", text):
        word = re.search(r"([A-Za-z]*)$", text[: match.start()])
        if (
            match.group(0) == "."
            and word is not None
            and (len(word.group(1)) == 1 or word.group(1).lower() in {"dr", "mr", "mrs", "ms", "st", "vol", "vs"})
        ):
            continue
        return text[: match.end()]
    return text


class Catalog:
    """The loaded catalog with lookup and mention finding."""

    def __init__(self, raw: dict[str, Any]) -> None:
        titles: list[Title] = []
        for item in raw["titles"]:
            tags = {str(k).lower(): float(v) for k, v in dict(item["tags"]).items()}
            docs: list[Doc] = []
            for i, ed in enumerate(item["editions"]):
                if i == 0:
                    text = f"{item['description']} {ed['note']}"
                else:
                    text = f"{ed['note']} {_first_sentence(item['description'])}"
                docs.append(
                    Doc(
                        id=str(ed["id"]),
                        title=str(item["title"]),
                        edition=str(ed["name"]),
                        formats=[str(f) for f in ed["formats"]],
                        price=float(ed["price"]),
                        text=text,
                        title_id=str(item["id"]),
                        tags=tags,
                    )
                )
            titles.append(
                Title(
                    id=str(item["id"]),
                    title=str(item["title"]),
                    author=str(item["author"]),
                    publisher=str(item["publisher"]),
                    aliases=tuple(str(a) for a in item.get("aliases", ())),
                    tags=tags,
                    description=str(item["description"]),
                    docs=tuple(docs),
                )
            )
        self.titles: tuple[Title, ...] = tuple(titles)
        self.docs: tuple[Doc, ...] = tuple(d for t in titles for d in t.docs)
        self.by_doc_id: dict[str, Doc] = {d.id: d for d in self.docs}
        self.by_title_id: dict[str, Title] = {t.id: t for t in titles}
        self.tag_vocabulary: tuple[str, ...] = tuple(sorted({tag for t in titles for tag in t.tags}))
        names: list[tuple[str, Title]] = []
        for t in titles:
            for name in (t.title, *t.aliases):
                names.append((name, t))
        # Longest names first so "Demon Slayer: Kimetsu no Yaiba" wins over "Demon Slayer".
        names.sort(key=lambda pair: len(pair[0]), reverse=True)
        # One alternation (longest names first, so the leftmost match is the longest one);
        # much cheaper than a pattern per name on every history turn.
        self._names: dict[str, tuple[str, Title]] = {name.lower(): (name, t) for name, t in names}
        alternation = "|".join(re.escape(name) for name, _ in names)
        self._pattern = re.compile(r"(?<![A-Za-z0-9])(?:" + alternation + r")(?![A-Za-z0-9])", re.IGNORECASE)

    def title_of(self, doc: Doc) -> Title:
        """The series a doc belongs to."""
        return self.by_title_id[doc.title_id]

    def mentions(self, text: str) -> list[Mention]:
        """Catalog titles named in ``text``, in order of position, without overlaps.

        An edition name directly after the title ("Berserk Deluxe Edition")
        selects that edition; otherwise the mention means the primary edition.
        """
        found: list[Mention] = []
        for match in self._pattern.finditer(text):
            name, t = self._names[match.group(0).lower()]
            if name.lower() in _CASE_SENSITIVE and match.group(0) != name:
                continue
            start, end = match.span()
            doc, explicit = t.primary, False
            after = text[end:].lower()
            for candidate in sorted(t.docs, key=lambda d: len(d.edition), reverse=True):
                if after.startswith(" " + candidate.edition.lower()):
                    doc, explicit = candidate, True
                    end += 1 + len(candidate.edition)
                    break
            found.append(Mention(start, end, t, doc, explicit))
        return found

    @staticmethod
    def edition_keyword(text: str) -> str | None:
        """The edition fragment a message asks for ("deluxe", "" for standard), if any."""
        match = _EDITION_KEYWORD_RE.search(text.lower())
        return None if match is None else EDITION_KEYWORDS[match.group(1)]


@lru_cache(maxsize=1)
def load_catalog(path: str | None = None) -> Catalog:
    """Load (once) and index the catalog JSON."""
    with open(path or CATALOG_PATH, encoding="utf-8") as fh:
        return Catalog(json.load(fh))
