"""Each analyzer on synthetic run directories: healthy passes, each injected defect fails its check."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from harness.analyzers import Verdict, analyze_run
from harness.analyzers.base import AnalyzerResult
from harness.analyzers.rundata import RunDataError
from harness.slo import SloError, load_slo
from tests.analyzers.synth import edit_records


def check(v: Verdict, name: str):  # type: ignore[no-untyped-def]
    found = [c for c in v.checks if c.name == name]
    assert found, f"no check {name}; have {[c.name for c in v.checks]}"
    return found[0]


def test_healthy_run_passes_every_check(healthy: tuple[Path, Verdict]) -> None:
    _, v = healthy
    assert v.outcome == "pass" and v.exit_code == 0 and v.passed, v.headline()
    assert [c for c in v.checks if not c.passed] == []
    assert v.headline() == f"PASS: {len(v.checks)} checks passed"
    names = {c.name for c in v.checks}
    for n in ("requests.baseline.failed", "requests.fault.failed", "requests.recovery.failed",
              "latency.baseline.p99", "latency.fault.p99", "latency.recovery.p99",
              "latency.dynamodb.baseline.Query.p99", "latency.dynamodb.baseline.PutItem.p99",
              "breaker.legal_transitions", "breaker.opened_after_fault", "breaker.closed_after_recovery",
              "breaker.one_probe_per_half_open", "breaker.open_duration", "alarms.stateless.baseline_silent",
              "partitions.no_hot_partition", "durability.no_lost_turns", "durability.ttl_24h",
              "correctness.baseline.wrong", "correctness.fault.wrong", "correctness.recovery.wrong",
              "run.rollback", "run.completed"):
        assert n in names
    assert all(r.status == "ok" for r in v.results.values())
    # every required pattern of the default SLO is decided by at least one passing check
    required = [c for c in v.checks if c.required]
    for pattern in load_slo().get("verdict", "required"):
        assert any(fnmatchcase(c.name, pattern) and c.passed for c in required), pattern
    assert check(v, "latency.dynamodb.baseline.Query.p99").optional  # the embedded stand-in is not DynamoDB
    # the p99 passes rest on enough samples for a 95 % upper bound (>= 299 per phase)
    for ph in ("baseline", "fault", "recovery"):
        c = check(v, f"latency.{ph}.p99")
        assert c.required and c.reason == ""
        n = int(re.search(r"n=(\d+)", c.detail).group(1))  # type: ignore[union-attr]
        assert n >= 299
    assert "content compared by SHA-256" in check(v, "durability.no_lost_turns").detail
    d = v.to_dict()
    assert d["outcome"] == "pass" and d["counts"] == {"pass": len(v.checks), "fail": 0, "inconclusive": 0}
    assert d["skipped"] == {}


# ---------------------------------------------------------------- latency
def test_latency_percentiles_match_numpy(healthy: tuple[Path, Verdict]) -> None:
    import numpy as np

    d, v = healthy
    recs = [json.loads(x) for x in (d / "records" / "records.jsonl").read_text().splitlines()]
    run = json.loads((d / "run.json").read_text())
    b0, b1 = run["phases"][0]["start"], run["phases"][0]["end"]
    onset = run["fault"]["start"]  # a baseline request still in flight then is the fault phase's
    lat = np.array([(r["ts"] - r["intended_start"]) * 1000 for r in recs
                    if b0 <= r["intended_start"] < b1 and r["ts"] <= onset])
    got = v.results["latency"].data["by_phase"]["baseline"]["corrected"]
    assert got["count"] == len(lat)
    assert got["p99"] == pytest.approx(np.percentile(lat, 99), rel=0.01)
    assert set(v.results["latency"].data["by_mode"]) >= {"full", "cache_only", "stateless"}


def test_slow_dynamodb_in_baseline_fails_p99(make_run: Callable[..., Path]) -> None:
    d = make_run(slow_dynamo_baseline=True)
    v = analyze_run(d)
    c = check(v, "latency.dynamodb.baseline.Query.p99")
    assert c.failed and c.measured >= 15 and "n=600" in c.detail
    # the default SLO only reports the DynamoDB goal (the stand-in is not AWS): it must not fail the run ...
    assert c.optional and c not in v.failed_checks and v.outcome == "pass"
    # ... and decides the verdict once the SLO no longer lists it as optional
    v2 = analyze_run(d, load_slo_override(d, {"verdict": {"optional": []}}))  # type: ignore[arg-type]
    c2 = check(v2, "latency.dynamodb.baseline.Query.p99")
    assert c2.failed and not c2.optional and v2.outcome == "fail" and v2.exit_code == 1


def test_slow_chat_in_fault_fails_only_fault_phase(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(slow_chat_fault=True))
    assert not check(v, "latency.fault.p99").passed
    assert check(v, "latency.baseline.p99").passed


def test_coordinated_omission_corrected_from_intended_start(make_run: Callable[..., Path]) -> None:
    d = make_run()
    p = d / "records" / "records.jsonl"
    lines = [json.loads(x) for x in p.read_text().splitlines()]
    for r in lines[600:800]:  # fault-phase open-model arrivals started 2 s late
        r["intended_start"] = r["start"] - 2.0
    p.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    v = analyze_run(d)
    fault = v.results["latency"].data["by_phase"]["fault"]
    assert fault["corrected"]["p99"] > 2000 > fault["uncorrected"]["p99"]
    assert not check(v, "latency.fault.p99").passed
    slo = load_slo_override(d, {"latency": {"use_corrected": False}})
    assert check(analyze_run(d, slo), "latency.fault.p99").passed


def _straddle(d: Path, offset_s: float, failed: bool = False, count: int = 10) -> None:
    """The last ``count`` baseline requests take 2 s, starting ``offset_s`` before the fault's onset; one is reset."""
    onset = json.loads((d / "run.json").read_text())["fault"]["start"]
    p = d / "records" / "records.jsonl"
    lines = [json.loads(x) for x in p.read_text().splitlines()]
    last = [i for i, r in enumerate(lines) if r["start"] < onset][-count:]
    for k, i in enumerate(last):
        start = onset - offset_s + 0.003 * k
        lines[i].update(start=start, intended_start=start, ts=start + 2.0, latency_us=2_000_000)
    if failed:
        lines[last[0]].update(status=None, error="ConnectionResetError: reset by peer", memory_mode=None,
                              ts=onset + 0.01, latency_us=int((onset + 0.01 - lines[last[0]]["start"]) * 1e6))
    p.write_text("\n".join(json.dumps(r) for r in lines) + "\n")


def test_a_request_in_flight_at_the_faults_onset_is_judged_with_the_fault(make_run: Callable[..., Path]) -> None:
    """It met the fault: its 2 s (or its reset) is the fault's doing, not a baseline that was unhealthy."""
    d = make_run()
    _straddle(d, offset_s=0.05, failed=True)
    v = analyze_run(d)
    assert check(v, "latency.baseline.p99").passed
    assert check(v, "requests.baseline.failed").passed
    failed = check(v, "requests.fault.failed")
    assert failed.failed and failed.measured == 1 and "ConnectionResetError" in failed.detail
    # the requests and latency analyzers both count a baseline request answered after the onset in the fault
    onset = json.loads((d / "run.json").read_text())["fault"]["start"]
    recs = [json.loads(x) for x in (d / "records" / "records.jsonl").read_text().splitlines()]
    answered_before = sum(r["start"] < onset and r["ts"] <= onset for r in recs)
    assert sum(r["start"] < onset < r["ts"] for r in recs) >= 10
    assert v.results["requests"].data["by_phase"]["baseline"]["requests"] == answered_before
    assert v.results["latency"].data["by_phase"]["baseline"]["corrected"]["count"] == answered_before


def test_a_baseline_request_already_hung_at_the_onset_stays_the_baselines(make_run: Callable[..., Path]) -> None:
    """In flight for longer than the baseline's 1 s p99 target when the fault went on: not the fault's doing."""
    d = make_run()
    onset = json.loads((d / "run.json").read_text())["fault"]["start"]
    stop = json.loads((d / "run.json").read_text())["phases"][-1]["end"]

    def hang(recs: list[dict[str, Any]]) -> None:
        r = next(r for r in recs if onset - 6.0 < r["start"] < onset - 5.0)
        r.update(status=None, error="TimeoutError: in flight when the load stopped", memory_mode=None, ts=stop,
                 latency_us=int((stop - r["start"]) * 1e6))

    edit_records(d, hang)
    v = analyze_run(d)
    c = check(v, "requests.baseline.failed")
    assert c.failed and c.measured == 1 and "in flight when the load stopped" in c.detail
    assert check(v, "requests.fault.failed").passed


def test_how_young_a_request_must_be_to_be_the_faults_comes_from_the_slo(make_run: Callable[..., Path]) -> None:
    """In flight 0.5 s at the onset: the fault's under the default 1 s baseline p99 target, not under 0.3 s."""
    d = make_run()
    _straddle(d, offset_s=0.5)
    onset = json.loads((d / "run.json").read_text())["fault"]["start"]
    recs = [json.loads(x) for x in (d / "records" / "records.jsonl").read_text().splitlines()]
    answered_before = sum(r["start"] < onset and r["ts"] <= onset for r in recs)
    caught = [onset - r["start"] for r in recs if r["start"] < onset < r["ts"]]
    old = sum(age >= 0.3 for age in caught)
    assert old >= 10  # the ten
    default = analyze_run(d)
    assert default.results["requests"].data["by_phase"]["baseline"]["requests"] == answered_before
    strict = analyze_run(d, load_slo_override(d, {"latency": {"chat_p99_ms": {
        "baseline": 300.0, "fault": 1000.0, "recovery": 1000.0}}}))
    for name, block in (("requests", strict.results["requests"].data["by_phase"]["baseline"]["requests"]),
                        ("latency", strict.results["latency"].data["by_phase"]["baseline"]["corrected"]["count"])):
        assert block == answered_before + old, name  # the ten 0.5 s old ones stay the baseline's


def test_a_slow_baseline_request_answered_before_the_onset_still_fails_the_baseline(
        make_run: Callable[..., Path]) -> None:
    d = make_run()
    _straddle(d, offset_s=2.1, count=20)  # each answered 40-100 ms before the fault went on
    v = analyze_run(d)
    c = check(v, "latency.baseline.p99")
    assert c.failed and c.measured >= 1999


def load_slo_override(d: Path, data: dict) -> object:  # type: ignore[type-arg]
    f = d / "slo.json"
    f.write_text(json.dumps(data))
    return load_slo(f)


# ---------------------------------------------------------------- breaker
def test_illegal_edge_is_quoted_with_timestamps(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(illegal_edge=True))
    c = check(v, "breaker.legal_transitions")
    assert not c.passed
    assert "closed->half_open" in c.detail and "t+29.000s" in c.detail and "epoch 1764262829.000" in c.detail


def test_two_probes_per_half_open_fail(make_run: Callable[..., Path]) -> None:
    c = check(analyze_run(make_run(double_probe=True)), "breaker.one_probe_per_half_open")
    assert not c.passed and "2 probes" in c.detail


def test_breaker_never_closing_fails(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(never_close=True))
    c = check(v, "breaker.closed_after_recovery")
    assert not c.passed and c.measured == "open"
    assert check(v, "breaker.legal_transitions").passed


def test_open_duration_against_config(make_run: Callable[..., Path]) -> None:
    d = make_run()
    run = json.loads((d / "run.json").read_text())
    run["breaker"]["open_s"] = 30.0  # claims 30 s; the service opened for 10 s
    (d / "run.json").write_text(json.dumps(run))
    assert not check(analyze_run(d), "breaker.open_duration").passed


def test_breaker_opening_late_fails(make_run: Callable[..., Path]) -> None:
    d = make_run()
    run = json.loads((d / "run.json").read_text())
    run["fault"]["start"] -= 20.0  # fault "started" 20 s before the breaker reacted
    (d / "run.json").write_text(json.dumps(run))
    c = check(analyze_run(d), "breaker.opened_after_fault")
    assert not c.passed and c.measured > 20


def test_small_latency_fault_expects_no_open(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(fault_value="100ms"))
    assert v.results["breaker"].data["expect_open"] is False
    assert not v.results["breaker"].data["transitions"]
    assert "breaker.opened_after_fault" not in {c.name for c in v.checks}
    # the DynamoDB latency alarm sees p99 > 50 ms for 3 periods and fires during the fault only
    a = v.results["alarms"].data["alarms"]["dynamodb_latency"]
    assert a["fired_at_rel"] and 30 < a["fired_at_rel"][0] <= 50
    assert a["cleared_at_rel"] and a["cleared_at_rel"][0] > 70


# ---------------------------------------------------------------- alarms
def test_design_alarms_timeline(healthy: tuple[Path, Verdict]) -> None:
    _, v = healthy
    al = v.results["alarms"].data
    assert al["period_s"] == 5.0
    co = al["alarms"]["circuit_open"]
    assert co["timeline"][0]["state"] in ("OK", "INSUFFICIENT_DATA")
    assert co["fired_at_rel"] == [35.0]  # breaker opened at t+30.3, period [30, 35) ends at 35
    assert co["cleared_at_rel"] and co["cleared_at_rel"][0] >= 70
    st = al["alarms"]["stateless"]
    assert st["fired_at_rel"] and st["fired_at_rel"][0] > 30


def test_stateless_in_baseline_fails(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(stateless_in_baseline=0.1))
    c = check(v, "alarms.stateless.baseline_silent")
    assert not c.passed and "ALARM at t+" in c.detail


def test_expect_alarms_from_slo(make_run: Callable[..., Path], healthy: tuple[Path, Verdict]) -> None:
    d, _ = healthy
    slo = load_slo_override(d, {"expect_alarms": {"circuit_open": "must_not_fire",
                                                  "dynamodb_latency": "must_fire"}})
    v = analyze_run(d, slo)  # type: ignore[arg-type]
    assert not check(v, "alarms.circuit_open.silent").passed
    assert not check(v, "alarms.dynamodb_latency.fires").passed  # the breaker hides latency from the alarm


# ---------------------------------------------------------------- partitions
def test_zipf_skew_is_hot_although_keys_hash_uniformly(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(zipf=True))
    assert check(v, "partitions.uuid4_keys").passed
    assert check(v, "partitions.key_hash_uniform").passed
    c = check(v, "partitions.no_hot_partition")
    assert not c.passed and "max/mean" in c.detail
    assert v.results["partitions"].data["hot"] is True


def test_uniform_uuid_traffic_not_hot(healthy: tuple[Path, Verdict]) -> None:
    _, v = healthy
    assert check(v, "partitions.no_hot_partition").passed
    assert v.results["partitions"].data["hot"] is False


def test_sequential_keys_fail_format_but_are_not_hot(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(sequential_keys=True))
    assert not check(v, "partitions.uuid4_keys").passed
    assert check(v, "partitions.no_hot_partition").passed


# ---------------------------------------------------------------- durability
def test_lost_turns_listed(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(lost_turns=3))
    c = check(v, "durability.no_lost_turns")
    assert not c.passed and c.measured == 3
    assert len(v.results["durability"].data["lost"]) == 3


def test_bad_ttl_detected(make_run: Callable[..., Path]) -> None:
    c = check(analyze_run(make_run(bad_ttl_turns=2)), "durability.ttl_24h")
    assert not c.passed and c.measured == 2


def test_outbox_arrivals_reported(make_run: Callable[..., Path], healthy: tuple[Path, Verdict]) -> None:
    npd = analyze_run(make_run(outbox_unflushed=4)).results["durability"].data["not_persisted"]
    assert npd["never_arrived"] == 4 and npd["arrived_later"] == npd["count"] - 4
    assert healthy[1].results["durability"].data["not_persisted"]["never_arrived"] == 0


def test_content_hash_mismatch(make_run: Callable[..., Path]) -> None:
    import hashlib

    d = make_run()
    table = {(i["session_id"], i["turn_number"]): i for i in
             map(json.loads, (d / "table.jsonl").read_text().splitlines())}
    p = d / "records" / "records.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    n = 0
    for r in recs:
        it = table.get((r["session_id"], r["turn"]))
        if it and r["persisted"]:
            text = it["assistant_reply"] + (" tampered" if n == 0 else "")
            r["reply_sha256"] = hashlib.sha256(text.encode()).hexdigest()
            n += 1
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    v = analyze_run(d)
    # an item holding other text than the reply said is not that turn: it counts as lost (overwritten)
    c = check(v, "durability.no_lost_turns")
    assert c.failed and c.measured == 1 and "SHA-256" in c.detail and "1 overwritten" in c.detail
    assert v.results["durability"].data["overwritten"] == 1
    assert check(v, "durability.content").passed  # the remaining items are non-empty
    assert v.outcome == "fail"


def _hash_records(d: Path, tamper: str | None = None) -> tuple[str, int] | None:
    """Give every persisted record the SHA-256 of its table item's texts; tamper with one field of one.

    Returns the (session_id, turn) of the tampered record.
    """
    import hashlib

    table = {(i["session_id"], i["turn_number"]): i for i in
             map(json.loads, (d / "table.jsonl").read_text().splitlines())}
    p = d / "records" / "records.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    done: tuple[str, int] | None = None
    for r in recs:
        it = table.get((r["session_id"], r["turn"]))
        if it and r["persisted"]:
            msg, reply = it["user_message"], it["assistant_reply"]
            if tamper and not done:
                done = (r["session_id"], r["turn"])
                msg, reply = (msg + "!", reply) if tamper == "user_message" else (msg, reply + "!")
            r["user_message_sha256"] = hashlib.sha256(msg.encode("utf-8")).hexdigest()
            r["reply_sha256"] = hashlib.sha256(reply.encode("utf-8")).hexdigest()
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return done


def test_content_hashes_match_passes(make_run: Callable[..., Path]) -> None:
    d = make_run(content_hashes=False)
    _hash_records(d)
    v = analyze_run(d)
    c = check(v, "durability.no_lost_turns")
    assert c.passed and c.measured == 0 and "content compared by SHA-256" in c.detail
    c = check(v, "durability.content")
    assert c.passed and c.measured == 0 and "not compared" not in c.detail


def test_records_without_hashes_say_presence_only(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(content_hashes=False))
    assert "presence only (no hashes)" in check(v, "durability.no_lost_turns").detail
    assert "content not compared" in check(v, "durability.content").detail


@pytest.mark.parametrize("field", ["user_message", "assistant_reply"])
def test_content_hash_mismatch_per_field(make_run: Callable[..., Path], field: str) -> None:
    d = make_run(content_hashes=False)
    key = _hash_records(d, tamper=field)
    assert key is not None
    v = analyze_run(d)
    c = check(v, "durability.no_lost_turns")
    assert c.failed and c.measured == 1 and c.detail.startswith("0 of ") and "1 overwritten" in c.detail
    lost = v.results["durability"].data["lost"]
    assert [(x["session_id"], x["turn"]) for x in lost] == [key]


# ---------------------------------------------------------------- correctness
def test_wrong_in_baseline_fails(make_run: Callable[..., Path]) -> None:
    v = analyze_run(make_run(wrong_in_baseline=2))
    c = check(v, "correctness.baseline.wrong")
    assert not c.passed and c.measured == 2
    assert v.results["correctness"].data["by_phase"]["baseline"]["wrong"] == 2


def test_correctness_shares(healthy: tuple[Path, Verdict]) -> None:
    data = healthy[1].results["correctness"].data
    assert data["by_phase"]["baseline"]["right_share"] == 1.0
    assert data["by_mode"]["stateless"]["resolved"] == 0 and data["by_mode"]["stateless"]["degraded"] > 0


# ---------------------------------------------------------------- robustness
def test_missing_files_skip_not_crash(make_run: Callable[..., Path]) -> None:
    d = make_run()
    (d / "events.jsonl").unlink()
    (d / "table.jsonl").unlink()
    v = analyze_run(d)
    assert v.results["breaker"].status == "skipped" and "events.jsonl" in v.results["breaker"].reason
    assert v.results["durability"].status == "skipped"
    assert v.results["latency"].status == "ok"
    assert not any(c.name.endswith("crashed") for c in v.checks)
    # the missing evidence is named, required, and makes the run inconclusive -- never a pass
    for name, file in (("breaker.evidence", "events.jsonl"), ("durability.evidence", "table.jsonl")):
        c = check(v, name)
        assert c.inconclusive and c.required and file in c.reason
    assert not v.failed_checks
    assert v.outcome == "inconclusive" and v.exit_code == 3
    assert v.headline().startswith("INCONCLUSIVE: ")
    assert set(v.skipped) >= {"breaker", "durability"}


def test_empty_run_dir_is_inconclusive(tmp_path: Path) -> None:
    v = analyze_run(tmp_path)
    assert {r.status for r in v.results.values()} == {"skipped"}
    assert v.outcome == "inconclusive" and v.exit_code == 3 and not v.passed
    assert not any(c.passed for c in v.checks) and not v.failed_checks
    for a in ("requests", "durability", "correctness"):
        c = check(v, f"{a}.evidence")
        assert c.inconclusive and c.required and "records/records.jsonl not found" in c.reason
    assert "run.json not found" in check(v, "run.evidence").reason
    assert v.headline().startswith("INCONCLUSIVE: requests.evidence: records/records.jsonl not found")
    assert v.to_dict()["outcome"] == "inconclusive"
    with pytest.raises(RunDataError):
        analyze_run(tmp_path / "nope")


def test_run_json_only_is_inconclusive(tmp_path: Path) -> None:
    """A run that wrote its bookkeeping but no evidence: the decided run.* checks must not make it pass."""
    (tmp_path / "run.json").write_text(json.dumps({
        "run_id": "r", "variant": "hardened", "status": "completed", "rollback_errors": [],
        "phases": [{"name": "baseline", "start": 0.0, "end": 10.0}]}))
    v = analyze_run(tmp_path)
    assert check(v, "run.rollback").passed and check(v, "run.completed").passed
    assert v.outcome == "inconclusive" and v.exit_code == 3 and not v.passed
    inconclusive = {c.name for c in v.checks if c.inconclusive and c.required}
    assert {"requests.evidence", "durability.evidence", "correctness.evidence"} <= inconclusive
    assert all("records/records.jsonl" in check(v, n).reason for n in inconclusive)


def test_duplicates_and_malformed_lines(make_run: Callable[..., Path]) -> None:
    d = make_run(duplicate_records=50)
    with (d / "records" / "records.jsonl").open("a") as fh:
        fh.write('{"kind": "request", "id": "trunc\n')
    v = analyze_run(d)
    assert v.run["duplicate_records_dropped"] == 50
    assert v.run["malformed_lines"] == {"records/records.jsonl": 1}


def test_crashing_analyzer_becomes_failing_check(healthy: tuple[Path, Verdict]) -> None:
    from harness.analyzers import analyze_loaded, load_run

    class Boom:
        name = "boom"
        requires = ()
        missing_means = ""

        def analyze(self, run: object, slo: object) -> AnalyzerResult:
            raise KeyError("x")

    v = analyze_loaded(load_run(healthy[0]), None, [Boom()])
    assert not v.passed and v.results["boom"].status == "error"
    assert v.outcome == "fail" and v.exit_code == 1 and check(v, "boom.crashed").failed


def test_an_analyzer_is_not_run_without_its_declared_inputs(tmp_path: Path) -> None:
    from harness.analyzers import analyze_loaded, load_run

    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r", "variant": "seed"}))
    (tmp_path / "events.jsonl").write_text("")
    called: list[str] = []

    class Needs:
        def __init__(self, name: str, requires: tuple[str | tuple[str, ...], ...], means: str = "") -> None:
            self.name, self.requires, self.missing_means = name, requires, means

        def analyze(self, run: object, slo: object) -> AnalyzerResult:
            called.append(self.name)
            return AnalyzerResult(self.name)

    v = analyze_loaded(load_run(tmp_path), None, [
        Needs("table", ("table.jsonl",), "cannot tell what DynamoDB holds"),
        Needs("either", (("events.jsonl", "records/records.jsonl"),)),
        Needs("neither", (("table.jsonl", "records/records.jsonl"),)),
    ])
    assert called == ["either"]
    assert v.results["table"].status == "skipped"
    assert v.results["table"].reason == "table.jsonl not found: cannot tell what DynamoDB holds"
    assert check(v, "table.evidence").inconclusive
    assert v.results["neither"].reason == "neither table.jsonl nor records/records.jsonl found"


def test_slo_errors_are_clear(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("latency:\n  chat_p99_msx: 3\n")
    with pytest.raises(SloError, match=r"unknown SLO key 'latency\.chat_p99_msx'"):
        load_slo(f)
    f.write_text("latency: [1")
    with pytest.raises(SloError, match="not valid YAML"):
        load_slo(f)
    f.write_text("expect_alarms: {stateless: sometimes}")
    with pytest.raises(SloError, match="must be one of"):
        load_slo(f)
    with pytest.raises(SloError, match="cannot read"):
        load_slo(tmp_path / "missing.yaml")
    f.write_text("latency: {chat_p99_ms: {fault: 50}}")
    s = load_slo(f)
    assert s.get("latency", "chat_p99_ms") == {"baseline": 1000.0, "fault": 50, "recovery": 1000.0}


def test_arrow_and_per_line_loaders_agree(make_run: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast pyarrow reader (used for big files) must give every analyzer the same view as the per-line one."""
    import harness.analyzers.rundata as rundata

    d = make_run(duplicate_records=20, outbox_unflushed=3, lost_turns=2)
    with (d / "records" / "records.jsonl").open("a") as fh:  # a crashed worker's truncated last line
        fh.write('{"kind": "request", "id": "trunc\n')

    per_line_reads: list[str] = []
    real_read = rundata.read_jsonl

    def spy(path: Path, data: bytes | None = None, **kw: Any) -> tuple[list[dict[str, Any]], int]:
        per_line_reads.append(path.name)
        return real_read(path, data, **kw)

    monkeypatch.setattr(rundata, "read_jsonl", spy)

    def verdict(min_bytes: int) -> str:
        per_line_reads.clear()
        monkeypatch.setattr(rundata, "ARROW_MIN_BYTES", min_bytes)
        return json.dumps(analyze_run(d).to_dict(), sort_keys=True, default=str)

    per_line = verdict(1 << 62)
    assert sorted(per_line_reads) == ["events.jsonl", "records.jsonl", "table.jsonl"]
    assert verdict(0) == per_line
    assert per_line_reads == []  # records, events and table really went through pyarrow
    # a type conflict (a number where other lines have a string) makes pyarrow refuse
    # the file: the loader must fall back to the per-line reader, not fail
    with (d / "events.jsonl").open("a") as fh:
        fh.write('{"ts": 1.0, "event": 5}\n')
    fast = verdict(0)
    assert per_line_reads == ["events.jsonl"]
    assert fast == verdict(1 << 62)


def test_structured_dynamodb_fault_decides_whether_the_breaker_must_open() -> None:
    from harness.analyzers.breaker import fault_should_open

    combined = "dynamo-latency-100ms+llm-latency-2s"
    assert fault_should_open({"kind": combined, "dynamodb": {"latency_ms": 100, "jitter_ms": 50}}, 200) is False
    assert fault_should_open({"kind": combined, "dynamodb": {"latency_ms": 2000, "jitter_ms": 0}}, 200) is True
    assert fault_should_open({"kind": "redis-down+dynamo-down", "dynamodb": {"down": True}}, 200) is True
    assert fault_should_open({"kind": "llm-latency-2s"}, 200) is False


@pytest.mark.parametrize("spoil", ["intent", "timestamp_ms"])
def test_content_fails_on_a_stored_turn_missing_its_design_attributes(make_run: Callable[..., Path],
                                                                       spoil: str) -> None:
    """A stored turn with the right text but a blank intent, or a timestamp in milliseconds, is not the design's."""
    d = make_run(content_hashes=False)
    _hash_records(d)
    table = d / "table.jsonl"
    items = [json.loads(x) for x in table.read_text().splitlines() if x.strip()]
    for it in items[:3]:
        if spoil == "intent":
            it["intent"] = ""
        else:
            it["timestamp"] = int(it["timestamp"]) * 1000
    table.write_text("\n".join(json.dumps(it) for it in items) + "\n")
    c = check(analyze_run(d), "durability.content")
    assert c.failed and c.measured >= 1
    assert ("empty intent" if spoil == "intent" else "timestamp over") in c.detail


def test_a_no_fault_run_judges_any_opening_as_unearned(make_run: Callable[..., Path]) -> None:
    """A no-fault run still has a fault phase; the breaker opening anywhere in it fails stays_closed_without_fault."""
    d = make_run()
    run = json.loads((d / "run.json").read_text())
    run["fault"] = {**run["fault"], "kind": "no-fault", "faults": []}
    run["fault"].pop("dynamodb", None)
    (d / "run.json").write_text(json.dumps(run))
    v = analyze_run(d)
    c = check(v, "breaker.stays_closed_without_fault")
    assert c.failed and c.measured >= 1 and "with no fault" in c.detail
    assert not any(x.name in ("breaker.closed_before_fault", "breaker.opened_after_fault") for x in v.checks)


def test_the_drain_is_reported_in_words() -> None:
    from harness.analyzers.durability import drain_words

    assert drain_words(None) == ""
    assert drain_words({"available": False}).startswith("no outbox to wait for")
    assert drain_words({"available": True, "drained": True, "waited_s": 1.5, "timeout_s": 20.0,
                        "outbox": {"pending": 0, "dead_letters": 2}}) == \
        "outbox empty after 1.5 s of the 20.0 s allowed; the service reports 2 dead letters"
    assert drain_words({"available": True, "drained": False, "waited_s": 20.0, "timeout_s": 20.0,
                        "outbox": {"pending": 7}}) == "outbox NOT empty after 20.0 s (7 pending)"
