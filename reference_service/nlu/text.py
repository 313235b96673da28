"""Shared word normalisation for retrieval, tag matching and intent rules.

One tokenizer for catalog text and user text, so that "beginners" in a query
and "beginner-friendly" in a tag meet on the same token.
"""

from __future__ import annotations

import re

_WORD_RE = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    """
    a an and any are as at be but by can could do does for from give have i in is it its me my of on
    or please recommend recommendation recommendations some suggest suggestion that the their them
    then there these they this to want was what which who with would you your manga book books
    series read reading something anything good great best like looking find show tell more about
    get need should
    """.split()  # noqa: SIM905
)


def stem(word: str) -> str:
    """A tiny plural stripper: ``beginners`` -> ``beginner``, ``class`` stays."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """All lower-case, stemmed word tokens, stopwords kept (for phrase matching)."""
    return [stem(w) for w in _WORD_RE.findall(text.lower())]


def terms(text: str) -> list[str]:
    """Index/query terms: :func:`words` without stopwords."""
    return [w for w in words(text) if w not in STOPWORDS]
