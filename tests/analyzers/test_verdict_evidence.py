"""The three-state verdict rests on evidence: each check passes, fails or says it cannot decide, and why.

Covers the percentile bounds (quantile_ci), request outcomes (requests), the
latency checks' sample sizes, the breaker's calls on the wire (breaker_wire),
durability of every 200 reply, and how checks add up to a verdict and exit code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom, norm

from harness.analyzers import Verdict, analyze_loaded, analyze_run, load_run
from harness.analyzers.base import EXIT_CODES, AnalyzerResult
from harness.analyzers.breaker import BreakerAnalyzer
from harness.analyzers.breaker_wire import GRACE_S
from harness.analyzers.durability import DurabilityAnalyzer
from harness.analyzers.dynamo_calls import WIRE
from harness.analyzers.quantile_ci import (
    bound,
    decide,
    judge_quantile,
    lower_rank,
    samples_to_decide,
    upper_rank,
    upper_rank_min,
)
from harness.analyzers.rundata import WIRE_COLUMNS
from harness.slo import Slo, load_slo
from tests.analyzers.synth import (
    edit_records,
    edit_run_json,
    phase_bounds,
    read_jsonl,
    transitions,
    wire_call,
    write_jsonl,
)


def check(v: Verdict, name: str):  # type: ignore[no-untyped-def]
    found = [c for c in v.checks if c.name == name]
    assert found, f"no check {name}; have {[c.name for c in v.checks]}"
    return found[0]


def slo_with(tmp: Path, data: dict[str, Any]) -> Slo:
    f = tmp / "slo-override.json"
    f.write_text(json.dumps(data))
    return load_slo(f)


# ================================================================ quantile_ci
Q, CONF, TRIALS = 0.99, 0.95, 400


@pytest.mark.parametrize("n", [299, 500, 2000])
def test_upper_bound_on_p99_covers_the_true_p99(n: int) -> None:
    """The one-sided 95 % upper bound lies above the true p99 in ~95 % of samples, whatever the distribution."""
    rng = np.random.default_rng(20261203 + n)
    mu, sigma = math.log(40.0), 0.6  # latencies in ms, lognormal: true p99 known in closed form
    true_p99 = math.exp(mu + sigma * float(norm.ppf(Q)))
    covered = 0
    for _ in range(TRIALS):
        b = bound(rng.lognormal(mu, sigma, n), Q, CONF)
        assert b.upper is not None and b.n == n
        assert b.lower is not None and b.lower <= (b.estimate or 0) <= b.upper
        covered += b.upper >= true_p99
    share = covered / TRIALS
    assert share >= 0.93, share
    # and not vacuously: the exact coverage of the order statistic it picks, within sampling noise
    k = upper_rank(n, Q, CONF)
    assert k is not None
    exact = float(binom.cdf(k - 1, n, Q))
    assert exact >= CONF
    assert abs(share - exact) <= 4 * math.sqrt(exact * (1 - exact) / TRIALS), (share, exact)


def test_lower_bound_on_p99_stays_below_the_true_p99() -> None:
    rng = np.random.default_rng(7)
    true_p99 = -math.log(1 - Q) * 25.0  # exponential, mean 25 ms
    below = sum((b := bound(rng.exponential(25.0, 800), Q, CONF)).lower is not None and b.lower <= true_p99
                for _ in range(TRIALS))
    assert below / TRIALS >= 0.93


def test_p99_needs_299_samples_at_95_percent() -> None:
    assert upper_rank_min(Q, CONF) == 299  # 1 - 0.99**299 >= 0.95 > 1 - 0.99**298
    assert 1 - Q ** 299 >= CONF > 1 - Q ** 298
    assert upper_rank(298, Q, CONF) is None
    assert upper_rank(299, Q, CONF) == 299  # the maximum is the only bound
    assert samples_to_decide(299, 0.0, Q, CONF) == 299
    assert samples_to_decide(300, 0.0, Q, CONF) == 300  # already enough: the current count
    # a sample of 299 all under the target passes; 298 cannot
    assert judge_quantile(np.full(299, 5.0), Q, 1000.0, CONF)[0] == "pass"
    assert judge_quantile(np.full(298, 5.0), Q, 1000.0, CONF)[0] == "inconclusive"


@pytest.mark.parametrize("n", [1, 10, 100, 298])
def test_samples_to_decide_from_a_small_sample_is_299(n: int) -> None:
    assert samples_to_decide(n, 0.0, Q, CONF) == 299


@pytest.mark.parametrize("n", [1, 20, 100, 298])
def test_small_sample_is_inconclusive_and_says_how_many_are_needed(n: int) -> None:
    decision, b, why = judge_quantile(np.full(n, 5.0), Q, 1000.0, CONF)
    assert decision == "inconclusive" and b.upper is None and b.n == n
    assert f"n={n}" in why and "samples would decide it" in why
    assert "at least 299 are needed for any 95% upper bound on p99" in why
    need = int(why.split("about ")[1].split(" samples")[0])
    assert need >= 299


def test_small_sample_can_still_decide_a_clear_miss() -> None:
    """Few samples cannot prove a p99 good, but 50 samples all at 5 s prove it bad."""
    decision, b, why = judge_quantile(np.full(50, 5000.0), Q, 1000.0, CONF)
    assert decision == "fail" and b.lower == 5000.0 and why == ""
    assert lower_rank(50, Q, CONF) is not None


def test_decide_straddling_bounds_is_inconclusive() -> None:
    b = bound(np.linspace(1.0, 2000.0, 1000), Q, CONF)
    assert b.lower is not None and b.upper is not None and b.lower < b.upper
    assert decide(b, (b.lower + b.upper) / 2) == "inconclusive"
    assert decide(b, b.upper) == "pass" and decide(b, b.upper, strict=True) != "pass"
    assert decide(b, b.lower - 1e-6) == "fail"


# ================================================================ requests
FAULTS: dict[str, dict[str, Any]] = {
    "transport": {"status": None, "error": "ConnectionRefusedError(111, 'Connection refused')", "verdict": "error"},
    "timeout": {"status": None, "error": "TimeoutError('timed out')", "verdict": "error"},
    "non-2xx": {"status": 503, "error": None, "verdict": "error"},
    "missing contract fields": {"status": 200, "error": None, "verdict": "unchecked"},
}


def _break(rec: dict[str, Any], how: dict[str, Any]) -> None:
    rec.update(how, memory_mode=None, level=None, reason=None, persisted=None,
               user_message_sha256=None, reply_sha256=None)


def _in_fault(r: dict[str, Any], f0: float, f1: float) -> bool:
    """Started in the fault phase, or in flight for under 1 s (the baseline's p99 target) when it began."""
    return f0 <= r["intended_start"] < f1 or (r["intended_start"] < f0 < r["ts"] and f0 - r["intended_start"] < 1.0)


@pytest.mark.parametrize("kind", list(FAULTS))
def test_a_phase_where_every_request_failed_fails(make_run: Callable[..., Path], kind: str) -> None:
    d = make_run()
    f0, f1 = phase_bounds(d, "fault")
    n = 0

    def edit(recs: list[dict[str, Any]]) -> None:
        nonlocal n
        for r in recs:
            if _in_fault(r, f0, f1):
                _break(r, FAULTS[kind])
                n += 1

    edit_records(d, edit)
    v = analyze_run(d)
    c = check(v, "requests.fault.failed")
    assert c.failed and c.required and c.measured == n > 290
    assert f"{kind} {n}" in c.detail and f"{n} of {n} failed in the fault phase" in c.detail
    assert check(v, "requests.baseline.failed").passed and check(v, "requests.recovery.failed").passed
    assert v.outcome == "fail" and v.exit_code == 1 and "requests.fault.failed" in v.headline()
    assert v.results["requests"].data["by_phase"]["fault"]["share"] == 1.0


@pytest.mark.parametrize("error", ["in flight when the load stopped (timeout)", "in flight when the load stopped"])
def test_in_flight_at_stop_counts_as_failed(make_run: Callable[..., Path], error: str) -> None:
    """Requests Locust killed at stop are recorded as timeouts at the stop time: failed turns, not dropped."""
    d = make_run()
    _, r1 = phase_bounds(d, "recovery")

    def edit(recs: list[dict[str, Any]]) -> None:
        for r in recs[-3:]:
            _break(r, {"status": None, "error": error, "verdict": "error"})
            r["ts"] = r1
            r["latency_us"] = int((r1 - r["start"]) * 1e6)

    edit_records(d, edit)
    v = analyze_run(d)
    c = check(v, "requests.recovery.failed")
    assert c.failed and c.measured == 3 and "timeout 3" in c.detail and "in flight" in c.detail
    assert v.results["requests"].data["by_phase"]["recovery"]["timeout"] == 3
    assert v.outcome == "fail"


def test_no_usable_reply_without_an_error_counts_as_failed(make_run: Callable[..., Path]) -> None:
    d = make_run()

    def edit(recs: list[dict[str, Any]]) -> None:
        for r in recs[:2]:
            _break(r, {"status": None, "error": None, "verdict": "error"})

    edit_records(d, edit)
    c = check(analyze_run(d), "requests.baseline.failed")
    assert c.failed and c.measured == 2


def test_wrong_answers_are_not_failed_requests(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(wrong_in_baseline=2))
    assert check(v, "requests.baseline.failed").passed
    assert check(v, "correctness.baseline.wrong").failed


def test_failed_share_per_phase_and_scenario_from_the_slo(make_run: Callable[..., Path], tmp_path: Path) -> None:
    d = make_run()
    f0, f1 = phase_bounds(d, "fault")
    n_ws = 0

    def edit(recs: list[dict[str, Any]]) -> None:
        nonlocal n_ws
        for i, r in enumerate(recs):
            if i % 2:
                r["scenario"] = "websocket"
                if f0 <= r["intended_start"] < f1 and i % 10 == 1:
                    _break(r, FAULTS["timeout"])
                    n_ws += 1

    edit_records(d, edit)
    v = analyze_run(d)
    assert check(v, "requests.fault.failed").failed
    assert check(v, "requests.fault.websocket.failed").failed
    assert check(v, "requests.fault.websocket.failed").measured == n_ws
    assert check(v, "requests.fault.chat.failed").passed
    assert check(v, "requests.baseline.chat.failed").passed
    lenient = slo_with(tmp_path, {"requests": {"max_failed_share": {"fault": 0.2}}})
    v2 = analyze_run(d, lenient)
    assert check(v2, "requests.fault.failed").passed and check(v2, "requests.fault.websocket.failed").passed


def test_early_abort_fails_the_run(make_run: Callable[..., Path]) -> None:
    d = make_run()
    edit_run_json(d, status="aborted", aborted={"reason": "all 12 requests in the first 3 s failed", "requests": 12})
    v = analyze_run(d)
    c = check(v, "requests.early_abort")
    assert c.failed and c.required and c.measured == 12 and "all 12 requests" in c.detail
    assert check(v, "run.completed").failed
    assert v.outcome == "fail" and v.exit_code == 1


def test_early_abort_fails_even_without_records(make_run: Callable[..., Path]) -> None:
    """An abort before any record was written is a fail, not a run with too little evidence."""
    d = make_run()
    edit_run_json(d, status="aborted", aborted={"reason": "target refused every connection", "requests": 5})
    (d / "records" / "records.jsonl").unlink()
    v = analyze_run(d)
    assert check(v, "requests.early_abort").failed
    assert check(v, "requests.evidence").inconclusive
    assert v.outcome == "fail" and v.exit_code == 1


# ================================================================ latency
def test_few_samples_make_p99_inconclusive_not_pass(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(baseline_s=5.0))  # 100 baseline requests, all fast, one in flight at the onset
    c = check(v, "latency.baseline.p99")
    assert c.inconclusive and c.required and not c.passed
    assert c.measured is not None and c.measured < 1000  # the estimate looks fine: it just cannot be trusted
    assert "n=99" in c.detail and "at least 299 are needed" in c.reason
    assert check(v, "latency.fault.p99").passed  # 800 samples decide it
    assert v.outcome == "inconclusive" and v.exit_code == 3
    assert v.headline().startswith("INCONCLUSIVE: latency.baseline.p99: ")


def test_failed_requests_stay_in_the_latency_distribution(make_run: Callable[..., Path]) -> None:
    """Timeouts 5 s after their start push the fault p99 over 1 s; dropping them would hide it."""
    d = make_run()
    f0, f1 = phase_bounds(d, "fault")
    n_fault = n_bad = 0

    def edit(recs: list[dict[str, Any]]) -> None:
        nonlocal n_fault, n_bad
        for r in recs:
            if _in_fault(r, f0, f1):
                n_fault += 1
                if n_fault % 20 == 0:  # 5 %
                    _break(r, FAULTS["timeout"])
                    r["ts"] = r["start"] + 5.0
                    r["latency_us"] = 5_000_000
                    n_bad += 1

    edit_records(d, edit)
    v = analyze_run(d)
    lat = v.results["latency"].data
    assert lat["by_phase"]["fault"]["corrected"]["count"] == n_fault
    assert lat["error_share"]["fault"] == pytest.approx(n_bad / n_fault, abs=1e-6)
    c = check(v, "latency.fault.p99")
    assert c.failed and c.measured >= 4900 and f"{n_bad / n_fault:.2%} of these {n_fault} failed" in c.detail
    assert check(v, "latency.baseline.p99").passed


# ================================================================ breaker on the wire
T0 = 1_764_300_000.0


def _wire_run(d: Path, mutate: str = "") -> Path:
    """A hand-built run: 5 timed-out calls open the breaker at +11, a failed probe, a good probe, closed."""
    d.mkdir(parents=True, exist_ok=True)
    at = T0 + 10.0  # fault start
    run = {"run_id": d.name, "variant": "hardened",
           "phases": [{"name": "baseline", "start": T0, "end": at}, {"name": "fault", "start": at, "end": at + 20},
                      {"name": "recovery", "start": at + 20, "end": at + 40}],
           "fault": {"kind": "dynamo-latency-2s", "start": at, "end": at + 20, "dynamodb": {"latency_ms": 2000}},
           "breaker": {"threshold": 5, "window_s": 10.0, "open_s": 10.0, "timeout_ms": 200}, "status": "completed"}
    (d / "run.json").write_text(json.dumps(run))
    opened, half1, reopened, half2, closed = at + 1.0, at + 11.0, at + 11.21, at + 21.21, at + 21.22

    def tr(ts: float, a: str, b: str) -> dict[str, Any]:
        return {"ts": ts, "event": "breaker_transition", "breaker": "dynamodb", "from": a, "to": b}

    events = [tr(opened, "closed", "open"), tr(half1, "open", "half_open"),
              {"ts": reopened, "event": "breaker_probe", "breaker": "dynamodb", "outcome": "failure"},
              tr(reopened, "half_open", "open"), tr(half2, "open", "half_open"),
              {"ts": closed, "event": "breaker_probe", "breaker": "dynamodb", "outcome": "success"},
              tr(closed, "half_open", "closed")]
    calls: list[tuple[float, float, int | None]] = [(T0 + 5.0, T0 + 5.004, 200), (T0 + 6.0, T0 + 6.003, 200)]
    for i in range(5):  # timed out: the service hung up after 200 ms; the 5th failure opens the breaker
        s = at + 0.2 * i
        ok_instead = mutate == "threshold" and i < 3
        slow = mutate == "slow_answers"
        if i == 0 and mutate.startswith("slowish"):  # answered in 150 ms: did the busy service time it out?
            calls.append((s, s + 0.15, 200))
            if mutate != "slowish_unlogged":
                lag = 0.17 if mutate == "slowish_logged" else 0.6  # in flight, or well after its answer
                events.append({"ts": s + lag, "event": "memory_read", "store": "dynamodb", "outcome": "timeout"})
            continue
        calls.append((s, s + (0.005 if ok_instead else 0.25 if slow else 0.2), 200 if ok_instead or slow else None))
        if mutate.startswith("slowish"):
            events.append({"ts": s + 0.2, "event": "memory_read", "store": "dynamodb", "outcome": "timeout"})
    if mutate != "probe_not_made":
        calls.append((half1 + 0.01, reopened, None))  # probe 1, hung up
    calls.append((half2 + 0.001, closed, 200))  # probe 2
    calls += [(closed + 0.05, closed + 0.055, 200), (at + 30.0, at + 30.004, 200)]
    if mutate == "call_while_open":
        calls.append((opened + 4.0, opened + 4.003, 200))
    if mutate == "call_within_grace":  # decided while closed, reached the proxy 20 ms after the opening
        calls.append((opened + 0.02, opened + 0.023, 200))
    if mutate == "two_probes":
        calls.append((half2 + 0.002, half2 + 0.005, 200))
    events.sort(key=lambda e: e["ts"])
    write_jsonl(d / "events.jsonl", events)
    rows = [row for i, (s, e, st) in enumerate(calls)
            for row in wire_call(i + 1, s, e, "DynamoDB_20120810.Query", st)]
    rows.sort(key=lambda r: r["ts"])
    assert all(set(r) == set(WIRE_COLUMNS) for r in rows)
    write_jsonl(d / "taps" / "dynamodb.jsonl", rows)
    return d


def _breaker_verdict(d: Path) -> Verdict:
    return analyze_loaded(load_run(d), None, [BreakerAnalyzer()])


WIRE_CHECKS = ("breaker.wire_silent_while_open", "breaker.wire_one_probe_per_half_open",
               "breaker.wire_threshold_before_open")


@pytest.mark.parametrize("mutate", ["", "call_within_grace", "slow_answers"])
def test_correct_wire_trace_passes(tmp_path: Path, mutate: str) -> None:
    assert GRACE_S >= 0.02  # the lag the call_within_grace trace needs tolerated
    v = _breaker_verdict(_wire_run(tmp_path / "run", mutate))
    for name in WIRE_CHECKS:
        assert check(v, name).passed, check(v, name)
    br = v.results["breaker"].data
    assert br["evidence"] == WIRE and br["wire"]["calls_per_half_open"] == [1, 1]
    assert br["wire"]["disagreement"] == ""
    assert check(v, "breaker.wire_threshold_before_open").measured == 5
    assert v.outcome == "pass", v.headline()


@pytest.mark.parametrize(("mutate", "failing", "measured", "words"), [
    ("call_while_open", "breaker.wire_silent_while_open", 1, "1 calls (Query 1) while open from t+11.000s"),
    ("two_probes", "breaker.wire_one_probe_per_half_open", 1, "2 calls (Query 2) in half-open from t+31.210s"),
    ("threshold", "breaker.wire_threshold_before_open", 2, "after 2 failed calls in the 10 s before"),
])
def test_wire_contradicts_the_service_log(tmp_path: Path, mutate: str, failing: str, measured: int,
                                          words: str) -> None:
    v = _breaker_verdict(_wire_run(tmp_path / "run", mutate))
    c = check(v, failing)
    assert c.failed and c.required and c.measured == measured and words in c.detail, c.detail
    for name in WIRE_CHECKS:
        if name != failing:
            assert check(v, name).passed, check(v, name)
    # the service's own log still tells a perfect story: only the wire catches it
    for name in ("breaker.legal_transitions", "breaker.one_probe_per_half_open", "breaker.opened_after_fault"):
        assert check(v, name).passed
    assert v.outcome == "fail" and v.exit_code == 1


def test_a_slow_answer_the_log_failed_in_flight_completes_the_count(tmp_path: Path) -> None:
    # 4 calls hung up on the wire, one answered in 150 ms that the busy service's timer had already failed.
    v = _breaker_verdict(_wire_run(tmp_path / "run", "slowish_logged"))
    c = check(v, "breaker.wire_threshold_before_open")
    assert c.passed and c.measured == 5 and "[4] failed on the wire, plus [1] answers slower" in c.detail, c
    assert v.outcome == "pass", v.headline()


@pytest.mark.parametrize("mutate", ["slowish_unlogged", "slowish_logged_later"])
def test_a_slow_answer_the_log_does_not_account_for_is_inconclusive(tmp_path: Path, mutate: str) -> None:
    # Without a failure logged while the call was in flight, the wire's 4 cannot
    # be completed: a breaker that opened on 4 looks the same.
    v = _breaker_verdict(_wire_run(tmp_path / "run", mutate))
    c = check(v, "breaker.wire_threshold_before_open")
    assert c.inconclusive and c.required and "after 4 failures on the wire, 1 answers slower" in c.reason, c
    assert v.outcome == "inconclusive" and v.exit_code == 3


def test_probe_logged_but_unseen_on_the_wire_is_inconclusive(tmp_path: Path) -> None:
    # Either no probe was made, or a starved loop timed it out before its bytes left: the wire cannot tell.
    v = _breaker_verdict(_wire_run(tmp_path / "run", "probe_not_made"))
    c = check(v, "breaker.wire_one_probe_per_half_open")
    assert c.inconclusive and c.required and "no call in half-open from t+21.000s" in c.reason, c
    assert v.outcome == "inconclusive" and v.exit_code == 3


def test_synthetic_run_with_wire_tap_passes(make_run: Callable[..., Path]) -> None:
    d = make_run(wire_tap=True)
    v = analyze_run(d)
    assert v.outcome == "pass", v.headline()
    for name in WIRE_CHECKS:
        assert check(v, name).passed
    opens = sum(t["to"] == "open" for t in transitions(d))
    assert v.results["breaker"].data["wire"]["calls_per_half_open"] == [1] * opens
    # the wire tap, not the service log, is the DynamoDB latency evidence too
    assert v.results["latency"].data["dynamodb_source"] == WIRE


def test_synthetic_wire_tap_catches_calls_while_open(make_run: Callable[..., Path]) -> None:
    d = make_run(wire_tap=True)
    first_open = next(t["ts"] for t in transitions(d) if t["to"] == "open")
    tap = d / "taps" / "dynamodb.jsonl"
    rows = read_jsonl(tap) + wire_call(10**6, first_open + 2.0, first_open + 2.002, "DynamoDB_20120810.PutItem")
    write_jsonl(tap, sorted(rows, key=lambda r: r["ts"]))
    v = analyze_run(d)
    c = check(v, "breaker.wire_silent_while_open")
    assert c.failed and c.measured == 1 and "PutItem 1" in c.detail
    assert v.outcome == "fail"


# ================================================================ durability
def _durability_run(d: Path, replies: list[dict[str, Any]], stored: list[tuple[str, int]]) -> Verdict:
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps({"run_id": "dur", "phases": [{"name": "baseline", "start": 0.0,
                                                                         "end": 100.0}]}))
    recs = [{"kind": "request", "id": f"w:{i}", "ts": 1.0 + i, "start": 0.5 + i, "intended_start": 0.5 + i,
             "latency_us": 500_000, "error": None, "name": "POST /chat", "memory_mode": "full", **r}
            for i, r in enumerate(replies)]
    write_jsonl(d / "records" / "records.jsonl", recs)
    write_jsonl(d / "table.jsonl", [{"session_id": s, "turn_number": t, "timestamp": 1, "ttl": 1 + 86400,
                                     "user_message": "m", "assistant_reply": "r", "intent": "chitchat"}
                                    for s, t in stored])
    return analyze_loaded(load_run(d), None, [DurabilityAnalyzer()])


@pytest.mark.parametrize("persisted", [True, None])
def test_a_200_reply_missing_from_the_table_is_lost(tmp_path: Path, persisted: bool | None) -> None:
    """Every 200 reply is a turn the user saw, whether or not it claimed ``persisted``."""
    replies = [{"status": 200, "session_id": "s1", "turn": 1, "persisted": True},
               {"status": 200, "session_id": "s1", "turn": 2, "persisted": persisted},
               {"status": 503, "session_id": "s1", "turn": 3, "persisted": None}]  # not a reply: not looked for
    v = _durability_run(tmp_path / "run", replies, stored=[("s1", 1)])
    c = check(v, "durability.no_lost_turns")
    assert c.failed and c.required and c.measured == 1 and "1 of 2 replies missing" in c.detail
    assert [(x["session_id"], x["turn"]) for x in v.results["durability"].data["lost"]] == [("s1", 2)]
    assert v.outcome == "fail" and v.exit_code == 1


def test_all_200_replies_stored_passes(tmp_path: Path) -> None:
    replies = [{"status": 200, "session_id": "s1", "turn": t, "persisted": True} for t in (1, 2)]
    v = _durability_run(tmp_path / "run", replies, stored=[("s1", 1), ("s1", 2)])
    assert check(v, "durability.no_lost_turns").passed and v.outcome == "pass"


def test_persisted_false_that_never_arrives_fails(tmp_path: Path) -> None:
    replies = [{"status": 200, "session_id": "s1", "turn": 1, "persisted": True},
               {"status": 200, "session_id": "s1", "turn": 2, "persisted": False}]
    v = _durability_run(tmp_path / "run", replies, stored=[("s1", 1)])
    assert check(v, "durability.no_lost_turns").passed
    c = check(v, "durability.never_arrived")
    assert c.failed and c.measured == 1 and "s1#2" in c.detail


def test_no_replies_to_look_for_is_inconclusive(tmp_path: Path) -> None:
    v = _durability_run(tmp_path / "run", [{"status": 503, "session_id": "s1", "turn": 1, "persisted": None}], [])
    c = check(v, "durability.no_lost_turns")
    assert c.inconclusive and c.required and "no 200 replies" in c.reason
    assert v.outcome == "inconclusive" and v.exit_code == 3


# ================================================================ verdict
class Fake:
    """An analyzer that reports the given (check name, outcome) pairs."""

    requires = ()
    missing_means = ""

    def __init__(self, name: str, checks: list[tuple[str, str]], skip: str = "") -> None:
        self.name, self._checks, self._skip = name, checks, skip

    def analyze(self, run: object, slo: object) -> AnalyzerResult:
        r = AnalyzerResult(self.name)
        for n, outcome in self._checks:
            r.judge(n, outcome, 1, "target", "detail", "not enough samples" if outcome == "inconclusive" else "")  # type: ignore[arg-type]
        return r.skip(self._skip) if self._skip else r


@pytest.fixture()
def empty_run(tmp_path: Path) -> Any:
    return load_run(tmp_path)


@pytest.fixture()
def verdict_slo(tmp_path: Path) -> Slo:
    return slo_with(tmp_path, {"verdict": {"required": ["must.*"], "optional": ["maybe.*"]}})


def _verdict(run: Any, slo: Slo, *fakes: Fake) -> Verdict:
    return analyze_loaded(run, slo, list(fakes))


def test_required_inconclusive_and_no_fail_is_inconclusive(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("must", [("a", "pass"), ("b", "inconclusive")]),
                 Fake("other", [("c", "pass")]))
    assert check(v, "must.b").required and not check(v, "other.c").required
    assert v.outcome == "inconclusive" and v.exit_code == 3 == EXIT_CODES["inconclusive"] and not v.passed
    assert v.headline() == "INCONCLUSIVE: must.b: not enough samples"
    d = v.to_dict()
    assert d["outcome"] == "inconclusive" and d["counts"] == {"pass": 2, "fail": 0, "inconclusive": 1}


def test_optional_fail_does_not_fail_the_run(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("must", [("a", "pass")]), Fake("maybe", [("x", "fail")]))
    c = check(v, "maybe.x")
    assert c.failed and c.optional and not c.required
    assert v.failed_checks == [] and v.outcome == "pass" and v.exit_code == 0
    assert v.to_dict()["counts"]["fail"] == 1  # still reported


def test_any_non_optional_fail_fails_the_run(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("must", [("a", "pass"), ("b", "inconclusive")]),
                 Fake("other", [("c", "fail")]))
    assert v.outcome == "fail" and v.exit_code == 1 and v.headline() == "FAIL: other.c"


def test_unrequired_inconclusive_does_not_block_a_pass(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("must", [("a", "pass")]), Fake("other", [("c", "inconclusive")]))
    assert v.outcome == "pass" and v.exit_code == 0


def test_no_required_check_decided_is_inconclusive(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("other", [("c", "pass")]), Fake("maybe", [("x", "pass")]))
    assert v.outcome == "inconclusive" and v.exit_code == 3
    assert v.headline() == "INCONCLUSIVE: no required check was decided"
    assert _verdict(empty_run, verdict_slo).outcome == "inconclusive"  # no checks at all


def test_skipped_required_analyzer_is_inconclusive(empty_run: Any, verdict_slo: Slo) -> None:
    v = _verdict(empty_run, verdict_slo, Fake("must", [("a", "pass")], skip="events.jsonl not found"),
                 Fake("other", [("c", "pass")]))
    ev = check(v, "must.evidence")
    assert ev.inconclusive and ev.required and ev.reason == "events.jsonl not found"
    assert v.skipped == {"must": "events.jsonl not found"}
    assert v.outcome == "inconclusive" and v.headline().startswith("INCONCLUSIVE: must.evidence: events.jsonl")


def test_optional_wins_over_required_and_may_name_an_analyzer(empty_run: Any, tmp_path: Path) -> None:
    slo = slo_with(tmp_path, {"verdict": {"required": ["*"], "optional": ["maybe"]}})
    v = _verdict(empty_run, slo, Fake("must", [("a", "pass")]), Fake("maybe", [("x", "fail"), ("y", "inconclusive")]))
    assert check(v, "maybe.x").optional and not check(v, "maybe.x").required
    assert not check(v, "maybe.y").required
    assert check(v, "must.a").required
    assert v.outcome == "pass"


def test_default_slo_requirements() -> None:
    slo = load_slo()
    req, opt = slo.get("verdict", "required"), slo.get("verdict", "optional")
    for pattern in ("requests.*", "latency.fault.p99", "durability.*", "breaker.*", "correctness.*"):
        assert pattern in req
    assert "latency.dynamodb.*" in opt


def test_a_log_the_wire_contradicts_is_shown_in_the_summary(tmp_path: Path) -> None:
    from harness.report.summary_md import write_summary

    v = _breaker_verdict(_wire_run(tmp_path / "run", "two_probes"))
    said = v.results["breaker"].data["wire"]["disagreement"]
    assert said == "the service logged 2 probes; the wire saw 3 calls in half-open episodes"
    summary = write_summary(tmp_path / "summary.md", v).read_text()
    assert f"**Service log vs wire:** {said}" in summary
    calm = _breaker_verdict(_wire_run(tmp_path / "calm", ""))
    assert "Service log vs wire" not in write_summary(tmp_path / "calm.md", calm).read_text()
