"""Real ``harness chaos --quick`` runs: the harness must tell the designs apart.

Each test runs the CLI as a user would, on its own embedded stack, with
compressed breaker timings, and then reads the run directory it wrote. These
are the acceptance tests of the two designs: the seed variant fails the
user-facing p99 under DynamoDB latency because its writes block; the hardened
variant passes with its breaker cycling as specified; Redis down degrades to
DynamoDB-only reads without stateless sessions; DynamoDB and Redis down
together reach stateless and fire the 1 % alarm. Every test asserts the exact
verdict, so a harness that says PASS too easily fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def chaos(tmp_path: Path, *args: str, timeout: float = 240,
          env_extra: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path / "reports"
    env = {**os.environ, "COLUMNS": "200", "HARNESS_HOME": str(tmp_path / "no-stack"), **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--report-dir", str(reports), *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env,
    )
    runs = sorted(reports.glob("*/")) if reports.exists() else []
    assert runs, f"no run directory written\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return proc, runs[-1]


def verdict(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "verdict.json").read_text())


def checks(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in verdict(run_dir)["checks"]}


def undecided_by_the_wire_alone(proc: subprocess.CompletedProcess[str], run_dir: Path) -> bool:
    """An INCONCLUSIVE whose only undecided required checks are the breaker's wire checks.

    Why: on a busy 2-core machine the service's own timer can fail a call the
    wire saw answered, and the wire then cannot confirm what the log claims.
    That is the harness declining to guess, never a wrong verdict; any other
    undecided or failed check still fails the test that asks.
    """
    found = checks(run_dir)
    undecided = {n for n, c in found.items() if c["outcome"] != "pass" and not c.get("optional")}
    return (proc.returncode == 3 and verdict(run_dir)["outcome"] == "inconclusive" and bool(undecided)
            and all(n.startswith("breaker.wire_") and found[n]["outcome"] == "inconclusive" for n in undecided))


def records(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "records" / "records.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "request"]


def events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    out = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == kind:
            out.append(event)
    return out


def test_seed_fails_p99_because_its_writes_block(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--dynamo-latency", "2s", "--variant", "seed")
    assert proc.returncode == 1, proc.stderr
    found = checks(run)
    assert found["latency.fault.p99"]["passed"] is False
    assert found["latency.fault.p99"]["measured"] >= 2000
    # (the baseline p99 is not asserted: on a busy 2-core machine the seed's own baseline can miss it too)
    # The seed's breaker guards reads only, and Redis hits skip DynamoDB reads:
    # the slow writes never open it.
    assert found["breaker.opened_after_fault"]["passed"] is False
    slow_writes = [e for e in events(run, "memory_write") if e["store"] == "dynamodb" and e["latency_ms"] >= 2000]
    assert slow_writes, "seed writes should have waited out the 2 s toxic"
    # Every report format is there and agrees.
    assert "❌" in (run / "summary.md").read_text()
    suite = ET.parse(run / "junit.xml").getroot()
    assert int(suite.get("failures") or suite.find("testsuite").get("failures")) >= 1  # type: ignore[union-attr]
    assert "<img" in (run / "report.html").read_text()
    assert "summary" not in proc.stdout or "FAIL" in proc.stdout


@pytest.mark.long
def test_the_in_python_stand_ins_serve_a_whole_run(tmp_path: Path) -> None:
    """Every component a stand-in (fakeredis, not the redis-server on PATH), as on a machine without binaries.

    fakeredis costs CPU the 2-core machine's service then lacks, so its breaker may trip
    on its own clock: a latency or breaker check may fail or stay undecided, nothing else.
    """
    proc, run = chaos(tmp_path, "--dynamo-latency", "2s", "--variant", "hardened", "--seed", "5",
                      env_extra={"HARNESS_NO_BINARIES": "1"})
    backends = json.loads((run / "run.json").read_text())["backends"]
    assert backends["redis"] == "fakeredis" and backends["dynamodb"] == "moto-indexed", backends
    found = checks(run)
    undecided = sorted(n for n, c in found.items() if c["outcome"] != "pass" and not c.get("optional"))
    assert all(n.startswith(("latency.", "breaker.")) for n in undecided), undecided
    for name in ("requests.fault.failed", "correctness.fault.wrong", "durability.no_lost_turns", "run.rollback"):
        assert found[name]["outcome"] == "pass", found[name]
    assert proc.returncode == {"pass": 0, "fail": 1, "inconclusive": 3}[verdict(run)["outcome"]]


def test_hardened_passes_with_breaker_cycling_as_specified(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--dynamo-latency", "2s", "--variant", "hardened")
    assert proc.returncode == 0 or undecided_by_the_wire_alone(proc, run), (run / "summary.md").read_text()
    found = checks(run)
    assert found["latency.fault.p99"]["measured"] < 1000
    for name in ("breaker.legal_transitions", "breaker.open_duration", "breaker.one_probe_per_half_open",
                 "breaker.opened_after_fault", "breaker.closed_after_recovery", "durability.no_lost_turns",
                 "run.rollback"):
        assert found[name]["passed"] is True, found[name]
    transitions = [(e["from"], e["to"]) for e in events(run, "breaker_transition")]
    assert transitions[0] == ("closed", "open")
    assert transitions[-1] == ("half_open", "closed")
    assert ("open", "half_open") in transitions
    assert ("PASS" if proc.returncode == 0 else "INCONCLUSIVE") in proc.stdout
    # The fault window in run.json matches the timeline's apply and remove.
    timeline = json.loads((run / "timeline.json").read_text())
    actions = [t["action"] for t in timeline]
    assert actions.count("apply") == 1 and actions.count("remove") == 1


def test_redis_down_degrades_to_dynamodb_reads_without_stateless(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--redis-down")
    # With Redis gone every read goes to DynamoDB; on a busy 2-core machine the
    # service's own event loop can then time out calls DynamoDB answered in
    # time and open its breaker. That is the service's doing, not memory's, so
    # the memory checks must all pass and any breaker failure must be one the
    # wire shows DynamoDB did not cause.
    found = checks(run)
    summary = (run / "summary.md").read_text()
    for name, check in found.items():
        if name.split(".")[0] in ("requests", "latency", "correctness", "durability", "run") and not check["optional"]:
            assert check["outcome"] != "fail", summary
    if proc.returncode != 0 and not undecided_by_the_wire_alone(proc, run):
        assert proc.returncode == 1, summary
        # The trip followed failures the wire saw (slow answers) or could not refute; never a hair trigger.
        assert found["breaker.wire_threshold_before_open"]["outcome"] != "fail", summary
        assert {n for n, c in found.items() if c["outcome"] == "fail" and not c["optional"]} <= {
            "breaker.no_open_without_failing_fault", "breaker.closed_after_recovery"}, summary
    recs = records(run)
    fault = json.loads((run / "run.json").read_text())["fault"]
    during = [r for r in recs if fault["start"] + 0.5 <= r["start"] <= fault["end"]]
    assert during and any(r["reason"] in ("redis_error", "redis_timeout") for r in during)
    reads = [e for e in events(run, "memory_read") if e["store"] == "dynamodb" and e["outcome"] == "ok"]
    assert any(fault["start"] + 0.5 <= e["ts"] <= fault["end"] for e in reads)
    assert checks(run)["alarms.stateless.baseline_silent"]["passed"] is True
    # Never stateless (level 2): that needs Redis back but empty. Level 3 (no context) is a
    # turn whose DynamoDB read failed too, which a busy machine's own timer can cause, so
    # each one must have such a failure logged for its session while it was being served.
    assert not [r for r in recs if r["memory_mode"] == "stateless"]
    failed_reads = [(e["session_id"], e["ts"]) for e in events(run, "memory_read")
                    if e["store"] == "dynamodb" and e["outcome"] != "ok"]
    for r in recs:
        if r["status"] == 200 and r["level"] == 3:
            assert any(sid == r["session_id"] and r["start"] <= ts <= r["ts"] for sid, ts in failed_reads), r
    if not [r for r in recs if r["status"] == 200 and r["level"] >= 2]:
        assert verdict(run)["analyzers"]["alarms"]["alarms"]["stateless"]["fired_at_rel"] == []


def test_dynamo_and_redis_down_reach_stateless_and_fire_the_alarm(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--dynamo-down", "--redis-down")
    summary = (run / "summary.md").read_text()
    found = checks(run)
    # Every turn is answered and none is lost. The run must pass, but for one
    # thing: on a 2-core machine the hardened service's own event loop can miss
    # its 200 ms budget, which the harness rightly fails as latency or a breaker
    # opening in the baseline. Any other failed check fails this test.
    outcome = verdict(run)["outcome"]
    failed = sorted(n for n, c in found.items() if c["outcome"] == "fail")
    assert outcome == "pass" or (outcome == "fail" and failed) or undecided_by_the_wire_alone(proc, run), summary
    assert proc.returncode == {"pass": 0, "fail": 1, "inconclusive": 3}[outcome], summary
    assert all(n.startswith(("latency.", "breaker.")) for n in failed), failed
    assert found["alarms.stateless.fires"]["outcome"] == "pass", found["alarms.stateless.fires"]
    assert found["alarms.stateless.baseline_silent"]["outcome"] == "pass", found["alarms.stateless.baseline_silent"]
    for phase in ("baseline", "fault", "recovery"):
        assert found[f"requests.{phase}.failed"]["outcome"] == "pass", summary
    assert found["durability.never_arrived"]["outcome"] == "pass", summary
    recs = records(run)
    assert any(r["level"] >= 2 for r in recs)
    alarms = verdict(run)["analyzers"]["alarms"]
    stateless = alarms["alarms"]["stateless"]
    assert stateless["fired_at_rel"], stateless
    assert any(change["to"] == "ALARM" for change in stateless["changes"])
    fault = json.loads((run / "run.json").read_text())["fault"]
    first_alarm = stateless["fired_at_rel"][0] + verdict(run)["run"]["t0"]
    assert fault["start"] - 2.5 <= first_alarm <= fault["end"] + 2.5
    # The hardened outbox keeps every acknowledged turn through the outage.
    assert checks(run)["durability.no_lost_turns"]["passed"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "bogus"], "--scenario: unknown bogus"),
        (["--dynamo-latency", "2"], "invalid duration '2'"),
        (["--llm-errors", "150%"], "invalid rate"),
        (["--target", "http://10.1.2.3:8000", "--toxiproxy", "http://127.0.0.1:8474"], "not a loopback address"),
        (["--target", "http://127.0.0.1:9", "--dynamo-down"], "needs --toxiproxy"),
        (["--users", "0"], "--users must be between"),
        (["--variant", "gold"], "--variant must be seed or hardened"),
        (["--slo", "/nonexistent.yaml"], "no such file"),
    ],
)
def test_bad_flags_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--report-dir", str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_analyze_rejects_a_non_run_directory(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "analyze", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a run directory" in proc.stderr


@pytest.mark.long
def test_zipf_traffic_is_hot_though_its_keys_hash_evenly_with_distributed_workers(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--scenario", "zipf", "--workers", "2")
    assert proc.returncode == 1, (run / "summary.md").read_text()
    found = checks(run)
    assert found["partitions.uuid4_keys"]["passed"] is True
    assert found["partitions.key_hash_uniform"]["passed"] is True
    assert found["partitions.no_hot_partition"]["outcome"] == "fail"
    # Two worker processes load the machine; stored memory must still hold.
    failed = {name for name, check in found.items() if check["outcome"] == "fail"}
    assert not {n for n in failed if n.split(".")[0] == "durability"}, failed
    # One record set for the whole distributed run: both workers, no duplicate ids.
    recs = records(run)
    assert len({r["worker"] for r in recs}) == 2
    assert len({r["id"] for r in recs}) == len(recs)
    assert {r["scenario"] for r in recs} == {"zipf"}


@pytest.mark.long
def test_llm_errors_come_from_the_standin_and_slow_the_fault_phase(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--llm-errors", "30%", "--baseline", "4s", "--fault", "6s", "--recovery", "4s")
    # The design promises nothing about a failing LLM: retries push the fault p99 past its target.
    assert proc.returncode == 1, proc.stderr
    assert checks(run)["latency.fault.p99"]["outcome"] == "fail"
    timeline = json.loads((run / "timeline.json").read_text())
    applied = next(t for t in timeline if t["action"] == "apply")
    assert applied["detail"]["standin_faults"]["error_rate"] == 0.3
    assert any(t["action"] == "remove" for t in timeline)
    latency = verdict(run)["analyzers"]["latency"]
    found = checks(run)
    # The SDK backs off 0.375-0.5 s before its first retry (retry-after 0 is ignored) and twice that
    # before its second; 30 % of calls fail, so the fault phase's slowest turns waited at least one backoff.
    # An additive bound: a busy machine's slow baseline must not hide (or fake) that.
    rise = found["latency.fault.p99"]["measured"] - found["latency.baseline.p99"]["measured"]
    assert rise >= 300, (rise, latency.keys())
    # Memory is untouched by an LLM fault: every turn keeps full memory.
    assert {r["memory_mode"] for r in records(run) if r["status"] == 200} == {"full"}


@pytest.mark.long
def test_seed_fails_turns_when_dynamodb_is_down(tmp_path: Path) -> None:
    proc, run = chaos(tmp_path, "--dynamo-down", "--variant", "seed", "--baseline", "4s", "--fault", "6s",
                      "--recovery", "4s")
    assert proc.returncode == 1, proc.stderr
    found = checks(run)
    # The design's save_turn is a bare gather(put_item, lpush): the refused put fails the request.
    assert found["requests.fault.failed"]["outcome"] == "fail"
    fault = json.loads((run / "run.json").read_text())["fault"]
    during = [r for r in records(run) if fault["start"] + 0.5 <= r["start"] <= fault["end"] - 0.5]
    assert during and any(r["status"] == 500 for r in during)
    # The snippet breaker counts only timeouts: refused connections never open it.
    assert found["breaker.opened_after_fault"]["passed"] is False
