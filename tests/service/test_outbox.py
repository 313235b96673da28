"""The outbox never lets one turn hold up the others, and gives up on a turn in the open.

The writer's DynamoDB put is replaced by a scripted one (the neighbour of the
unit under test); the outbox, its journals, the event log and the metrics are
the real ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from reference_service.events import EventLog
from reference_service.memory.breaker import CircuitOpenError
from reference_service.memory.observe import OpResult
from reference_service.memory.outbox import Outbox
from reference_service.memory.writer import MAX_ATTEMPTS, HardenedWriter
from reference_service.metrics import Metrics
from reference_service.turns import Turn


def _turn(session: str, n: int = 1) -> Turn:
    return Turn(session, n, None, 1_700_000_000, "hi", "hello", "greeting", 1_700_086_400)


def _writer(tmp_path: Path, put: Callable[[Turn], OpResult]) -> tuple[HardenedWriter, Outbox, Metrics]:
    outbox = Outbox(tmp_path / "outbox.jsonl")
    metrics = Metrics()
    events = EventLog(tmp_path / "events.jsonl")
    writer = HardenedWriter(None, None, None, None, outbox, events, metrics, retry_s=0.0)  # type: ignore[arg-type]

    async def scripted(turn: Turn) -> tuple[OpResult, Turn]:
        return put(turn), turn

    writer._put = scripted  # type: ignore[method-assign]
    return writer, outbox, metrics


def _events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_a_failing_head_backs_off_and_the_turns_behind_it_are_written(tmp_path: Path) -> None:
    def put(turn: Turn) -> OpResult:
        return OpResult(False, error=TimeoutError("slow")) if turn.session_id == "bad" else OpResult(True, True)

    writer, outbox, _ = _writer(tmp_path, put)
    writer.retry_s = 60.0  # the failed head stays in backoff for the rest of the test
    for session in ("bad", "a", "b"):
        outbox.add(_turn(session))
    assert asyncio.run(writer.flush_once()) == 0  # the head failed: DynamoDB looks down, stop
    assert asyncio.run(writer.flush_once()) == 2  # next pass skips the head while it backs off
    assert [e.turn.session_id for e in outbox.entries()] == ["bad"]


def test_a_turn_that_keeps_failing_goes_to_the_dead_letter_journal(tmp_path: Path) -> None:
    writer, outbox, metrics = _writer(tmp_path, lambda turn: OpResult(False, error=TimeoutError("slow")))
    outbox.add(_turn("s"))
    for _ in range(MAX_ATTEMPTS):
        asyncio.run(writer.flush_once())
    assert outbox.pending == 0 and outbox.dead_count == 1
    dead = [json.loads(line) for line in (tmp_path / "outbox.jsonl.dead.jsonl").read_text().splitlines()]
    assert [(d["turn"]["session_id"], d["attempts"]) for d in dead] == [("s", MAX_ATTEMPTS)]
    assert metrics.outbox_dead_letters._value.get() == 1
    assert [e["action"] for e in _events(tmp_path)].count("dead_letter") == 1
    assert Outbox(tmp_path / "outbox.jsonl").pending == 0  # a restart does not resurrect it


def test_an_open_breaker_is_not_an_attempt(tmp_path: Path) -> None:
    writer, outbox, _ = _writer(tmp_path, lambda turn: OpResult(False, error=CircuitOpenError("open")))
    entry = outbox.add(_turn("s"))
    for _ in range(MAX_ATTEMPTS + 5):
        asyncio.run(writer.flush_once())
    assert outbox.pending == 1 and entry.attempts == 0 and entry.not_before == 0.0


def test_a_rejected_turn_is_dead_lettered_at_once(tmp_path: Path) -> None:
    rejected = ClientError({"Error": {"Code": "ValidationException", "Message": "bad item"},
                            "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")
    writer, outbox, _ = _writer(
        tmp_path, lambda turn: OpResult(False, error=rejected) if turn.session_id == "bad" else OpResult(True, True))
    outbox.add(_turn("bad"))
    outbox.add(_turn("good"))
    assert asyncio.run(writer.flush_once()) == 2
    assert outbox.pending == 0 and outbox.dead_count == 1
    assert outbox.recent_dead[0].reason.startswith("rejected: ClientError")
