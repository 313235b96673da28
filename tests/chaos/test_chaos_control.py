"""Rollback and external targets: what ``harness chaos`` leaves behind.

These tests bring a stack up with ``harness up`` first, so that the proxies
outlive the chaos run and can be inspected after it: an interrupted run must
leave every proxy enabled and toxic-free, and stop its Locust processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow


def run_harness(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("stack")
    result = run_harness("up", "--home", str(home), "--service-port", "0", "--toxiproxy-port", "0",
                         "--breaker-open", "3s", "--breaker-window", "5s", "--json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    state["home_path"] = str(home)
    yield state
    run_harness("down", "--home", str(home))


def proxies(state: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(state["components"]["toxiproxy"]["url"] + "/proxies", timeout=5).json()


def test_interrupt_during_fault_rolls_back_and_stops_load(stack: dict[str, Any], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "chaos", "--home", stack["home_path"], "--quick",
         "--dynamo-latency", "2s", "--redis-down", "--report-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    children: set[int] = set()
    deadline = time.time() + 90
    faulted = False
    while time.time() < deadline:
        try:
            children |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        except psutil.Error:
            break
        current = proxies(stack)
        if current["dynamodb"]["toxics"] and not current["redis"]["enabled"]:
            faulted = True
            break
        time.sleep(0.1)
    assert faulted, "the fault was never applied"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    after = proxies(stack)
    assert all(p["enabled"] for p in after.values()), after
    assert all(p["toxics"] == [] for p in after.values()), after
    time.sleep(0.5)
    alive = [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], "locust processes left running"
    run = json.loads(next(tmp_path.glob("*/run.json")).read_text())
    assert run["interrupted"] is True and run["rollback_errors"] == []
    timeline = json.loads(next(tmp_path.glob("*/timeline.json")).read_text())
    assert [t["action"] for t in timeline].count("remove") == 2
    # The stack itself was not ours to stop.
    assert httpx.get(stack["components"]["service"]["url"] + "/healthz", timeout=5).status_code == 200


@pytest.mark.long
def test_external_target_and_toxiproxy(stack: dict[str, Any], tmp_path: Path) -> None:
    comps = stack["components"]
    result = run_harness(
        "chaos", "--quick", "--target", comps["service"]["url"], "--toxiproxy", comps["toxiproxy"]["url"],
        "--redis-latency", "300ms", "--seed", "11",
        "--service-events", comps["service"]["event_log"], "--dynamodb-url", comps["dynamodb"]["url"],
        "--report-dir", str(tmp_path), timeout=180,
    )
    run_dir = next(tmp_path.glob("*/"))
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert result.returncode == {"pass": 0, "fail": 1, "inconclusive": 3}[verdict["outcome"]], result.stderr
    checks = {c["name"]: c for c in verdict["checks"]}
    # The verdict must be a pass but for the one thing a busy 2-core machine does to the
    # service: miss its own 200 ms budget, which only latency and breaker checks may show.
    undecided = sorted(n for n, c in checks.items() if c["outcome"] != "pass" and not c.get("optional"))
    assert all(n.startswith(("latency.", "breaker.")) for n in undecided), undecided
    # A slow Redis is the hardened design's easy case: every turn answered, every answer right and
    # stored, every toxic rolled back. (Latency and breaker checks are left to the quiet-machine
    # runs: on a busy 2-core box the service's own loop can miss its 200 ms budget.)
    must_pass = [n for n in checks
                 if n.split(".")[0] in ("requests", "correctness", "durability") or n == "run.rollback"]
    assert {"requests.baseline.failed", "requests.fault.failed", "requests.recovery.failed",
            "correctness.fault.wrong", "durability.no_lost_turns"} <= set(must_pass)
    assert [n for n in must_pass if checks[n]["outcome"] != "pass"] == [], [checks[n] for n in must_pass]
    run = json.loads((run_dir / "run.json").read_text())
    assert run["backends"]["service"].startswith("external")
    assert (run_dir / "table.jsonl").stat().st_size > 0
    assert (run_dir / "events.jsonl").stat().st_size > 0
    slow = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    redis_reads = [e for e in slow if e.get("event") == "memory_read" and e.get("store") == "redis"
                   and run["fault"]["start"] + 0.2 < e["ts"] < run["fault"]["end"]]
    assert redis_reads and max(e["latency_ms"] for e in redis_reads) >= 100
    assert all(p["toxics"] == [] for p in proxies(stack).values())
