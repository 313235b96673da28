"""The typed stack state: what ``harness up`` wrote is what every later command reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.breaker_timings import DESIGN, QUICK
from harness.state import Component, StackState, StateError, load_state, save_state, service_url


def _state() -> StackState:
    return StackState(
        variant="seed", home="/tmp/h", created_at=1764262800.0, breaker=QUICK,
        components={
            "redis": Component(backend="url", url="redis://127.0.0.1:6379", proxy="redis",
                               proxy_url="redis://127.0.0.1:41004/0"),
            "service": Component(backend="reference_service[seed]", url="http://127.0.0.1:8000",
                                 started_by_us=True, pid=1238, create_time=12.5, log="/tmp/h/logs/service.log",
                                 event_log="/tmp/h/events.jsonl", outbox="/tmp/h/outbox.jsonl"),
        },
    )


def test_the_state_file_round_trips(tmp_path: Path) -> None:
    save_state(_state(), tmp_path)
    back = load_state(tmp_path)
    assert back == _state()
    assert back is not None and back.breaker.threshold == 5 and isinstance(back.breaker.threshold, int)
    assert service_url(back) == "http://127.0.0.1:8000"
    raw = json.loads((tmp_path / "state.json").read_text())
    assert raw["version"] == 1 and raw["components"]["redis"]["started_by_us"] is False
    assert "event_log" not in raw["components"]["redis"]  # only what a component has is written


def test_a_file_from_before_started_by_us_reads_it_from_the_pid(tmp_path: Path) -> None:
    raw = _state().to_json()
    for comp in raw["components"].values():
        del comp["started_by_us"]
    del raw["breaker"]
    (tmp_path / "state.json").write_text(json.dumps(raw))
    back = load_state(tmp_path)
    assert back is not None
    assert back.components["service"].started_by_us and not back.components["redis"].started_by_us
    assert back.breaker == DESIGN


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "unreadable"),
    (json.dumps({"version": 2, "components": {}}), "unknown format"),
    (json.dumps({"version": 1}), "no components"),
    (json.dumps({"version": 1, "components": {"redis": {"backend": "url"}}}), "component redis: .* url"),
    (json.dumps({"version": 1, "components": {"redis": {"backend": "url", "url": "r", "pid": "7"}}}), "pid"),
])
def test_a_broken_state_file_is_a_state_error_naming_why(tmp_path: Path, content: str, why: str) -> None:
    (tmp_path / "state.json").write_text(content)
    with pytest.raises(StateError, match=why):
        load_state(tmp_path)


def test_no_state_file_is_no_stack(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None
