"""Token estimator and the prompt's budget enforcement."""

from __future__ import annotations

from nlu_helpers import make_turn

from harness.standins.compose import parse_tagged
from reference_service.nlu import (
    HISTORY_BUDGET,
    MAX_TOKENS,
    SYSTEM_BUDGET,
    build_prompt,
    count_tokens,
    load_catalog,
    retrieve,
    truncate_to_tokens,
    understand,
)


def test_count_tokens_is_deterministic_and_roughly_four_chars() -> None:
    assert count_tokens("") == 0
    assert count_tokens("abcd") == 1 and count_tokens("abcde") == 2
    assert count_tokens("Hello, world!") == 2 + 1 + 2 + 1
    prose = "Vinland Saga is set in medieval Scandinavia and follows Thorfinn, a young warrior. " * 10
    assert len(prose) / 6 < count_tokens(prose) < len(prose) / 2.5


def test_truncate_to_tokens() -> None:
    text = "word " * 500
    cut = truncate_to_tokens(text, 100)
    assert count_tokens(cut) == 100 and text.startswith(cut)
    assert truncate_to_tokens("short", 100) == "short"
    assert truncate_to_tokens("anything", 0) == ""


def test_history_cap_drops_oldest_turns() -> None:
    long_text = "This is a fairly long message about manga editions and formats. " * 12
    history = [make_turn(n, f"turn {n} " + long_text, f"reply {n} " + long_text) for n in range(1, 11)]
    u = understand("Recommend dark fantasy manga for beginners", history)
    prompt = build_prompt(history, u, retrieve(u))
    assert prompt.token_counts["history"] <= HISTORY_BUDGET
    assert prompt.history_turns_dropped > 0
    kept = prompt.history_turns_used
    assert kept + prompt.history_turns_dropped == 10
    # The newest turns survive, in order; the oldest are gone.
    user_texts = [m["content"] for m in prompt.messages[:-1] if m["role"] == "user"]
    assert [t.split()[1] for t in user_texts] == [str(n) for n in range(11 - kept, 11)]
    assert "turn 1 " not in "".join(user_texts)


def test_short_history_is_kept_whole() -> None:
    history = [make_turn(n, f"question {n}", f"answer {n}") for n in range(1, 11)]
    u = understand("hello", history)
    prompt = build_prompt(history, u, [])
    assert prompt.history_turns_used == 10 and prompt.history_turns_dropped == 0
    assert len(prompt.messages) == 21


def test_user_message_truncated_and_counts_exposed() -> None:
    message = "Recommend dark fantasy manga for beginners " + "please " * 300
    u = understand(message, [])
    prompt = build_prompt([], u, retrieve(u))
    tagged = parse_tagged(prompt.messages[-1]["content"])
    assert count_tokens(tagged.message) <= 100 and tagged.message.startswith("Recommend dark fantasy")
    counts = prompt.token_counts
    assert counts["user"] <= 100 and counts["system"] <= SYSTEM_BUDGET
    assert counts["context"] <= 2500 and counts["response"] == MAX_TOKENS == prompt.max_tokens
    assert set(counts) >= {"system", "history", "context", "user", "response"}


def test_context_capped_at_2500_tokens() -> None:
    u = understand("Recommend dark fantasy manga for beginners", [])
    prompt = build_prompt([], u, list(load_catalog().docs))
    assert 0 < len(prompt.docs) < len(load_catalog().docs)
    assert prompt.token_counts["context"] <= 2500


def test_final_message_has_contract_tags_in_order_and_escapes() -> None:
    u = understand('Is it "good" <b>& cheap</b>?', [make_turn(1, "Tell me about Berserk", "Berserk: ok.")])
    prompt = build_prompt([], u, retrieve(u))
    final = prompt.messages[-1]["content"]
    order = [final.index(tag) for tag in ("<context>", "<intent>", "<resolved_query>", "<focus>", "<message>")]
    assert order == sorted(order)
    assert "<ask_format>" not in final  # omitted when empty
    assert "&lt;b&gt;&amp; cheap&lt;/b&gt;" in final
    assert parse_tagged(final).message == 'Is it "good" <b>& cheap</b>?'
