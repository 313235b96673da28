"""Which unresolved references the correctness analyzer blames on the service."""

from __future__ import annotations

import pandas as pd

from harness.analyzers.correctness import relabel


def _recs(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"verdict": "unchecked", "memory_mode": "full", "status": 200, "referent_distance": None,
            "expected_session_id": None, "session_id": "s1", "conversation": "c1"}
    return pd.DataFrame([{**base, "ts": float(i), "intended_start": float(i), **r} for i, r in enumerate(rows)])


def test_a_failed_first_turn_without_a_session_excuses_the_reference_after_it() -> None:
    # The anchor turn got a 503 before any session existed: the service never saw it, so the
    # next turn's "is it on Kindle?" had nothing to resolve. The 503 is the failure, not this.
    recs = _recs([
        {"status": 503, "memory_mode": None, "session_id": None, "verdict": "error"},
        {"verdict": "wrong", "referent_distance": 1},
    ])
    assert list(relabel(recs, window=5)) == ["error", "degraded"]


def test_without_a_failure_in_between_the_same_answer_is_wrong() -> None:
    recs = _recs([{"verdict": "resolved"}, {"verdict": "wrong", "referent_distance": 1, "expected_session_id": "s1"}])
    assert list(relabel(recs, window=5)) == ["resolved", "wrong"]


def test_another_conversations_failure_excuses_nothing() -> None:
    recs = _recs([
        {"status": 503, "memory_mode": None, "session_id": None, "verdict": "error", "conversation": "c2"},
        {"verdict": "resolved"},
        {"verdict": "wrong", "referent_distance": 1, "expected_session_id": "s1"},
    ])
    assert list(relabel(recs, window=5)) == ["error", "resolved", "wrong"]


def test_cache_only_that_drops_a_referent_inside_its_window_is_wrong() -> None:
    recs = _recs([{"verdict": "resolved"},
                  {"verdict": "degraded", "memory_mode": "cache_only", "referent_distance": 1}])
    assert list(relabel(recs, window=5)) == ["resolved", "wrong"]
