"""The mutation suite: every known-bad service must FAIL `harness chaos`, on the check that names its flaw.

Why: a harness that never says *no* proves nothing. Each mutant is the hardened
reference service with one thing broken (tests/mutants/<name>.py), run through
one shared stack's proxies by a real `harness chaos --quick --target ...`; the
test asserts the exit code and that every check the mutant names failed in
verdict.json, and the control (nothing broken) must PASS. How to run it, the
load lock and the results: docs/mutants.md.
"""

from __future__ import annotations

import contextlib
import fcntl
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
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # plain `pytest` does not put the repo root on sys.path

from tests.mutants.base import Mutant  # noqa: E402
from tests.mutants.catalog import load_all  # noqa: E402

pytestmark = pytest.mark.mutants

SEED = "7"
LOCK = os.environ.get("MUTANTS_LOAD_LOCK", "/tmp/harness-load.lock")
RESULTS = os.environ.get("MUTANTS_RESULTS")  # optional: append one JSON line per run (for docs/mutants.md)
ENV = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
SERVICE_ENV = {**ENV, "AWS_ACCESS_KEY_ID": "harness", "AWS_SECRET_ACCESS_KEY": "harness",
               "AWS_DEFAULT_REGION": "us-east-1"}
# The breaker the quick run judges against (read back from the mutant's /debug/memory).
QUICK_BREAKER = ("--breaker-threshold", "5", "--breaker-window-s", "5", "--breaker-open-s", "3",
                 "--dynamo-timeout-ms", "200")


def harness(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=ROOT)


@contextlib.contextmanager
def load_lock() -> Iterator[None]:
    """Hold the shared machine's load lock (the same flock(2) lock `flock /tmp/harness-load.lock` takes)."""
    if not LOCK:
        yield
        return
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("mutant-stack")
    result = harness("up", "--home", str(home), "--service-port", "0", "--toxiproxy-port", "0",
                     "--breaker-open", "3s", "--breaker-window", "5s", "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    state["home_path"] = str(home)
    try:
        yield state
    finally:
        harness("down", "--home", str(home), timeout=60)
        _stop_leftovers(state, home)


def _stop_leftovers(state: dict[str, Any], home: Path) -> None:
    """Stop any stack process `harness down` left running (its stdout is a log under ``home``: ours).

    `harness down` matches PIDs by wall-clock start time; when the VM's clock
    steps during the suite it takes live components for dead ones and skips them.
    """
    mine = []
    for info in state.get("components", {}).values():
        pid = info.get("pid")
        with contextlib.suppress(OSError):
            if pid and os.readlink(f"/proc/{pid}/fd/1").startswith(str(home)):
                os.kill(pid, signal.SIGTERM)
                mine.append(pid)
    deadline = time.monotonic() + 10
    while mine and time.monotonic() < deadline:
        mine = [pid for pid in mine if os.path.exists(f"/proc/{pid}/fd/1")]
        time.sleep(0.1)
    for pid in mine:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(mutant: Mutant, stack: dict[str, Any], work: Path) -> Iterator[dict[str, Any]]:
    """Start the mutant wired to the stack's proxies; yield its URL and event log; stop it after."""
    events = work / "events.jsonl"
    if not mutant.listens:
        yield {"url": f"http://127.0.0.1:{free_port()}", "events": events}
        return
    comps = stack["components"]
    port_file = work / "port"
    argv = [sys.executable, "-m", "tests.mutants.serve", mutant.name, "--host", "127.0.0.1", "--port", "0",
            "--port-file", str(port_file), "--variant", "hardened",
            "--dynamodb-url", comps["dynamodb"]["proxy_url"], "--redis-url", comps["redis"]["proxy_url"],
            "--llm-url", comps["llm"]["proxy_url"], "--event-log", str(events),
            "--outbox-path", str(work / "outbox.jsonl"), *QUICK_BREAKER]
    log = (work / "service.log").open("w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=SERVICE_ENV, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline and proc.poll() is None:
            if port_file.exists() and port_file.read_text().strip():
                url = f"http://127.0.0.1:{int(port_file.read_text())}"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
            time.sleep(0.1)
        else:
            pytest.fail(f"mutant {mutant.name} did not start: {(work / 'service.log').read_text()[-2000:]}")
        yield {"url": url, "events": events}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def params() -> list[Any]:
    out = []
    for m in load_all():
        marks = [pytest.mark.xfail(strict=m.xfail_strict, reason=m.xfail)] if m.xfail else []
        out.append(pytest.param(m, id=m.name, marks=marks))
    return out


@pytest.mark.timeout(900)  # a chaos run is ~1 min, but it may first wait for another run's load lock
@pytest.mark.parametrize("mutant", params())
def test_mutant(mutant: Mutant, stack: dict[str, Any], tmp_path: Path) -> None:
    comps = stack["components"]
    reports = tmp_path / "reports"
    asked = time.monotonic()
    with load_lock(), serve(mutant, stack, tmp_path) as svc:
        began = time.monotonic()
        result = harness(
            "chaos", "--quick", "--seed", SEED, *mutant.fault,
            "--target", svc["url"], "--toxiproxy", comps["toxiproxy"]["url"],
            "--service-events", str(svc["events"]), "--dynamodb-url", comps["dynamodb"]["url"],
            "--report-dir", str(reports), "--home", stack["home_path"], timeout=240,
        )
        took = time.monotonic() - began
    (tmp_path / "chaos.stdout").write_text(result.stdout)
    (tmp_path / "chaos.stderr").write_text(result.stderr)
    runs = sorted(reports.glob("*/verdict.json"))
    verdict = json.loads(runs[-1].read_text()) if runs else None
    checks = {c["name"]: c for c in (verdict or {}).get("checks", [])}
    # optional checks (e.g. the stand-in DynamoDB's own p99) are reported, never decide the verdict
    failed = sorted(n for n, c in checks.items() if c["outcome"] == "fail" and not c.get("optional"))
    if RESULTS:
        with open(RESULTS, "a") as fh:
            fh.write(json.dumps({"mutant": mutant.name, "exit": result.returncode, "seconds": round(took, 1),
                                 "lock_and_start_s": round(began - asked, 1),
                                 "outcome": (verdict or {}).get("outcome"), "failed": failed,
                                 "headline": (verdict or {}).get("headline"),
                                 "stderr_tail": result.stderr.strip().splitlines()[-1:]}) + "\n")
    why = f"exit {result.returncode}, failed checks {failed}\n{result.stderr[-3000:]}"
    assert verdict is not None, f"no verdict.json written: {why}"
    assert result.returncode == mutant.exit_code, why
    if mutant.exit_code == 0:
        assert verdict["outcome"] == "pass", why
    else:
        assert verdict["outcome"] == "fail", why
        for name in mutant.must_fail:
            assert name in checks, f"check {name} missing from verdict.json: {why}"
            assert checks[name]["outcome"] == "fail", f"{name}: {checks[name]}; {why}"
        if mutant.must_fail_any:
            assert any(checks.get(n, {}).get("outcome") == "fail" for n in mutant.must_fail_any), (
                f"none of {mutant.must_fail_any} failed: {why}")
    if mutant.max_seconds is not None:
        assert took < mutant.max_seconds, f"run took {took:.1f} s, want < {mutant.max_seconds:g} s"
