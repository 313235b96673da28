"""Deterministic retrieval over the catalog: BM25 plus genre-tag matching.

Why both: BM25 over the chunk text finds titles, authors and plot words, but a
recommendation request ("dark fantasy manga for beginners") is really a filter
on genre tags, and a bookseller's judgement of *how much* a title belongs to a
tag cannot be recovered from word counts. Each title therefore carries tag
strengths (0..1) in ``catalog.json``; query phrases are mapped onto tags
(with synonyms: "beginners" -> ``beginner-friendly``, "scary" -> ``horror``)
and the summed strengths dominate the score, with normalised BM25 breaking ties
and handling queries that name no genre. A title named in the query outranks
everything. Ties fall back to catalog order, so a query always ranks the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from reference_service.nlu.catalog import Catalog, Doc, load_catalog
from reference_service.nlu.text import terms, words


class Understanding(Protocol):
    """What retrieval reads of ``understanding.Understanding``.

    Declared here so that the two modules never import each other.
    """

    @property
    def intent(self) -> str: ...
    @property
    def resolved_query(self) -> str: ...
    @property
    def focus_id(self) -> str | None: ...
    @property
    def unresolved_reference(self) -> str | None: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def exclude_title_ids(self) -> tuple[str, ...]: ...

TAG_WEIGHT = 3.0
TITLE_BONUS = 10.0
EDITION_BONUS = 2.0
BM25_K1 = 1.2
BM25_B = 0.75

TAG_SYNONYMS: dict[str, str] = {
    "beginner": "beginner-friendly",
    "newcomer": "beginner-friendly",
    "new to manga": "beginner-friendly",
    "first manga": "beginner-friendly",
    "starter": "beginner-friendly",
    "entry level": "beginner-friendly",
    "accessible": "beginner-friendly",
    "easy": "beginner-friendly",
    "science fiction": "sci-fi",
    "scifi": "sci-fi",
    "scary": "horror",
    "creepy": "horror",
    "funny": "comedy",
    "humor": "comedy",
    "humour": "comedy",
    "comedic": "comedy",
    "romantic": "romance",
    "love story": "romance",
    "sport": "sports",
    "history": "historical",
    "historic": "historical",
    "shoujo": "shojo",
    "shounen": "shonen",
    "grimdark": "dark fantasy",
    "viking": "vikings",
    "samurai": "samurai",
    "cozy": "iyashikei",
    "kids": "all ages",
    "children": "all ages",
    "adult": "mature",
}


@dataclass(frozen=True)
class Ranked:
    """A doc with its score (for tests and debugging)."""

    doc: Doc
    score: float


class Index:
    """BM25 matrices and the tag phrase table for one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        doc_terms: list[list[str]] = []
        for doc in catalog.docs:
            t = catalog.title_of(doc)
            blob = " ".join([doc.title, *t.aliases, t.author, t.publisher, doc.edition, " ".join(doc.tags), doc.text])
            doc_terms.append(terms(blob))
        vocab = sorted({w for ts in doc_terms for w in ts})
        self.vocab: dict[str, int] = {w: i for i, w in enumerate(vocab)}
        tf = np.zeros((len(doc_terms), len(vocab)), dtype=np.float64)
        for row, ts in enumerate(doc_terms):
            for w in ts:
                tf[row, self.vocab[w]] += 1.0
        lengths = tf.sum(axis=1)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        df = (tf > 0).sum(axis=0)
        n = float(len(doc_terms))
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths / avg)
        self.weights = tf * (BM25_K1 + 1.0) / (tf + norm[:, None])
        phrases: dict[tuple[str, ...], str] = {}
        for tag in catalog.tag_vocabulary:
            phrases[tuple(words(tag))] = tag
        for alias, tag in TAG_SYNONYMS.items():
            if tag in catalog.tag_vocabulary:
                phrases.setdefault(tuple(words(alias)), tag)
        self.tag_phrases: list[tuple[tuple[str, ...], str]] = sorted(
            phrases.items(), key=lambda item: (-len(item[0]), item[1])
        )

    def query_tags(self, text: str) -> list[str]:
        """Catalog tags named in ``text``; longest phrase wins, each word used once."""
        tokens = words(text)
        used = [False] * len(tokens)
        found: list[str] = []
        for phrase, tag in self.tag_phrases:
            n = len(phrase)
            for i in range(len(tokens) - n + 1):
                if tuple(tokens[i : i + n]) == phrase and not any(used[i : i + n]):
                    for j in range(i, i + n):
                        used[j] = True
                    if tag not in found:
                        found.append(tag)
        return found

    def bm25(self, text: str) -> np.ndarray:
        """BM25 score of every doc for ``text``, scaled so the best is 1 (all 0 if none match)."""
        ids = [self.vocab[w] for w in terms(text) if w in self.vocab]
        if not ids:
            return np.zeros(len(self.catalog.docs))
        scores = (self.weights[:, ids] * self.idf[ids]).sum(axis=1)
        top = float(scores.max())
        return scores / top if top > 0 else scores

    def rank(self, text: str, tags: list[str] | None = None) -> list[Ranked]:
        """All docs with a positive score, best first, ties in catalog order."""
        tags = self.query_tags(text) if tags is None else tags
        scores = self.bm25(text)
        edition = self.catalog.edition_keyword(text)
        named = {m.doc.id: m for m in self.catalog.mentions(text)}
        named_titles = {m.title.id for m in named.values()}
        out: list[Ranked] = []
        for i, doc in enumerate(self.catalog.docs):
            score = float(scores[i]) + TAG_WEIGHT * sum(doc.tags.get(tag, 0.0) for tag in tags)
            if doc.title_id in named_titles:
                score += TITLE_BONUS
                if doc.id in named or (edition is not None and edition in doc.edition.lower()):
                    score += EDITION_BONUS
            if score > 0:
                out.append(Ranked(doc, score))
        out.sort(key=lambda r: -r.score)  # stable: ties keep catalog order
        return out


@lru_cache(maxsize=4)
def get_index(catalog: Catalog | None = None) -> Index:
    """The (cached) index for ``catalog`` (default: the packaged catalog)."""
    return Index(catalog or load_catalog())


def rank_titles(text: str, k: int = 5, tags: list[str] | None = None) -> list[Ranked]:
    """The best ``k`` distinct titles for ``text``, each as its primary edition."""
    index = get_index()
    best: dict[str, Ranked] = {}
    order: list[str] = []
    for ranked in index.rank(text, tags):
        if ranked.doc.title_id not in best:
            best[ranked.doc.title_id] = ranked
            order.append(ranked.doc.title_id)
    out = []
    for title_id in order[:k]:
        primary = index.catalog.by_title_id[title_id].primary
        out.append(Ranked(primary, best[title_id].score))
    return out


def retrieve(u: Understanding, k: int = 5) -> list[Doc]:
    """The docs to put in the prompt's ``<context>`` for ``u``, best first.

    * A focused product comes first, followed by its other editions (the
      composer's "the standard volumes are on Kindle" needs the sibling), then
      the best matches for the resolved query.
    * A reference that could not be resolved retrieves nothing: there is no
      honest answer to ground, and any doc would invite a wrong one.
    * A recommendation returns ``k`` distinct titles; "something like Berserk"
      borrows Berserk's strongest tags and leaves Berserk itself out, as does
      "any others?" for the titles already listed.
    """
    index = get_index()
    catalog = index.catalog
    if k <= 0:
        return []
    if u.focus_id is not None and u.focus_id in catalog.by_doc_id:
        focus = catalog.by_doc_id[u.focus_id]
        out = [focus, *(d for d in catalog.title_of(focus).docs if d.id != focus.id)]
        seen = {d.id for d in out}
        out.extend(r.doc for r in index.rank(u.resolved_query) if r.doc.id not in seen)
        return out[:k]
    if u.unresolved_reference is not None:
        return []
    if u.intent == "recommendation":
        tags = list(u.tags)
        excluded = set(u.exclude_title_ids)
        if not tags and excluded:
            for title_id in u.exclude_title_ids:
                for tag, strength in catalog.by_title_id[title_id].tags.items():
                    if strength >= 0.8 and tag not in tags:
                        tags.append(tag)
        query = u.resolved_query
        if excluded:
            for title_id in excluded:
                t = catalog.by_title_id[title_id]
                for name in (t.title, *t.aliases):
                    query = query.replace(name, " ")
        ranked = rank_titles(query, k + len(excluded), tags or None)
        return [r.doc for r in ranked if r.doc.title_id not in excluded][:k]
    return [r.doc for r in index.rank(u.resolved_query)][:k]
