"""``python -m reference_service``: flags, REFSVC_* variables, clear errors, a real start and stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reference_service.config import parse_config

pytestmark = pytest.mark.timeout(60)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reference_service", *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "missing required"),
        (("--dynamodb-url", "http://x", "--redis-url", "redis://x", "--llm-url", "http://x", "--variant", "bogus"),
         "--variant must be one of"),
        (("--dynamodb-url", "http://x", "--redis-url", "redis://x", "--llm-url", "http://x", "--port", "abc"),
         "--port: expected int"),
        (("--dynamodb-url", "nope", "--redis-url", "redis://x", "--llm-url", "http://x"), "http(s) URL"),
        (("--nonsense",), "unrecognized arguments"),
        (("--dynamodb-url", "http://x", "--redis-url", "redis://x", "--llm-url", "http://x", "--max-connections", "0"),
         "--max-connections must be >= 1, got 0"),
        (("--dynamodb-url", "http://x", "--redis-url", "redis://x", "--llm-url", "http://x",
          "--max-connections", "many"), "--max-connections: expected int"),
    ],
)
def test_bad_flags_exit_2_without_traceback(args: tuple[str, ...], needle: str) -> None:
    res = run_cli(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_max_connections_defaults_to_1024_and_reads_its_variable() -> None:
    required = ["--dynamodb-url", "http://x", "--redis-url", "redis://x", "--llm-url", "http://x"]
    assert parse_config(required, env={}).max_connections == 1024
    assert parse_config(required, env={"REFSVC_MAX_CONNECTIONS": "7"}).max_connections == 7
    assert parse_config([*required, "--max-connections", "3"], env={"REFSVC_MAX_CONNECTIONS": "7"}).max_connections == 3
    res = run_cli(*required, env={"REFSVC_MAX_CONNECTIONS": "-1"})
    assert res.returncode == 2 and "--max-connections must be >= 1" in res.stderr and "Traceback" not in res.stderr


HELD_BODY = b'{"message": "recommend a sci-fi book"}'


def _hold(host: str, port: int) -> socket.socket:
    """A connection whose request has all its headers and half its body: the server holds it open."""
    conn = socket.create_connection((host, port), timeout=5)
    conn.sendall(b"POST /chat HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(HELD_BODY) + HELD_BODY[:12])
    return conn


def test_max_connections_answers_503_past_the_cap_and_serves_again(moto_port, redis_port, llm) -> None:
    _, llm_url = llm
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_service", "--port", "0", "--max-connections", "3",
         "--dynamodb-url", f"http://127.0.0.1:{moto_port}", "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
         "--llm-url", llm_url, "--table-name", "ChatSessions-cap", "--llm-max-retries", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    held: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        url = line.split("listening on ", 1)[1].strip()
        port = int(url.rsplit(":", 1)[1])
        held = [_hold("127.0.0.1", port) for _ in range(3)]
        for conn in held:  # all three are admitted: the server waits for their bodies, it does not answer
            conn.settimeout(0.3)
            with pytest.raises(TimeoutError):
                conn.recv(1024)
        refused = httpx.post(f"{url}/chat", json={"message": "hello"}, timeout=5)
        assert refused.status_code == 503, refused.text
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 503
        held[0].settimeout(10)
        held[0].sendall(HELD_BODY[12:])  # a held request that completes is answered as usual
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200 "), "the first held request was not served"
        for conn in held:
            conn.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closes asynchronously
            served = httpx.post(f"{url}/chat", json={"message": "hello"}, timeout=5)
            if served.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert served.status_code == 200, served.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) in (0, -signal.SIGTERM)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        assert "Exceeded concurrency limit" in stderr and "Traceback" not in stderr, stderr[-2000:]
    finally:
        for conn in held:
            conn.close()
        _reap(proc)


def test_starts_from_env_prints_address_and_stops(moto_port, redis_port, llm, tmp_path: Path) -> None:
    _, llm_url = llm
    port_file = tmp_path / "port"
    env = {
        **os.environ,
        "REFSVC_DYNAMODB_URL": f"http://127.0.0.1:{moto_port}",
        "REFSVC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REFSVC_LLM_URL": llm_url,
        "REFSVC_VARIANT": "seed",
        "REFSVC_EVENT_LOG": str(tmp_path / "events.jsonl"),
        "REFSVC_TABLE_NAME": "ChatSessions-cli",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_service", "--port", "0", "--port-file", str(port_file),
         "--variant", "hardened"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split("listening on ", 1)[1].strip()
        assert port_file.read_text().strip() == url.rsplit(":", 1)[1]
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        assert health == {"status": "ok", "variant": "hardened", "reasons": []}  # the flag beat REFSVC_VARIANT
        r = httpx.post(f"{url}/chat", json={"message": "hello"}, timeout=10)
        assert r.status_code == 200 and r.json()["persisted"] is True
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean stop too
        assert proc.wait(15) in (0, -signal.SIGTERM)
        deadline = time.monotonic() + 2
        text = ""
        while time.monotonic() < deadline and "service_stop" not in text:
            text = (tmp_path / "events.jsonl").read_text()
            time.sleep(0.05)
        assert '"event":"chat"' in text and "service_stop" in text
    finally:
        _reap(proc)


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill the service if a test left it running, and close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
