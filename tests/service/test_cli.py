"""``python -m reference_service``: flags, REFSVC_* variables, clear errors, a real start and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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
    ],
)
def test_bad_flags_exit_2_without_traceback(args: tuple[str, ...], needle: str) -> None:
    res = run_cli(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


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
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
