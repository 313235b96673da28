"""Evidence taken at the client: seeded scripts, and requests the load stop cut short.

Real headless Locust runs. A hanging service must leave a trace in the
records (a timeout at the stop time), or a service that never answers 1 % of
requests would pass; and ``--harness-seed`` must make a run's choice of
scripts repeatable, so a failing run can be replayed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loadgen.conftest import run_locust

pytestmark = pytest.mark.slow


@pytest.fixture
def silent_service() -> Iterator[str]:
    """Accepts connections and reads requests, but never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        srv.close()


def test_requests_in_flight_at_stop_are_recorded_as_timeouts(tmp_path: Path, silent_service: str) -> None:
    run = run_locust(tmp_path, silent_service, "-u", "3", "-r", "3", "--run-time", "2s", "ChatUser")
    reqs = run.requests
    assert len(reqs) == 3, run.output[-2000:]  # one hanging turn per user, none lost
    for r in reqs:
        assert r["status"] is None and r["verdict"] == "error"
        assert "in flight" in r["error"] and "timeout" in r["error"]
        # recorded at the stop, with its time so far (users start up to a second late on a busy machine)
        assert r["ts"] - r["start"] >= 0.5
    stops = [r["ts"] for r in reqs]
    assert max(stops) - min(stops) < 1.0, stops  # all three closed together, at the stop


def scripts_of(tmp_path: Path, host: str, seed: int) -> list[str]:
    """The scripts one user followed, in order, over a short run."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = run_locust(tmp_path, host, "-u", "1", "-r", "1", "--run-time", "3s", "--think-time", "0",
                     "--harness-seed", str(seed), "ChatUser")
    order: list[str] = []
    for r in sorted(run.requests, key=lambda r: r["start"]):
        if r["turn"] == 1 or not order:
            order.append(r["script"])
    return order


def test_the_same_seed_replays_the_same_scripts(tmp_path: Path, fake_service: str) -> None:
    first = scripts_of(tmp_path / "a", fake_service, 11)
    again = scripts_of(tmp_path / "b", fake_service, 11)
    other = scripts_of(tmp_path / "c", fake_service, 12)
    n = min(len(first), len(again), len(other))
    assert n >= 5, (first, again, other)
    assert first[:n] == again[:n]
    assert other[:n] != first[:n]
