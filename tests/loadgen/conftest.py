"""Fixtures for the loadgen tests: a fast fake service, a real-service stack, and a Locust runner.

Every process started here is bounded in time and reaped in a ``finally``, and
binds 127.0.0.1 port 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
FAKESVC = Path(__file__).with_name("fakesvc.py")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _wait_file(path: Path, proc: subprocess.Popen[Any], timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{path} not written within {timeout}s")


@pytest.fixture
def fake_service(tmp_path: Path) -> Iterator[str]:
    port_file = tmp_path / "fake.port"
    proc = subprocess.Popen(
        [sys.executable, str(FAKESVC), "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_file(port_file, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def fake_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/stats", timeout=10) as resp:
        return dict(json.loads(resp.read()))


@dataclass
class LocustRun:
    returncode: int
    output: str
    records: list[dict[str, Any]]
    raw: bytes
    stats: list[dict[str, Any]]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "request"]

    @property
    def locust_count(self) -> int:
        return sum(int(e["num_requests"]) for e in self.stats)


def locust_cmd(host: str | None, record_dir: Path, *args: str) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(SCENARIOS) + "/", "--headless", "--record-dir", str(record_dir)]
    if host:
        cmd += ["--host", host]
    return cmd + list(args)


def run_locust(
    tmp_path: Path, host: str | None, *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> LocustRun:
    """Run Locust headless to completion (bounded) and collect its records and final stats."""
    record_dir = tmp_path / "records"
    json_base = tmp_path / "stats"
    cmd = locust_cmd(host, record_dir, "--json-file", str(json_base), *args)
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    raw = (record_dir / "records.jsonl").read_bytes() if (record_dir / "records.jsonl").exists() else b""
    records = [json.loads(line) for line in raw.decode().splitlines() if line]
    stats_file = json_base.with_suffix(".json")
    stats = json.loads(stats_file.read_text()) if stats_file.exists() and stats_file.read_text() else []
    return LocustRun(proc.returncode, proc.stdout + proc.stderr, records, raw, stats)


# --------------------------------------------------------------------------- real stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real embedded stack from ``harness up`` (every dependency behind its proxy); yields the service URL."""
    home = tmp_path_factory.mktemp("stack")
    base = [sys.executable, "-m", "harness"]
    up = subprocess.run(
        [*base, "up", "--home", str(home), "--service-port", "0", "--toxiproxy-port", "0", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert up.returncode == 0, up.stderr
    try:
        yield json.loads(up.stdout)["components"]["service"]["url"]
    finally:
        subprocess.run([*base, "down", "--home", str(home)], capture_output=True, timeout=60)
