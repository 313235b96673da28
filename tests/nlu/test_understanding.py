"""Intent classification with context and cross-turn reference resolution."""

from __future__ import annotations

import pytest
from nlu_helpers import make_turn

from reference_service.nlu import understand
from reference_service.nlu.resolver import find_reference, parse_list

LIST_REPLY = "Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore. Berserk follows Guts."
RECO = make_turn(1, "Recommend dark fantasy manga for beginners", LIST_REPLY, "recommendation")


@pytest.mark.parametrize(
    ("message", "phrase", "index"),
    [
        ("What about the second one?", "the second one", 2),
        ("And the 3rd?", "the 3rd", 3),
        ("Is number two any good?", "number two", 2),
        ("What about the last one?", "the last one", -1),
        ("Tell me about the first one you mentioned", "the first one you mentioned", 1),
        ("Second one please", "Second one", 2),
    ],
)
def test_ordinal_phrases(message: str, phrase: str, index: int) -> None:
    ref = find_reference(message)
    assert ref is not None and ref.kind == "ordinal" and ref.phrase == phrase and ref.index == index


def test_non_references() -> None:
    assert find_reference("I want the first volume of Berserk") is None
    assert find_reference("Recommend dark fantasy manga for beginners") is None


@pytest.mark.parametrize(
    ("message", "focus", "name"),
    [
        ("What about the second one?", "vinland-saga", "Vinland Saga"),
        ("the first one you mentioned?", "berserk", "Berserk"),
        ("What about the last one?", "claymore", "Claymore"),
        ("Tell me about number 3", "claymore", "Claymore"),
    ],
)
def test_ordinals_resolve_against_list(message: str, focus: str, name: str) -> None:
    u = understand(message, [RECO])
    assert u.intent == "product_question"
    assert u.focus_id == focus and u.resolved_query == f"Tell me more about {name}"
    assert u.needs_context and u.unresolved_reference is None


def test_ordinal_without_history_is_unresolved() -> None:
    u = understand("What about the second one?", [])
    assert u.unresolved_reference == "the second one" and u.needs_context and u.focus_id is None


def test_ordinal_out_of_range_is_unresolved() -> None:
    assert understand("What about the fifth one?", [RECO]).unresolved_reference == "the fifth one"


def test_ordinal_with_history_but_no_list_is_unresolved() -> None:
    history = [make_turn(1, "hi", "I can help you find manga, compare editions and check formats.")]
    assert understand("the second one?", history).unresolved_reference == "the second one"


def test_list_far_back_in_history_is_found() -> None:
    history = [RECO] + [
        make_turn(n, f"filler {n}", "I can help you find manga, compare editions and check formats.")
        for n in range(2, 10)
    ]
    u = understand("What about the second one?", history)
    assert u.focus_id == "vinland-saga" and u.resolved_from_turn == 1


def test_history_order_does_not_matter() -> None:
    newer = make_turn(2, "What about horror?", "Here are my top 3: (1) Parasyte, (2) Uzumaki, (3) Tomie.")
    assert understand("the second one", [newer, RECO]).focus_id == "uzumaki-3-in-1-deluxe"
    assert understand("the second one", [RECO, newer]).focus_id == "uzumaki-3-in-1-deluxe"


def test_topic_change_replaces_the_list() -> None:
    newer = make_turn(3, "sports manga for beginners", "Here are my top 3: (1) Haikyu!!, (2) Slam Dunk, (3) Blue Lock.")
    middle = make_turn(2, "What about the second one?", "Vinland Saga: ...", "product_question")
    u = understand("What about the second one?", [RECO, middle, newer])
    assert u.focus_id == "slam-dunk"


def test_parse_list_handles_titles_with_punctuation_and_unknown_items() -> None:
    items = parse_list("Here are my top 3: (1) Dr. Stone, (2) Yotsuba&!, (3) Some Unknown Thing.")
    assert [name for name, _ in items] == ["Dr. Stone", "Yotsuba&!", "Some Unknown Thing"]
    assert items[2][1] is None
    assert parse_list("No list here (2) at all") == []


def test_pronoun_resolves_to_most_recent_product_with_edition() -> None:
    turn = make_turn(
        1, "Do you have the Berserk deluxe edition?", "Yes, Berserk Deluxe Edition is available in print at $49.99."
    )
    u = understand("Is it available for Kindle?", [RECO, turn])
    assert (u.intent, u.focus_id, u.ask_format) == ("availability", "berserk-deluxe", "kindle")
    assert u.resolved_query == "Is Berserk Deluxe Edition available for Kindle?"


def test_pronoun_uses_user_message_when_reply_names_nothing() -> None:
    turn = make_turn(1, "Do you have the Berserk deluxe edition?", "Let me check that for you.")
    assert understand("Is it on Kindle?", [turn]).focus_id == "berserk-deluxe"


def test_that_one_and_deluxe_one() -> None:
    turn = make_turn(
        1, "Tell me about Berserk", "Berserk: Berserk follows Guts. Available in print and Kindle from $14.99."
    )
    u = understand("How much is that one?", [turn])
    assert u.focus_id == "berserk" and u.reference == "that one"
    u = understand("What about the deluxe one?", [turn])
    assert u.focus_id == "berserk-deluxe" and u.resolved_query == "Tell me more about Berserk Deluxe Edition"


def test_pronoun_without_history_is_unresolved() -> None:
    u = understand("Is it available for Kindle?", [])
    assert (u.intent, u.unresolved_reference, u.ask_format) == ("availability", "it", "kindle")


@pytest.mark.parametrize(
    ("message", "history", "intent"),
    [
        ("Recommend dark fantasy manga for beginners", [], "recommendation"),
        ("Tell me something", [], "other"),
        ("Hello there", [], "other"),
        ("Is it available for Kindle?", [RECO], "availability"),
        ("What about the second one?", [RECO], "product_question"),
        ("What about horror?", [RECO], "recommendation"),
        ("Do you have any romance manga?", [], "recommendation"),
        ("Who wrote Monster?", [], "product_question"),
        ("Any others?", [RECO], "recommendation"),
        ("Any others?", [], "other"),
    ],
)
def test_intent_uses_context(message: str, history: list, intent: str) -> None:
    assert understand(message, history).intent == intent


def test_explicit_title_needs_no_context() -> None:
    u = understand("Is Claymore available on Kindle?", [RECO])
    assert (u.intent, u.focus_id, u.needs_context) == ("availability", "claymore", False)


def test_any_others_excludes_listed_titles() -> None:
    u = understand("Any others?", [RECO])
    assert set(u.exclude_title_ids) == {"berserk", "vinland-saga", "claymore"}
    assert u.resolved_query == RECO.user_message
