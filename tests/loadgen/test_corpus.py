"""The corpus and the reply checker: what counts as resolved, degraded, wrong."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness.loadgen.corpus import CorpusError, judge, load_corpus, numbered_list, parse_script
from harness.loadgen.zipf import ZipfSampler

LIST = "Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore. Berserk follows Guts."


def reply(text: str, mode: str = "full") -> dict[str, Any]:
    return {"response": text, "debug_metadata": {"memory_mode": mode, "level": 0 if mode == "full" else 2}}


def test_corpus_shape() -> None:
    scripts = load_corpus()
    assert len(scripts) >= 30
    assert all(3 <= len(s.turns) <= 12 for s in scripts)
    by_id = {s.id: s for s in scripts}
    d1 = by_id["dark-fantasy-ordinal"]
    assert d1.turns[0].message == "Recommend dark fantasy manga for beginners"
    assert d1.turns[1].message == "What about the second one?"
    assert "Vinland Saga" in d1.turns[1].expect["contains"]  # type: ignore[index]
    d2 = by_id["berserk-deluxe-kindle"]
    assert d2.turns[1].message == "Is it available for Kindle?"
    assert "only available in print" in d2.turns[1].expect["contains"]  # type: ignore[index]
    # at least one follow-up needs a turn older than the last 5
    assert any(
        t.expect and "list_item" in t.expect and i + 1 - t.expect["list_item"]["turn"] > 5
        for s in scripts
        for i, t in enumerate(s.turns)
    )


def test_numbered_list_parsing() -> None:
    assert numbered_list(LIST) == ["Berserk", "Vinland Saga", "Claymore"]
    assert numbered_list("Here are my top 2: (1) Dr. Stone, (2) Yotsuba&!. Dr. Stone is.") == [
        "Dr. Stone",
        "Yotsuba&!",
    ]
    assert numbered_list("no list here") == []


def test_verdicts() -> None:
    turn = load_corpus()[0].turns[1]  # "What about the second one?" -> list item 2 + Vinland Saga
    assert judge(turn, reply("Vinland Saga is set in medieval Scandinavia."), [LIST]).verdict == "resolved"
    assert judge(turn, reply("Claymore is about monsters."), [LIST]).verdict == "wrong"
    notice = "I'm having a brief technical hiccup with my memory. What were you looking for?"
    assert judge(turn, reply(notice, "stateless"), [LIST]).verdict == "degraded"
    # an excuse while memory claims to be full is a failure, not a degradation
    assert judge(turn, reply(notice, "full"), [LIST]).verdict == "wrong"
    clarify = "I'm sorry, I don't understand what you mean by 'the second one'."
    assert judge(turn, reply(clarify, "cache_only"), [LIST]).verdict == "degraded"
    # a degraded mode is no excuse for a silently wrong answer
    assert judge(turn, reply("Claymore is about monsters.", "stateless"), [LIST]).verdict == "wrong"
    assert judge(turn, None, [LIST]).verdict == "error"
    assert judge(turn, {"detail": "x"}, [LIST]).verdict == "error"
    first = load_corpus()[0].turns[0]
    assert judge(first, reply(LIST), []).verdict == "resolved"
    assert judge(first, reply("I can help you find manga."), []).verdict == "wrong"
    last = load_corpus()[0].turns[2]
    assert judge(last, reply("You're welcome"), [LIST, "x"]).verdict == "unchecked"


def test_dynamic_expectation_follows_the_actual_list() -> None:
    turn = load_corpus()[0].turns[1]
    other = "Here are my top 3: (1) A Silent Voice, (2) Nana, (3) Horimiya."
    # fixed 'Vinland Saga' still required, and the dynamic item is 'Nana'
    assert judge(turn, reply("Nana and Vinland Saga"), [other]).verdict == "resolved"
    assert judge(turn, reply("Vinland Saga only"), [other]).verdict == "wrong"
    # the anchor reply had no list: cannot be judged
    assert judge(turn, reply("Vinland Saga"), ["no list"]).verdict == "unchecked"


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"id": "x", "turns": ["a", "b"]}, "3 to 12"),
        ({"id": "x", "turns": ["a", "b", {"message": "c", "expect": {"bogus": 1}}]}, "unknown expectation"),
        ({"id": "x", "turns": ["a", {"message": "b", "expect": {"list_item": {"turn": 2, "position": 1}}}, "c"]},
         "earlier turn"),
        ({"turns": ["a", "b", "c"]}, "id"),
    ],
)
def test_malformed_scripts_are_rejected(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        parse_script(raw)


def test_corpus_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_corpus(bad)
    bad.write_text(json.dumps({"scripts": [{"id": "a", "turns": ["x", "y", "z"]}] * 2}))
    with pytest.raises(CorpusError, match="duplicate"):
        load_corpus(bad)


def test_zipf_sampler_is_skewed() -> None:
    sampler = ZipfSampler(1000, 1.2)
    rng = random.Random(7)
    draws = [sampler.sample(rng) for _ in range(20000)]
    top = draws.count(0) / len(draws)
    assert abs(top - sampler.probability(0)) < 0.02
    assert top > 50 * (draws.count(500) / len(draws) + 1e-4) or draws.count(500) == 0
    assert len(set(draws)) > 100  # a long tail, not a handful of keys
    with pytest.raises(ValueError):
        ZipfSampler(0, 1.2)


def test_scheduler_counts_missed_starts_when_pool_is_full() -> None:
    """Fixed schedule on a fake clock: slots beyond the pool become missed starts, none vanish."""
    from gevent.pool import Pool

    from harness.loadgen.openmodel import ArrivalScheduler

    now = [1000.0]
    started: list[float] = []
    missed: list[float] = []

    def sleep(dt: float) -> None:
        now[0] += dt

    pool = Pool(3)
    blocker = __import__("gevent").event.Event()

    def session(intended: float) -> None:
        started.append(intended)
        blocker.wait()

    sched = ArrivalScheduler(lambda: 10.0, pool, session, missed.append, clock=lambda: now[0], sleep=sleep)
    sched.run(until=1001.0)  # 10 slots in one simulated second
    assert sched.started + sched.missed == 10
    assert sched.started == 3 and len(missed) == 7
    assert missed == sorted(missed) and abs(missed[1] - missed[0] - 0.1) < 1e-9
    pool.kill()
