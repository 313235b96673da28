"""Whatever happens to a chaos run, it stops what it started and finishes its journal.

Real processes throughout: a private stack or a ``harness up`` stack, a real
Locust, real signals. After a crash, a kill or a Ctrl-C no toxic may remain,
no process of the run may survive, and ``run.json`` must exist (except after
SIGKILL, when the *next* command cleans up and says what it removed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow

ENV = {**os.environ, "COLUMNS": "200"}


def harness(*args: str, timeout: float = 120, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**ENV, **({"HARNESS_HOME": str(home)} if home else {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def start_chaos(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--report-dir", str(tmp_path / "reports"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**ENV, "HARNESS_HOME": str(tmp_path / "home")},
    )


def wait_for(what: str, cond: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if proc.poll() is not None:
            raise AssertionError(f"harness exited ({proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pids: list[int], timeout: float = 15) -> list[int]:
    """The pids still alive after ``timeout`` (zombies count as gone)."""
    deadline = time.time() + timeout
    alive = pids
    while time.time() < deadline:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.Error:
                pass
        if not alive:
            return []
        time.sleep(0.2)
    return alive


def run_dir(tmp_path: Path) -> Path:
    return next((tmp_path / "reports").glob("*/"))


def private_stack_pids(tmp_path: Path) -> list[int]:
    state = json.loads((run_dir(tmp_path) / "stack" / "state.json").read_text())
    return [int(c["pid"]) for c in state["components"].values() if c.get("pid")]


def has_records(tmp_path: Path) -> bool:
    rec = list((tmp_path / "reports").glob("*/records/records.jsonl"))
    return bool(rec) and rec[0].stat().st_size > 0


def locust_pids(proc: subprocess.Popen[str]) -> list[int]:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return []
    return [k.pid for k in kids if "locust" in " ".join(k.cmdline())]


@pytest.fixture
def up_stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    home = tmp_path / "home"
    result = harness("up", "--home", str(home), "--service-port", "0", "--toxiproxy-port", "0",
                     "--breaker-open", "3s", "--breaker-window", "5s", "--json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    state["home_path"] = str(home)
    yield state
    harness("down", "--home", str(home))


def proxies(state: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(state["components"]["toxiproxy"]["url"] + "/proxies", timeout=5).json()


def test_sigkill_leaves_toxics_that_the_next_command_removes(tmp_path: Path, up_stack: dict[str, Any]) -> None:
    proc = start_chaos(tmp_path, "--home", up_stack["home_path"], "--dynamo-latency", "2s", "--redis-down")
    wait_for("the fault", lambda: bool(proxies(up_stack)["dynamodb"]["toxics"]), proc)
    load = locust_pids(proc)
    assert load
    proc.kill()
    proc.wait(timeout=10)
    assert gone(load) == [], "Locust survived the harness's SIGKILL"
    left = proxies(up_stack)
    assert left["dynamodb"]["toxics"] and not left["redis"]["enabled"]
    tag = run_dir(tmp_path).name
    assert left["dynamodb"]["toxics"][0]["name"].startswith(f"harness_{tag}_")
    cleaned = harness("down", "--home", up_stack["home_path"])
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed stale toxic harness_{tag}_dynamodb_latency" in cleaned.stderr
    assert "re-enabled proxy redis" in cleaned.stderr


def test_sigkill_takes_the_private_stack_down_with_it(tmp_path: Path) -> None:
    proc = start_chaos(tmp_path, "--dynamo-latency", "2s")
    wait_for("load", lambda: has_records(tmp_path), proc)
    pids = private_stack_pids(tmp_path) + locust_pids(proc)
    assert len(pids) >= 6
    proc.kill()
    proc.wait(timeout=10)
    assert gone(pids) == [], "processes of the killed run survived"


# SIGTERM's run is in -m long: the default run keeps Ctrl-C's, and the signal matrix covers both.
@pytest.mark.parametrize("sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.long)])
def test_signals_roll_back_stop_everything_and_write_run_json(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start_chaos(tmp_path, "--dynamo-latency", "2s")
    wait_for("the fault phase", lambda: _in_fault(tmp_path), proc)
    pids = private_stack_pids(tmp_path) + locust_pids(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = json.loads((run_dir(tmp_path) / "run.json").read_text())
    assert run["status"] == "interrupted" and run["rollback_errors"] == []
    assert gone(pids) == []


def _in_fault(tmp_path: Path) -> bool:
    """True once load has run longer than the quick baseline (the timeline is only written at the end)."""
    recs = list((tmp_path / "reports").glob("*/records/records.jsonl"))
    if not recs or not recs[0].stat().st_size:
        return False
    first = json.loads(recs[0].read_text().splitlines()[0])
    return time.time() - float(first["start"]) > 10.0


def test_locust_dying_mid_run_fails_the_run_and_stops_everything(tmp_path: Path) -> None:
    proc = start_chaos(tmp_path, "--dynamo-latency", "2s")
    wait_for("load", lambda: has_records(tmp_path), proc)
    pids = private_stack_pids(tmp_path)
    for pid in locust_pids(proc):
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 1, err
    assert "locust stopped early" in err and "Traceback" not in err
    run = json.loads((run_dir(tmp_path) / "run.json").read_text())
    assert run["status"] == "failed" and "locust stopped early" in run["error"]
    assert gone(pids) == [], "the private stack outlived the failed run"


def test_a_fault_that_cannot_be_applied_fails_cleanly(tmp_path: Path, up_stack: dict[str, Any]) -> None:
    empty = subprocess.Popen([sys.executable, "-m", "harness", "toxiproxy-server", "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from harness.stack.net import free_port

        port = free_port()
        empty.kill()
        empty.wait(timeout=5)
        empty = subprocess.Popen([sys.executable, "-m", "harness", "toxiproxy-server", "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/version", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        comps = up_stack["components"]
        result = harness("chaos", "--quick", "--target", comps["service"]["url"], "--toxiproxy",
                         f"http://127.0.0.1:{port}", "--dynamo-down", "--baseline", "2s", "--fault", "2s",
                         "--recovery", "2s", "--report-dir", str(tmp_path / "reports"), timeout=120,
                         home=tmp_path / "other-home")
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and "dynamodb" in result.stderr
        run = json.loads((run_dir(tmp_path) / "run.json").read_text())
        assert run["status"] == "failed" and run["error"]
        assert all(p["toxics"] == [] and p["enabled"] for p in proxies(up_stack).values())
    finally:
        empty.kill()
        empty.wait(timeout=5)


def _all_clear(state: dict[str, Any]) -> None:
    """No toxic of any run left on the stack's proxies, and every proxy enabled."""
    left = proxies(state)
    assert all(p["toxics"] == [] and p["enabled"] for p in left.values()), left


@pytest.mark.long  # four interrupted runs: in .ci/run's -m long pass, not the default run
@pytest.mark.parametrize("when", ["baseline", "fault"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_against_a_running_stack_leave_it_clean_and_running(
        tmp_path: Path, up_stack: dict[str, Any], sig: signal.Signals, when: str) -> None:
    """A Ctrl-C or SIGTERM in either phase: the faults come off, Locust stops, the stack (not ours) stays up."""
    proc = start_chaos(tmp_path, "--home", up_stack["home_path"], "--dynamo-latency", "2s", "--redis-down")
    if when == "fault":
        wait_for("the fault", lambda: bool(proxies(up_stack)["dynamodb"]["toxics"]), proc)
    else:
        wait_for("load", lambda: has_records(tmp_path), proc)
        assert not proxies(up_stack)["dynamodb"]["toxics"]
    load = locust_pids(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = json.loads((run_dir(tmp_path) / "run.json").read_text())
    assert run["status"] == "interrupted" and run["rollback_errors"] == [], run
    assert gone(load) == [], "Locust survived the interrupted run"
    _all_clear(up_stack)
    stack = [int(c["pid"]) for c in up_stack["components"].values() if c.get("pid")]
    assert stack and all(psutil.pid_exists(pid) for pid in stack), "the run stopped a stack it did not start"
    assert httpx.get(up_stack["components"]["service"]["url"] + "/healthz", timeout=5).status_code == 200


@pytest.mark.long
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_private_stack_starts_stops_all_of_it(tmp_path: Path, sig: signal.Signals) -> None:
    """Interrupted before any load: every process of the half-started stack goes, and run.json says why."""
    proc = start_chaos(tmp_path, "--dynamo-latency", "2s")
    seen: set[int] = set()

    def starting() -> bool:
        try:
            seen.update(k.pid for k in psutil.Process(proc.pid).children(recursive=True))
        except psutil.Error:
            return False
        return len(seen) >= 2 and not has_records(tmp_path)

    wait_for("the private stack to start", starting, proc, timeout=60)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert gone(sorted(seen)) == [], "processes of the interrupted start-up survived"
    run = json.loads((run_dir(tmp_path) / "run.json").read_text())
    assert run["status"] == "interrupted", run
