"""A shared table (a running stack, real AWS) holds other runs' items: only this run's keys are judged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from harness.analyzers import analyze_run


def _add_item(run: Path, key: str, timestamp: int) -> None:
    item = {"session_id": key, "turn_number": 1, "customer_id": None, "timestamp": timestamp,
            "user_message": "m", "assistant_reply": "r", "intent": "other", "ttl": timestamp + 86_400}
    with open(run / "table.jsonl", "a") as fh:
        for i in range(400):  # enough to sink the UUIDv4 share below 99 % if they counted
            fh.write(json.dumps({**item, "session_id": f"{key}-{i}"}) + "\n")


def _uuid4_check(run: Path) -> str:
    return next(c.outcome for c in analyze_run(run).checks if c.name == "partitions.uuid4_keys")


def test_items_written_before_the_run_do_not_count(make_run: Callable[..., Path]) -> None:
    run = make_run()
    _add_item(run, "older-run-key", 1_700_000_000)  # years before the synthetic run
    assert _uuid4_check(run) == "pass"


def test_items_written_during_the_run_do(make_run: Callable[..., Path]) -> None:
    run = make_run()
    first = min(json.loads(line)["start"] for line in (run / "records" / "records.jsonl").read_text().splitlines()
                if json.loads(line).get("start") is not None)
    _add_item(run, "this-run-key", int(first) + 1)
    assert _uuid4_check(run) == "fail"
