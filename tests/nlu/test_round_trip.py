"""Full round trip: understand -> retrieve -> build_prompt -> compose_reply (design dialogues)."""

from __future__ import annotations

from nlu_helpers import Conversation

from reference_service.nlu import CLARIFY_TEMPLATE, CONTEXT_LOST_NOTICE, STATELESS_NOTICE


def test_dark_fantasy_dialogue() -> None:
    chat = Conversation()
    reply, u = chat.say("Recommend dark fantasy manga for beginners")
    assert reply.startswith("Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore.")
    reply, u = chat.say("What about the second one?")
    assert u.resolved_query == "Tell me more about Vinland Saga"
    assert reply.startswith("Vinland Saga: ") and "medieval Scandinavia" in reply and "Thorfinn" in reply


def test_berserk_deluxe_dialogue() -> None:
    chat = Conversation()
    reply, _ = chat.say("Do you have the Berserk deluxe edition?")
    assert "Berserk Deluxe Edition" in reply and "$49.99" in reply
    reply, u = chat.say("Is it available for Kindle?")
    assert (u.intent, u.focus_id, u.ask_format) == ("availability", "berserk-deluxe", "kindle")
    assert "Berserk Deluxe Edition is only available in print." in reply
    assert "The standard Berserk volumes are available on Kindle." in reply


def test_without_memory_the_reference_is_not_answered() -> None:
    chat = Conversation()
    reply, u = chat.say("What about the second one?")
    assert u.unresolved_reference == "the second one"
    assert "Vinland Saga" not in reply
    assert CLARIFY_TEMPLATE.format(phrase=u.unresolved_reference) == (
        "I'm sorry, I don't understand what you mean by 'the second one'."
    )


def test_topic_change_and_long_conversation() -> None:
    chat = Conversation()
    chat.say("Recommend dark fantasy manga for beginners")
    for _ in range(6):
        chat.say("Tell me something")
    reply, _ = chat.say("What about the last one?")
    assert reply.startswith("Claymore: ")
    reply, _ = chat.say("Recommend sports manga for beginners")
    assert reply.startswith("Here are my top 3: (1) Haikyu!!")
    reply, u = chat.say("What about the second one?")
    assert u.focus_id is not None and u.focus_id != "vinland-saga"
    assert not reply.startswith("Vinland Saga")
    reply, _ = chat.say("Is that one on Kindle?")
    assert reply.startswith("Yes, ") and "Kindle" in reply


def test_notices_are_verbatim_from_the_design() -> None:
    assert STATELESS_NOTICE == (
        "I'm having a brief technical hiccup with my memory. I can still help you! What were you looking for?"
    )
    assert CONTEXT_LOST_NOTICE == (
        "I've lost our conversation context. Could you briefly remind me what we were discussing?"
    )
