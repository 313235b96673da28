"""The stand-in's reply composer against hand-written tagged messages ("Prompt format" in docs/contracts.md)."""

from __future__ import annotations

from harness.standins.compose import GENERIC_REPLY, compose_reply, first_sentence, parse_tagged

BERSERK = (
    '<doc id="berserk" title="Berserk" edition="Standard Edition" formats="print,kindle" price="14.99">'
    "Berserk follows Guts. It is long.</doc>"
)
DELUXE = (
    '<doc id="berserk-deluxe" title="Berserk" edition="Deluxe Edition" formats="print" price="49.99">'
    "Oversized hardcover &amp; more.</doc>"
)
VINLAND = (
    '<doc id="vinland-saga" title="Vinland Saga" edition="Standard Edition" formats="print,kindle" '
    'price="12.99">Vinland Saga is set in medieval Scandinavia. More.</doc>'
)
CLAYMORE = (
    '<doc id="claymore" title="Claymore" edition="Standard Edition" formats="print,kindle" price="9.99">'
    "Claymore follows Clare.</doc>"
)


def tagged(docs: list[str], intent: str, focus: str | None = None, fmt: str | None = None) -> str:
    parts = ["<context>", *docs, "</context>", f"<intent>{intent}</intent>", "<resolved_query>q</resolved_query>"]
    if focus:
        parts.append(f"<focus>{focus}</focus>")
    if fmt:
        parts.append(f"<ask_format>{fmt}</ask_format>")
    parts.append("<message>m</message>")
    return "\n".join(parts)


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


def test_recommendation_lists_three_distinct_titles_in_order() -> None:
    msg = tagged([BERSERK, DELUXE, VINLAND, CLAYMORE], "recommendation")
    reply = compose_reply("sys", user(msg))
    assert reply.startswith("Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore.")
    assert "Berserk follows Guts." in reply and "It is long." not in reply


def test_content_blocks_are_accepted_and_last_user_message_wins() -> None:
    first = tagged([CLAYMORE], "product_question", "claymore")
    last = tagged([BERSERK, VINLAND], "product_question", "vinland-saga")
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": last}]},
    ]
    reply = compose_reply("", messages)
    assert reply == (
        "Vinland Saga: Vinland Saga is set in medieval Scandinavia. More. Available in print and Kindle from $12.99."
    )


def test_product_question_names_non_standard_edition_and_unescapes_text() -> None:
    reply = compose_reply("", user(tagged([DELUXE, BERSERK], "product_question", "berserk-deluxe")))
    assert reply == "Berserk Deluxe Edition: Oversized hardcover & more. Available in print from $49.99."


def test_availability_print_only_with_kindle_sibling() -> None:
    reply = compose_reply("", user(tagged([DELUXE, BERSERK], "availability", "berserk-deluxe", "kindle")))
    assert reply == (
        "Berserk Deluxe Edition is only available in print. The standard Berserk volumes are available on Kindle."
    )


def test_availability_print_only_without_sibling() -> None:
    reply = compose_reply("", user(tagged([DELUXE], "availability", "berserk-deluxe", "kindle")))
    assert reply == "Berserk Deluxe Edition is only available in print."


def test_availability_present_format() -> None:
    reply = compose_reply("", user(tagged([BERSERK], "availability", "berserk", "kindle")))
    assert reply == "Yes, Berserk is available for Kindle at $14.99."


def test_focus_missing_falls_back_to_first_doc() -> None:
    reply = compose_reply("", user(tagged([CLAYMORE, BERSERK], "product_question", "nope")))
    assert reply.startswith("Claymore: ")


def test_other_intent_no_docs_and_garbage_get_generic_reply() -> None:
    assert compose_reply("", user(tagged([BERSERK], "other"))) == GENERIC_REPLY
    assert compose_reply("", user("<intent>recommendation</intent><message>hi</message>")) == GENERIC_REPLY
    assert compose_reply("", user("no tags at all")) == GENERIC_REPLY
    assert compose_reply("", []) == GENERIC_REPLY
    assert compose_reply("", [{"role": "user", "content": None}]) == GENERIC_REPLY


def test_parse_tagged_reads_all_tags() -> None:
    parsed = parse_tagged(tagged([BERSERK], "availability", "berserk", "kindle"))
    assert parsed.intent == "availability" and parsed.focus == "berserk" and parsed.ask_format == "kindle"
    assert parsed.docs[0].formats == ("print", "kindle") and parsed.docs[0].price == 14.99


def test_first_sentence_skips_abbreviations() -> None:
    assert first_sentence("Dr. Stone follows Senku. Next.") == "Dr. Stone follows Senku."
    assert first_sentence("One Piece follows Monkey D. Luffy. Next.") == "One Piece follows Monkey D. Luffy."
