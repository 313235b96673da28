"""``harness chaos --target`` at a port nothing listens on: a fast, judged fail, never a hang.

No stack runs and none is started: ``--home`` is an empty directory, and a
``--target`` run never looks for a stack. The run's preflight (one TCP connect)
is refused, so the run aborts before Locust starts, is judged like any run, and
says why in one line. A fault flag without ``--toxiproxy`` is a usage error
before anything starts.

The "closed" port is bound but never listening: a connect is refused at once,
and no other process can take the port while the test runs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def chaos(tmp_path: Path, *args: str, columns: int = 250) -> tuple[subprocess.CompletedProcess[str], float]:
    """``harness chaos --quick`` with an empty ``--home``; returns the process and how long it took."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "COLUMNS": str(columns), "HARNESS_HOME": str(home)}
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--home", str(home),
         "--report-dir", str(tmp_path / "reports"), *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )
    return proc, time.monotonic() - began


def only_run(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "reports").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def assert_aborted_before_load(tmp_path: Path, run: Path, reason: str) -> dict[str, Any]:
    """The judged abort: verdict fail on ``requests.early_abort``, no Locust, no stack; returns run.json."""
    verdict = read(run / "verdict.json")
    assert verdict["outcome"] == "fail" and verdict["passed"] is False
    assert verdict["headline"].startswith("FAIL: ") and "requests.early_abort" in verdict["headline"]
    checks = {c["name"]: c for c in verdict["checks"]}
    abort = checks["requests.early_abort"]
    assert (abort["outcome"], abort["passed"], abort["required"]) == ("fail", False, True)
    assert abort["measured"] == 0 and abort["detail"] == reason
    assert checks["run.completed"]["outcome"] == "fail" and reason in checks["run.completed"]["detail"]
    assert checks["run.rollback"]["outcome"] == "pass"

    run_json = read(run / "run.json")
    assert run_json["status"] == "aborted" and run_json["error"] is None
    assert run_json["aborted"] == {"reason": reason, "requests": 0}
    assert run_json["phases"] == [] and run_json["locust_exit_code"] is None
    assert run_json["rollback_errors"] == []
    # Locust never started (it writes records/ and logs/), and no private stack was brought up.
    assert not (run / "records").exists() and not (run / "logs").exists()
    assert not (run / "stack").exists()
    assert not (tmp_path / "home" / "state.json").exists()
    return run_json


def test_a_closed_target_without_toxiproxy_fails_fast_with_a_one_line_reason(
    tmp_path: Path, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    # A narrow terminal: the reason must still be one line.
    proc, took = chaos(tmp_path, "--target", url, columns=60)
    assert proc.returncode == 1, proc.stderr
    assert took < 15, f"took {took:.1f} s to refuse a closed port"
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr
    reason = f"target {url} is not accepting connections (Connection refused)"
    assert proc.stderr.strip().splitlines()[-1] == f"FAIL: {reason}"
    assert "cannot fire" not in proc.stderr  # --quick's 2 s alarm periods fit its 14 s fault phase

    run = only_run(tmp_path)
    assert run.name.endswith("-hardened-no-fault")
    run_json = assert_aborted_before_load(tmp_path, run, reason)
    assert run_json["fault"]["kind"] == "no-fault" and run_json["fault"]["faults"] == []
    assert run_json["toxiproxy_url"] is None
    assert run_json["breaker"] == {"threshold": 5, "window_s": 5.0, "open_s": 3.0, "timeout_ms": 200.0}
    assert not (run / "taps").exists()  # no Toxiproxy: nothing to tap
    assert run_json["evidence"]["wire"] == "no Toxiproxy: no wire evidence"
    # The outbox was not waited for: the run was aborted before any turn.
    assert [(e["action"], e["detail"]["skipped"]) for e in read(run / "timeline.json")] == [
        ("outbox_check", "run aborted")]


@pytest.mark.parametrize("fault", [
    ["--dynamo-latency", "2s"],
    ["--redis-down"],
    ["--toxic", "dynamodb:reset_peer"],
    ["--llm-errors", "30%"],
])
def test_a_fault_at_a_target_without_toxiproxy_is_a_usage_error(
    tmp_path: Path, closed_port: int, fault: list[str]
) -> None:
    proc, took = chaos(tmp_path, "--target", f"http://127.0.0.1:{closed_port}", *fault, columns=60)
    assert proc.returncode == 2, proc.stderr
    assert took < 15
    assert proc.stderr.strip().splitlines() == [
        "error: --target with a fault needs --toxiproxy URL (its proxies: dynamodb, redis, llm)"]
    assert proc.stdout == ""
    assert not (tmp_path / "reports").exists()  # checked before anything started


def test_a_fault_with_an_unreachable_toxiproxy_still_aborts_on_the_closed_target(
    tmp_path: Path, closed_port: int
) -> None:
    """Given a --toxiproxy, the fault run gets to the preflight; the dead target ends it before any fault."""
    dead_api = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dead_api.bind(("127.0.0.1", 0))
    try:
        toxi = f"http://127.0.0.1:{dead_api.getsockname()[1]}"
        url = f"http://127.0.0.1:{closed_port}"
        proc, took = chaos(tmp_path, "--target", url, "--toxiproxy", toxi, "--dynamo-latency", "2s")
    finally:
        dead_api.close()
    assert proc.returncode == 1, proc.stderr
    assert took < 15
    reason = f"target {url} is not accepting connections (Connection refused)"
    assert proc.stderr.strip().splitlines()[-1] == f"FAIL: {reason}"
    assert "Traceback" not in proc.stderr

    run = only_run(tmp_path)
    run_json = assert_aborted_before_load(tmp_path, run, reason)
    assert run_json["fault"]["kind"] == "dynamo-latency-2s"
    assert run_json["fault"]["start"] is None  # the fault phase never began
    assert run_json["toxiproxy_url"] == toxi
    assert [e for e in read(run / "timeline.json") if e["action"] in ("apply", "rollback_failed")] == []
    assert "could not tap the dynamodb proxy" in run_json["evidence"]["wire"]
