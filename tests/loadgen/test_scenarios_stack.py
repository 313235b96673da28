"""Scenario correctness against the real reference service (moto + redis-server + LLM stand-in).

With memory healthy, every scenario must complete with zero wrong answers, and
a WebSocket page refresh must keep the conversation's continuity. Skipped with
a reason until ``python -m reference_service`` and ``harness.standins.llm`` exist.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.loadgen.conftest import run_locust

pytestmark = pytest.mark.slow


def cut_off(record: dict[str, object]) -> bool:
    """A request the run's stop interrupted: recorded as a timeout, as every request counts."""
    return "in flight when the load stopped" in str(record.get("error") or "")


@pytest.mark.parametrize(
    "user_class,extra",
    [
        ("ChatUser", ("-u", "3")),
        ("ZipfReturningUser", ("-u", "3", "--zipf-population", "20")),
        ("OpenArrivalUser", ("-u", "1", "--arrival-rate", "4")),
        ("WebSocketRefreshUser", ("-u", "2")),
    ],
)
def test_scenario_has_no_wrong_answers_when_memory_is_healthy(
    tmp_path: Path, stack: str, user_class: str, extra: tuple[str, ...]
) -> None:
    run = run_locust(
        tmp_path, stack, *extra, "-r", "10", "--run-time", "8s", "--think-time", "0", user_class, timeout=90
    )
    assert run.requests, run.output[-3000:]
    assert len(run.requests) == run.locust_count
    verdicts = Counter(r["verdict"] for r in run.requests)
    wrong = [r for r in run.requests if r["verdict"] in ("wrong", "error") and not cut_off(r)]
    assert not wrong, wrong[:5]
    assert verdicts["resolved"] > 0
    assert all(r["memory_mode"] == "full" for r in run.requests if r["memory_mode"] is not None)


def test_websocket_refresh_keeps_continuity(tmp_path: Path, stack: str) -> None:
    run = run_locust(
        tmp_path, stack, "-u", "2", "-r", "2", "--run-time", "8s", "--think-time", "0",
        "WebSocketRefreshUser", timeout=90,
    )
    reqs = run.requests
    connects = [r for r in reqs if r["name"] == "WS /ws connect"]
    messages = [r for r in reqs if r["name"] == "WS /ws message"]
    assert connects and messages, run.output[-3000:]
    # every conversation reconnected at least once with its cookie, and the session survived it
    by_script_session: dict[str, list[dict[str, object]]] = {}
    for r in messages:
        by_script_session.setdefault(str(r["session_id"]), []).append(r)
    refreshed = [s for s, rs in by_script_session.items() if sum(1 for c in connects if c["session_id"] == s) >= 1]
    assert refreshed
    for sid in refreshed:
        turns = [int(r["turn"]) for r in by_script_session[sid]]  # type: ignore[call-overload]
        assert turns == list(range(1, len(turns) + 1)), turns  # one session, turns continue after refresh
    after_refresh = [r for r in messages if r["verdict"] == "resolved"]
    assert after_refresh
    assert not [r for r in messages if r["verdict"] in ("wrong", "error") and not cut_off(r)]


def test_websocket_runs_stop_at_run_time(tmp_path: Path, stack: str) -> None:
    """Every short WebSocket run exits at --run-time (regression: a stop landing in the close handshake hung).

    The stop lands inside a close handshake in roughly every other run with
    two refreshing users, so a handful of runs catches a swallowed kill.
    """
    for attempt in range(4):
        run_dir = tmp_path / f"run{attempt}"
        run_dir.mkdir()
        try:
            run = run_locust(
                run_dir, stack, "-u", "2", "-r", "2", "--run-time", "2s", "--think-time", "0",
                "WebSocketRefreshUser", timeout=25,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"run {attempt}: Locust still running 25 s after starting a --run-time 2s run")
        # Locust exits 1 on any failure, and a request cut off by the stop is one.
        assert run.returncode == (1 if any(cut_off(r) for r in run.requests) else 0), run.output[-3000:]
        assert "--run-time limit reached" in run.output, run.output[-3000:]
        assert [r for r in run.requests if r["name"] == "WS /ws message"], run.output[-3000:]
