"""Deterministic token estimator for the prompt budget.

The budget (system 500, history 3,000, context 2,500, user 100, response 1,000)
comes from the design document and is stated in model tokens. The service must
enforce it without a network call and without shipping a tokenizer, and the same
text must always cost the same, so the estimate is a pure function of the text.

What it approximates: byte-pair tokenizers used by Claude and GPT-class models
average about four characters of English per token, split words longer than
that, and give punctuation its own token. The estimator charges
``ceil(len(word) / 4)`` for every run of letters/digits (at least 1), one token
per other non-space character, and nothing for whitespace. On English prose
this lands close to the real count and slightly above it (it never merges
" the" with a leading space the way BPE does), which is the safe side for a cap.
"""

from __future__ import annotations

import re

_PIECE_RE = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
CHARS_PER_TOKEN = 4


def _piece_cost(piece: str) -> int:
    if piece[0].isascii() and piece[0].isalnum():
        return -(-len(piece) // CHARS_PER_TOKEN)
    return 1


def count_tokens(text: str) -> int:
    """Estimated token count of ``text`` (0 for empty text)."""
    return sum(_piece_cost(m.group(0)) for m in _PIECE_RE.finditer(text))


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose estimate is at most ``limit`` tokens.

    Cuts at piece boundaries only, so a word is never split in half; trailing
    whitespace of the prefix is dropped.
    """
    if limit <= 0:
        return ""
    used = 0
    end = 0
    for match in _PIECE_RE.finditer(text):
        cost = _piece_cost(match.group(0))
        if used + cost > limit:
            return text[:end].rstrip()
        used += cost
        end = match.end()
    return text
