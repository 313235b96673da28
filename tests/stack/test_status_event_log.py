"""``harness status --json`` names the running service's event log, and it is the file the service writes.

``harness chaos --service-events`` and any user reading the breaker's history
need this path. A real stack is brought up with ``harness up`` (free ports, a
relative ``--home`` so the path must come out absolute), one chat turn is sent,
and its ``chat`` event must appear in exactly the file ``status`` names. The
stack is always taken down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def harness(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "COLUMNS": "250"})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_status_json_names_the_event_log_the_service_writes(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    try:
        up = harness("up", "--home", "stack", "--service-port", "0", "--toxiproxy-port", "0", "--json",
                     cwd=tmp_path)
        assert up.returncode == 0, up.stderr

        status = harness("status", "--home", str(home), "--json", cwd=Path("/"))
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["running"] is True and info["components"]["service"]["healthy"] is True
        event_log = info["event_log"]
        assert isinstance(event_log, str) and Path(event_log).is_absolute()
        assert Path(event_log) == (home / "events.jsonl").resolve()
        assert info["components"]["service"]["event_log"] == event_log
        assert json.loads(up.stdout)["components"]["service"]["event_log"] == event_log
        log = Path(event_log)

        deadline = time.monotonic() + 10  # the service may write its first line (table bootstrap) just after up
        while not log.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log.is_file(), f"{log} does not exist"
        before = len(lines(log))

        reply = httpx.post(info["components"]["service"]["url"] + "/chat",
                           json={"message": "Recommend dark fantasy manga for beginners"}, timeout=30)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        session, turn = body["session_id"], body["turn_number"]

        # The contract: a line is on disk within 100 ms; allow a loaded machine more.
        chats: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while not chats and time.monotonic() < deadline:
            chats = [e for e in lines(log)[before:] if e.get("event") == "chat" and e.get("session_id") == session]
            time.sleep(0.05)
        assert len(chats) == 1, lines(log)[before:]
        assert chats[0]["turn_number"] == turn
        assert chats[0]["memory_mode"] == body["debug_metadata"]["memory_mode"]
        assert len(lines(log)) > before
    finally:
        down = harness("down", "--home", str(home), cwd=tmp_path, timeout=60)
    assert down.returncode == 0, down.stderr
    gone = harness("status", "--home", str(home), "--json", cwd=tmp_path)
    assert gone.returncode == 1 and json.loads(gone.stdout)["running"] is False
