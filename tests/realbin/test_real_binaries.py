"""The acceptance runs again, on real server binaries instead of the in-Python stand-ins.

``harness up`` and ``harness chaos`` prefer a binary on PATH: ``dynalite``
(DynamoDB on Node, installed by ``.ci/run`` from npm into ``.ci/node``) and
``redis-server``. These runs assert that those were the backends used and that
the verdicts match the embedded-default runs of ``tests/chaos/test_chaos_runs.py``.
They run in ``.ci/run`` with ``-m realbin``. A missing dynalite fails the test:
skipping it would hide exactly the gap these runs exist to close.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.realbin

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".ci" / "node" / "node_modules" / ".bin"


def _path() -> str:
    path = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    assert shutil.which("dynalite", path=path), f"dynalite not found on PATH or in {NODE_BIN} (see .ci/run)"
    assert shutil.which("redis-server", path=path), "redis-server not found on PATH"
    return path


def chaos(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], dict[str, Any]]:
    reports = tmp_path / "reports"
    env = {**os.environ, "PATH": _path(), "COLUMNS": "200", "HARNESS_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "harness", "chaos", "--quick", "--report-dir", str(reports), *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    runs = sorted(reports.glob("*/"))
    assert runs, proc.stderr
    run = json.loads((runs[-1] / "run.json").read_text())
    verdict = json.loads((runs[-1] / "verdict.json").read_text())
    assert proc.returncode == {"pass": 0, "fail": 1, "inconclusive": 3}[verdict["outcome"]], proc.stderr
    run["verdict"] = verdict
    return proc, run, {c["name"]: c for c in verdict["checks"]}


def _backends(run: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).split()[0] for k, v in run["backends"].items()}


def test_seed_fails_under_dynamodb_latency_on_real_binaries(tmp_path: Path) -> None:
    proc, run, checks = chaos(tmp_path, "--variant", "seed", "--dynamo-latency", "2s", "--seed", "3")
    assert _backends(run)["dynamodb"] == "dynalite" and _backends(run)["redis"] == "redis-server", run["backends"]
    assert proc.returncode == 1, proc.stdout[-2000:]
    # The same reasons as on the stand-ins: blocking writes, and a breaker that guards reads only.
    assert checks["latency.fault.p99"]["outcome"] == "fail" and checks["latency.fault.p99"]["measured"] >= 2000
    assert checks["breaker.opened_after_fault"]["outcome"] == "fail"


def test_hardened_keeps_every_turn_with_both_stores_down_on_real_binaries(tmp_path: Path) -> None:
    proc, run, checks = chaos(tmp_path, "--variant", "hardened", "--dynamo-down", "--redis-down", "--seed", "3")
    assert _backends(run)["dynamodb"] == "dynalite" and _backends(run)["redis"] == "redis-server", run["backends"]
    assert proc.returncode == 0, proc.stdout[-3000:]  # the same verdict as on the stand-ins
    for name in ("requests.baseline.failed", "requests.fault.failed", "requests.recovery.failed",
                 "durability.no_lost_turns", "durability.never_arrived", "run.rollback"):
        assert checks[name]["outcome"] == "pass", checks[name]
    # Both stores down is the design's stateless level: the alarm on it must fire.
    stateless = run["verdict"]["analyzers"]["alarms"]["alarms"]["stateless"]
    assert any(change["to"] == "ALARM" for change in stateless["changes"]), stateless


def test_hardened_answers_fast_under_dynamodb_latency_on_real_binaries(tmp_path: Path) -> None:
    proc, run, checks = chaos(tmp_path, "--variant", "hardened", "--dynamo-latency", "2s", "--seed", "3")
    assert _backends(run)["dynamodb"] == "dynalite" and _backends(run)["redis"] == "redis-server", run["backends"]
    assert proc.returncode == 0, proc.stdout[-3000:]  # the same verdict as on the stand-ins
    # dynalite has no TTL operations: the service's table bootstrap once retried them all run long,
    # outside the breaker, and only the wire saw those calls while the breaker was open.
    for name in ("requests.baseline.failed", "requests.fault.failed", "requests.recovery.failed",
                 "durability.no_lost_turns", "correctness.fault.wrong", "run.rollback",
                 "breaker.wire_silent_while_open", "breaker.wire_one_probe_per_half_open"):
        assert checks[name]["outcome"] == "pass", checks[name]
    opened = checks["breaker.opened_after_fault"]
    assert opened["outcome"] in ("pass", "inconclusive"), opened  # inconclusive: already open at fault start


def test_seed_fails_turns_with_both_stores_down_on_real_binaries(tmp_path: Path) -> None:
    proc, run, checks = chaos(tmp_path, "--variant", "seed", "--dynamo-down", "--redis-down", "--seed", "3")
    assert _backends(run)["dynamodb"] == "dynalite" and _backends(run)["redis"] == "redis-server", run["backends"]
    assert proc.returncode == 1
    # The design's save_turn raises when its gather fails: every turn of the outage is a 500.
    assert checks["requests.fault.failed"]["outcome"] == "fail", checks["requests.fault.failed"]
