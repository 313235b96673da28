"""Intent classification that uses the conversation context.

Four intents decide what the composer (and a real model) is asked to do:
``recommendation`` (pick titles for a need), ``product_question`` (talk about
one product), ``availability`` (formats, stock, editions) and ``other``.

A message alone is often ambiguous: "What about the second one?" has no
product in it, and "What about horror?" reads the same way. The classifier
therefore takes the *subject* found by the understanding step (a title named in
the message or a reference resolved against history) and the previous turn's
intent: a referring question with a subject is about that product; the same
shape with only a genre is a new recommendation (a topic change); "any others?"
right after a recommendation continues it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from reference_service.turns import Turn

INTENTS = ("recommendation", "product_question", "availability", "other")

_KINDLE_RE = re.compile(r"\b(kindle|e-?books?|digital(?:ly)?|e-?readers?|online edition)\b")
_PRINT_RE = re.compile(r"\b(print(?:ed)?|paperback|hardcover|hard copy|physical(?: copy)?)\b")
_AVAILABILITY_RE = re.compile(
    r"\b(available|availability|in stock|out of stock|do you (?:have|carry|sell|stock)|"
    r"can i (?:buy|get|order)|is there an? \w+ (?:version|edition)|which formats?|what formats?|"
    r"come in|sold as)\b"
)
_RECOMMEND_RE = re.compile(
    r"\b(recommend\w*|suggest\w*|what should i read|looking for|any good \w+|top \d+|similar to|"
    r"something like|stuff like|more like|where (?:do|should) i start|start with|new to manga|"
    r"give me some|show me some|ideas)\b"
)
_PRODUCT_RE = re.compile(
    r"\b(tell me (?:more )?about|what(?:'s| is) (?:it|that|\w+) about|who (?:wrote|drew|made)|author|"
    r"how (?:much|many|long)|what about|how about|is (?:it|that) (?:good|worth)|worth|price|cost|"
    r"describe|details|plot|summary|more info|tell me more)\b"
)
_OTHERS_RE = re.compile(r"\b(any ?others?|anything else|something else|more options|more suggestions|what else)\b")


def ask_format(message: str) -> str | None:
    """The format a message asks about: ``kindle``, ``print`` or None."""
    low = message.lower()
    if _KINDLE_RE.search(low):
        return "kindle"
    if _PRINT_RE.search(low):
        return "print"
    return None


def previous_intent(history: Sequence[Turn]) -> str | None:
    """The intent recorded on the newest history turn, if any."""
    if not history:
        return None
    return max(history, key=lambda t: t.turn_number).intent


def classify(
    message: str,
    history: Sequence[Turn],
    *,
    has_subject: bool,
    has_tags: bool,
    is_reference: bool,
    has_list: Callable[[], bool] = lambda: False,
) -> str:
    """One of :data:`INTENTS` for ``message`` in its context.

    ``has_subject``: a product was named or a reference resolved to one.
    ``has_tags``: the message names catalog genres/tags.
    ``is_reference``: the message contains a referring phrase (resolved or not).
    ``has_list``: whether some history turn holds a numbered list (called only when needed).
    """
    low = message.lower()
    about_format = ask_format(message) is not None or bool(_AVAILABILITY_RE.search(low))
    wants_titles = bool(_RECOMMEND_RE.search(low))
    if about_format and (has_subject or is_reference):
        return "availability"
    if wants_titles and not is_reference:
        return "recommendation"
    if has_tags and not has_subject and not is_reference:
        # "Do you have any horror manga?", "What about horror?" - a new list.
        return "recommendation"
    if _OTHERS_RE.search(low) and (previous_intent(history) == "recommendation" or has_list()):
        return "recommendation"
    if about_format:
        return "availability"
    if has_subject or is_reference:
        return "product_question"
    if _PRODUCT_RE.search(low) and has_tags:
        return "recommendation"
    return "other"
