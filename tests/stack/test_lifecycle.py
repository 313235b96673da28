"""``harness up``, ``status`` and ``down`` against the real components.

Each test runs the CLI as a subprocess in its own ``--home`` with free ports,
exactly as a user would, and checks both what it reports and what is really
running afterwards (by PID, with psutil).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

COMPONENTS = {"dynamodb", "redis", "llm", "toxiproxy", "service"}


def harness(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=timeout, env=full_env,
    )


def up_args(*extra: str) -> list[str]:
    return ["up", "--service-port", "0", "--toxiproxy-port", "0", *extra]


def live(pids: list[int] | set[int]) -> list[int]:
    """The PIDs that still run (zombies don't count: their parent reaps them)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def pids_of(state: dict) -> list[int]:
    return [c["pid"] for c in state["components"].values() if c.get("pid")]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "stack"
    yield path
    # Whatever a test did, leave nothing running.
    subprocess.run([sys.executable, "-m", "harness", "down", "--home", str(path)], capture_output=True, timeout=60)


def test_up_status_down_leaves_nothing_behind(home: Path) -> None:
    result = harness(*up_args("--json"), home=home)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert set(state["components"]) == COMPONENTS
    comps = state["components"]
    assert comps["redis"]["backend"] == "redis-server"
    assert comps["toxiproxy"]["backend"] == "harness-toxiproxy"
    assert comps["llm"]["backend"] == "anthropic-standin"
    assert comps["dynamodb"]["backend"] in {"moto-indexed", "dynalite"}
    for name in ("dynamodb", "redis", "llm"):
        assert comps[name]["proxy"] == name
        assert comps[name]["proxy_url"] != comps[name]["url"]
    for comp in comps.values():
        assert Path(comp["log"]).exists()
        assert comp["started_by_us"] is True
    pids = pids_of(state)
    assert len(pids) == 5 and all(psutil.pid_exists(p) for p in pids)

    # The service really goes through the proxies: a chat turn works end to end.
    reply = httpx.post(
        comps["service"]["url"] + "/chat", json={"message": "Recommend dark fantasy manga for beginners"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["debug_metadata"]["memory_mode"] == "full"

    # Redis through its proxy answers.
    proxied = redis.Redis.from_url(comps["redis"]["proxy_url"], socket_timeout=2)
    assert proxied.ping()

    status = harness("status", "--json", home=home)
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["running"] is True
    for name in COMPONENTS:
        assert info["components"][name]["healthy"] is True, name
        assert info["components"][name]["backend"] == comps[name]["backend"]
    assert set(info["proxies"]) >= {"dynamodb", "redis", "llm"}
    assert all(p["toxics"] == [] for p in info["proxies"].values())

    human = harness("status", home=home)
    assert human.returncode == 0 and comps["dynamodb"]["backend"] in human.stdout

    down = harness("down", home=home)
    assert down.returncode == 0, down.stderr
    deadline = time.time() + 10
    while time.time() < deadline and live(pids):
        time.sleep(0.1)
    assert live(pids) == []
    assert not (home / "state.json").exists()

    again = harness("down", home=home)
    assert again.returncode == 0 and "nothing running" in again.stderr
    gone = harness("status", "--json", home=home)
    assert gone.returncode == 1 and json.loads(gone.stdout)["running"] is False


def test_status_shows_active_toxics(home: Path) -> None:
    result = harness(*up_args("--json"), home=home)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    api = state["components"]["toxiproxy"]["url"]
    resp = httpx.post(f"{api}/proxies/dynamodb/toxics", json={"type": "latency", "attributes": {"latency": 100}})
    assert resp.status_code == 200
    info = json.loads(harness("status", "--json", home=home).stdout)
    toxics = info["proxies"]["dynamodb"]["toxics"]
    assert [t["type"] for t in toxics] == ["latency"] and toxics[0]["attributes"]["latency"] == 100
    human = harness("status", home=home)
    assert "latency_downstream" in human.stdout


def test_second_up_over_live_stack_is_refused(home: Path) -> None:
    first = harness(*up_args("--json"), home=home)
    assert first.returncode == 0, first.stderr
    second = harness(*up_args(), home=home)
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    # The first stack is untouched.
    assert json.loads(harness("status", "--json", home=home).stdout)["components"]["service"]["healthy"]


def test_busy_port_is_named(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = harness("up", "--service-port", str(port), "--toxiproxy-port", "0", home=home)
    assert result.returncode == 1
    assert f"service: port 127.0.0.1:{port} is already in use" in result.stderr
    assert not (home / "state.json").exists()


def test_busy_toxiproxy_port_is_named(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = harness("up", "--service-port", "0", "--toxiproxy-port", str(port), home=home)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("(choose another with --toxiproxy-port)")
    assert "toxiproxy:" in result.stderr


def test_component_that_dies_on_start_is_named_and_nothing_is_left(home: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL: cannot allocate the dataset' >&2\nexit 3\n")
    fake.chmod(0o755)
    before = {p.pid for p in psutil.process_iter()}
    result = harness(*up_args(), home=home, env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "redis: exited with code 3 during start" in line and "cannot allocate" in line
    time.sleep(0.5)
    leftovers = [
        p for p in psutil.process_iter(["pid", "cmdline", "status"])
        if p.pid not in before and p.info["status"] != psutil.STATUS_ZOMBIE
        and any("harness.standins" in part or "reference_service" in part for part in (p.info["cmdline"] or []))
    ]
    assert leftovers == []


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGINT, 130), (signal.SIGTERM, None)])
def test_signal_during_up_stops_what_was_started(home: Path, sig: signal.Signals, expected: int | None) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", *up_args(), "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    parent = psutil.Process(proc.pid)
    children: set[int] = set()
    deadline = time.time() + 30
    while time.time() < deadline and len(children) < 2:
        children |= {c.pid for c in parent.children()}
        time.sleep(0.02)
    assert len(children) >= 2, "up did not start components"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0, stderr
    if expected is not None:
        assert proc.returncode == expected, stderr
    time.sleep(0.3)
    assert live(children) == []
    assert not (home / "state.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--variant", "gold"], "--variant must be seed or hardened"),
        (["up", "--service-port", "70000"], "--service-port must be between 0 and 65535"),
        (["up", "--breaker-open", "30"], "invalid duration '30'"),
        (["up", "--no-such-flag"], "No such option"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(home: Path, args: list[str], message: str) -> None:
    result = harness(*args, home=home, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_stand_ins_are_used_without_binaries(home: Path) -> None:
    result = harness(*up_args("--json"), home=home, env={"HARNESS_NO_BINARIES": "1"})
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["components"]["redis"]["backend"] == "fakeredis"
    assert state["components"]["dynamodb"]["backend"] == "moto-indexed"
    info = json.loads(harness("status", "--json", home=home).stdout)
    assert all(c["healthy"] for c in info["components"].values())


def test_a_component_given_by_url_is_used_and_not_stopped(home: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    own = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        result = harness(*up_args("--json"), home=home, env={"HARNESS_REDIS_URL": f"redis://127.0.0.1:{port}"})
        assert result.returncode == 0, result.stderr
        comp = json.loads(result.stdout)["components"]["redis"]
        assert comp["backend"] == "url" and comp["pid"] is None and comp["started_by_us"] is False
        assert comp["url"] == f"redis://127.0.0.1:{port}"
        # The service writes its hot path through the proxy into *our* Redis.
        service = json.loads(result.stdout)["components"]["service"]["url"]
        assert httpx.post(service + "/chat", json={"message": "Recommend sports manga"}).status_code == 200
        assert list(client.scan_iter(match="session:*"))
        assert harness("down", home=home).returncode == 0
        assert own.poll() is None and client.ping()
    finally:
        own.terminate()
        own.wait(timeout=10)


def test_a_picked_port_taken_before_the_service_binds_it_is_picked_again(home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The race behind a flaky start: the free port found for the service is taken before it binds."""
    from rich.console import Console

    from harness.stack import lifecycle

    thief = socket.socket()
    thief.bind(("127.0.0.1", 0))
    thief.listen()
    taken = thief.getsockname()[1]
    real, calls = lifecycle.comp_free, []

    def picks() -> int:
        calls.append(1)
        return taken if len(calls) == 5 else real()  # the fifth pick is the service's

    monkeypatch.setattr(lifecycle, "comp_free", picks)
    try:
        state = lifecycle.up(lifecycle.UpOptions(home=home, service_port=0, toxiproxy_port=0),
                             Console(stderr=True, quiet=True))
        url = state.components["service"].url
        assert url is not None and not url.endswith(f":{taken}") and len(calls) == 6, (url, taken, len(calls))
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert "Address already in use" in (home / "logs" / "service.log").read_text()
    finally:
        thief.close()
        lifecycle.down(home)
