"""Whole comparisons of synthetic runs whose true difference is known."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.analyzers.rundata import load_run
from harness.compare import Comparison, MetricRow, Options, compare_samples, load_side, load_sides
from harness.compare.runs import CompareInputError, discover
from tests.compare.synth import Spec, write_run

FAST = Options(resamples=400)


def _row(c: Comparison, phase: str, series: str, stat: str) -> MetricRow:
    return next(r for r in c.rows if (r.phase, r.series, r.stat) == (phase, series, stat))


def _cmp(tmp_path: Path, base: Spec, new: Spec, opt: Options = FAST) -> Comparison:
    return compare_samples(load_side(write_run(tmp_path / "a", base)), load_side(write_run(tmp_path / "b", new)), opt)


def test_aa_pair_is_no_change(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2), Options(resamples=400, noise_floor=0.0))
    assert c.verdict == "no significant change", [r for r in c.rows if r.verdict == "regression"]
    assert c.exit_code == 0
    assert c.unit == "blocks"


def test_20ms_on_every_dynamodb_call_is_a_regression_whose_ci_holds_20ms(tmp_path: Path) -> None:
    # single synthetic runs have no run-to-run spread, so the floor is off here (see the next test)
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2, dynamo_extra_ms=20.0), Options(resamples=400, noise_floor=0.0))
    assert c.verdict == "regression" and c.exit_code == 1
    for phase in ("baseline", "fault", "recovery"):
        p50 = _row(c, phase, "dynamodb.write", "p50")
        assert p50.verdict == "regression"
        assert p50.ci_low is not None and p50.ci_high is not None
        assert p50.ci_low <= 20.0 <= p50.ci_high, (phase, p50)
        assert _row(c, phase, "dynamodb.write", "U-test").verdict == "regression"
    # Redis was not touched
    assert all(r.verdict != "regression" for r in c.rows if r.series.startswith("redis"))


def test_single_runs_under_the_default_noise_floor_are_inconclusive_not_regressions(tmp_path: Path) -> None:
    """+20 ms on ~7 ms calls is +285 %: significant within the runs, but under the measured 400 % floor."""
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2, dynamo_extra_ms=20.0))
    p50 = _row(c, "fault", "dynamodb.write", "p50")
    assert p50.verdict == "inconclusive" and "noise floor of 400%" in p50.note and "5 repetitions" in p50.note
    assert c.verdict == "inconclusive" and c.exit_code == 3


def test_repetitions_switch_to_run_level(tmp_path: Path) -> None:
    for i in range(5):
        write_run(tmp_path / "a", Spec(seed=10 + i))
        write_run(tmp_path / "b", Spec(seed=20 + i, dynamo_extra_ms=20.0))
    c = compare_samples(load_side(tmp_path / "a"), load_side(tmp_path / "b"), FAST)
    assert c.unit == "runs" and len(c.base_runs) == 5 and "run-level" in c.unit_note
    p50 = _row(c, "fault", "dynamodb.write", "p50")
    assert p50.verdict == "regression" and p50.ci_low is not None and p50.ci_high is not None
    assert p50.ci_low <= 20.0 <= p50.ci_high
    # breaker timings are tested at run level
    assert _row(c, "fault", "dynamodb", "time to open").p_value is not None


def test_too_few_samples_is_inconclusive_and_says_how_many(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1, rate=0.5), Spec(seed=2, rate=0.5))
    assert c.verdict == "inconclusive" and c.exit_code == 3
    p99 = _row(c, "fault", "user", "p99")
    assert p99.verdict == "inconclusive" and "1000" in p99.note


def test_p99_needs_1000_samples(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1, rate=30), Spec(seed=2, rate=30))  # 360 fault-phase turns a side
    assert _row(c, "fault", "user", "p95").verdict != "inconclusive"
    assert _row(c, "fault", "user", "p99").verdict == "inconclusive"


def test_a_lost_turn_is_a_regression(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2, lost_turns=1))
    assert _row(c, "all", "dynamodb", "lost turns").verdict == "regression"
    assert c.verdict == "regression"


def test_breaker_that_no_longer_opens_is_a_regression(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2, breaker_opens=False))
    assert _row(c, "fault", "dynamodb", "opened").verdict == "regression"


def test_alarm_firing_only_in_new_is_a_regression(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1), Spec(seed=2, alarms=("circuit_open", "stateless")))
    assert _row(c, "all", "stateless", "fired").verdict == "regression"
    assert _row(c, "all", "circuit_open", "fired").verdict == "~"


def test_degraded_share_increase_is_a_regression(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1, degraded_share_fault=0.02), Spec(seed=2, degraded_share_fault=0.3))
    row = _row(c, "fault", "user", "degraded share")
    assert row.verdict == "regression" and row.p_value is not None and row.p_value < 1e-6
    assert _row(c, "baseline", "user", "degraded share").verdict == "~"


def test_outcome_style_verdict_json_is_read(tmp_path: Path) -> None:
    c = _cmp(tmp_path, Spec(seed=1, verdict_style="outcome"), Spec(seed=2, verdict_style="outcome", lost_turns=2))
    assert _row(c, "all", "dynamodb", "lost turns").new == 2.0


def test_noise_floor_applies_only_without_repetitions(tmp_path: Path) -> None:
    # +2 ms on 7 ms DynamoDB calls (~+28 %): called with the floor at 0, not at 50 %
    opt_strict = Options(resamples=400, noise_floor=0.0)
    assert _row(_cmp(tmp_path / "x", Spec(seed=1), Spec(seed=2, dynamo_extra_ms=2.0), opt_strict),
                "fault", "dynamodb.write", "p50").verdict == "regression"
    c = _cmp(tmp_path / "y", Spec(seed=1), Spec(seed=2, dynamo_extra_ms=2.0), Options(resamples=400, noise_floor=0.5))
    assert _row(c, "fault", "dynamodb.write", "p50").verdict == "inconclusive"
    assert "noise floor of 50%" in c.unit_note


def test_synthetic_aa_false_regression_rate_is_at_most_alpha(tmp_path: Path) -> None:
    """Thirty A/A pairs of iid runs with no noise floor: Holm keeps whole-comparison false regressions <= alpha."""
    false = 0
    pairs = 30
    for i in range(pairs):
        c = _cmp(tmp_path / str(i), Spec(seed=100 + 2 * i, rate=40), Spec(seed=101 + 2 * i, rate=40),
                 Options(resamples=300, noise_floor=0.0, seed=i))
        false += c.verdict == "regression"
    assert false / pairs <= 0.05 + 1 / pairs  # at most alpha, give or take one pair of sampling error


def test_discover(tmp_path: Path) -> None:
    with pytest.raises(CompareInputError):
        discover(tmp_path)
    one = write_run(tmp_path / "side", Spec(seed=1))
    assert discover(one) == [one]
    write_run(tmp_path / "side", Spec(seed=2))
    assert len(discover(tmp_path / "side")) == 2
    assert len(discover(tmp_path)) == 2  # a directory of experiment directories: one level deeper


def test_a_wrong_answer_is_in_the_wrong_share_not_the_error_share(tmp_path: Path) -> None:
    """The Locust recorder marks a wrong answer as a failure; compare must count it once, as wrong."""
    import json

    from harness.analyzers.rundata import load_run
    from harness.compare.runs import _turns_frame

    d = tmp_path / "run"
    (d / "records").mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"run_id": "r", "phases": [{"name": "baseline", "start": 0, "end": 10}]}))
    base = {"kind": "request", "name": "POST /chat", "latency_us": 1000, "memory_mode": "full", "level": 0}
    recs = [{**base, "id": "1", "ts": 1.1, "start": 1.0, "intended_start": 1.0, "status": 200, "error": None,
             "verdict": "resolved"},
            {**base, "id": "2", "ts": 2.1, "start": 2.0, "intended_start": 2.0, "status": 200,
             "error": "wrong answer: missing 'Berserk'", "verdict": "wrong"},
            {**base, "id": "3", "ts": 3.1, "start": 3.0, "intended_start": 3.0, "status": 503,
             "error": "HTTP 503", "verdict": None, "memory_mode": None}]
    (d / "records" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    turns = _turns_frame(load_run(d))
    assert turns["error"].tolist() == [False, False, True]
    assert turns["wrong"].tolist() == [False, True, False]


def test_both_sides_load_to_the_same_samples_in_order(tmp_path: Path) -> None:
    for i in range(3):
        write_run(tmp_path / "a", Spec(seed=30 + i))
    write_run(tmp_path / "b", Spec(seed=40, dynamo_extra_ms=20.0))
    base, new = load_sides(tmp_path / "a", tmp_path / "b")
    one_by_one = load_side(tmp_path / "a"), load_side(tmp_path / "b")
    assert [s.run_id for s in base] == [s.run_id for s in one_by_one[0]] and len(base) == 3
    assert [s.run_id for s in new] == [s.run_id for s in one_by_one[1]]
    for got, want in zip([*base, *new], [*one_by_one[0], *one_by_one[1]], strict=True):
        pd.testing.assert_frame_equal(got.latency, want.latency)
        pd.testing.assert_frame_equal(got.turns, want.turns)
        assert got.breaker == want.breaker and got.lost_turns == want.lost_turns


def test_a_bad_side_is_refused_before_the_other_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_run(tmp_path / "a", Spec(seed=1))
    (tmp_path / "empty").mkdir()
    parsed: list[Path] = []
    monkeypatch.setattr("harness.compare.runs.load_sample", lambda p: parsed.append(p))
    with pytest.raises(CompareInputError, match="holds no run directory"):
        load_sides(tmp_path / "a", tmp_path / "empty")
    assert parsed == []


def test_a_comparison_skips_the_table_scan_and_the_wire_tap(tmp_path: Path) -> None:
    """Neither is read by a comparison; at a million turns each is as large as the records."""
    run = write_run(tmp_path / "a", Spec(seed=1))
    (run / "table.jsonl").write_text("not json at all\n", encoding="utf-8")
    (run / "taps").mkdir(exist_ok=True)
    (run / "taps" / "dynamodb.jsonl").write_text("{broken\n", encoding="utf-8")
    rd = load_run(run, table=False, wire=False)
    assert len(rd.table) == 0 and len(rd.wire) == 0
    assert "table.jsonl" not in rd.malformed and "taps/dynamodb.jsonl" not in rd.malformed
    assert "table.jsonl" not in rd.missing
    full = load_run(run)
    assert full.malformed.get("table.jsonl") == 1 and full.malformed.get("taps/dynamodb.jsonl") == 1


def test_a_comparison_phases_requests_as_the_analyzers_do(tmp_path: Path) -> None:
    """A baseline request the onset caught 0.1 s old is the fault's; one already 2 s old stays the baseline's."""
    import json

    from tests.compare.synth import T0

    run = write_run(tmp_path / "a", Spec(seed=1))
    p = run / "records" / "records.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    young = {"kind": "request", "id": "young", "start": T0 + 5.9, "intended_start": T0 + 5.9, "ts": T0 + 7.9,
             "latency_us": 2_000_000, "status": 200, "error": None, "memory_mode": "full", "level": 0,
             "verdict": "unchecked", "session_id": "sy", "turn": 1}
    old = {**young, "id": "old", "start": T0 + 4.0, "intended_start": T0 + 4.0, "ts": T0 + 6.5,
           "latency_us": 2_500_000, "session_id": "so"}
    p.write_text("".join(json.dumps(r) + "\n" for r in [*recs, young, old]))
    sample = load_side(tmp_path / "a")[0]
    user = sample.latency[sample.latency["series"] == "user"]
    assert (user[user["phase"] == "fault"]["latency_ms"] == 2000.0).sum() == 1
    assert (user[user["phase"] == "baseline"]["latency_ms"] == 2500.0).sum() == 1
    rd = load_run(run)
    assert rd.fault_onset() == T0 + 6.0
    # without fault.start (a run.json from before it was written), the onset is the second phase's start
    meta = json.loads((run / "run.json").read_text())
    del meta["fault"]["start"]
    meta["phases"][1]["start"] = T0 + 6.5
    (run / "run.json").write_text(json.dumps(meta))
    assert load_run(run).fault_onset() == T0 + 6.5
