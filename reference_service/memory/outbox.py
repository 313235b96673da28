"""Hardened variant: turns acknowledged to the user but not yet confirmed by DynamoDB.

Why: the seed's write path either blocks the user on a slow DynamoDB or loses
the turn.  The hardened writer instead queues the turn here when DynamoDB is
unreachable, answers the user (``persisted: false``) and retries in the
background until DynamoDB confirms.  The queue lives in memory and, if a path
is given, in an append-only JSON-lines journal (``queued`` / ``flushed`` lines)
that is replayed on start, so a restart loses nothing either.

An entry that cannot be written is never retried forever at the head of the
queue: DynamoDB refusing it as malformed, or too many failed attempts, moves it
to a dead-letter journal (``<journal>.dead.jsonl``) where an operator can see
and replay it, counted in ``/metrics`` and listed in ``/debug/memory``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_service.turns import Turn


@dataclass(slots=True)
class OutboxEntry:
    """One queued turn; ``turn`` may be renumbered if its number was taken meanwhile."""

    entry_id: str
    turn: Turn
    queued_at: float = field(default_factory=time.monotonic)
    attempts: int = 0          # writes that reached DynamoDB (or timed out) and failed
    not_before: float = 0.0    # monotonic time before which the flusher leaves it alone (backoff)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A turn given up on, and why (the durability analyzer counts these as lost)."""

    session_id: str
    turn_number: int
    reason: str
    attempts: int
    ts: float


class Outbox:
    """FIFO of turns waiting for DynamoDB, with an optional durable journal."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._entries: OrderedDict[str, OutboxEntry] = OrderedDict()
        self.flushed = 0
        self.dead_count = 0
        self.recent_dead: deque[DeadLetter] = deque(maxlen=50)
        self._fd: int | None = None
        self._dead_fd: int | None = None
        if self.path is not None:
            self._replay()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            dead = self.path.with_name(self.path.name + ".dead.jsonl")
            self._dead_fd = os.open(dead, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _replay(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    if rec.get("op") == "queued":
                        self._entries[rec["id"]] = OutboxEntry(rec["id"], Turn.from_dict(rec["turn"]))
                    elif rec.get("op") == "flushed":
                        self._entries.pop(rec["id"], None)
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a crash: skip it
        # Compact: rewrite the journal with only what is still pending.
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for entry in self._entries.values():
                fh.write(self._line({"op": "queued", "id": entry.entry_id, "turn": entry.turn.to_dict()}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def _line(rec: dict[str, Any]) -> str:
        return json.dumps(rec, separators=(",", ":")) + "\n"

    def _journal(self, rec: dict[str, Any]) -> None:
        if self._fd is not None:
            os.write(self._fd, self._line(rec).encode())

    def add(self, turn: Turn) -> OutboxEntry:
        """Queue a turn (journaled before this returns)."""
        entry = OutboxEntry(uuid.uuid4().hex, turn)
        self._journal({"op": "queued", "id": entry.entry_id, "turn": turn.to_dict()})
        self._entries[entry.entry_id] = entry
        return entry

    def done(self, entry: OutboxEntry) -> None:
        """DynamoDB confirmed the entry's turn: drop it."""
        if self._entries.pop(entry.entry_id, None) is not None:
            self._journal({"op": "flushed", "id": entry.entry_id, "turn_number": entry.turn.turn_number})
            self.flushed += 1

    def dead_letter(self, turn: Turn, reason: str, attempts: int = 0, entry: OutboxEntry | None = None) -> DeadLetter:
        """Give up on a turn: keep it in the dead-letter journal and drop it from the queue."""
        letter = DeadLetter(turn.session_id, turn.turn_number, reason[:300], attempts, time.time())
        if self._dead_fd is not None:
            rec = {"op": "dead", "ts": letter.ts, "reason": letter.reason, "attempts": attempts, "turn": turn.to_dict()}
            os.write(self._dead_fd, self._line(rec).encode())
        if entry is not None and self._entries.pop(entry.entry_id, None) is not None:
            self._journal({"op": "flushed", "id": entry.entry_id, "turn_number": turn.turn_number, "dead": True})
        self.dead_count += 1
        self.recent_dead.append(letter)
        return letter

    def entries(self) -> list[OutboxEntry]:
        """Pending entries, oldest first."""
        return list(self._entries.values())

    def pending_for(self, session_id: str) -> list[Turn]:
        """Pending turns of one session (merged into reads so history stays complete)."""
        return [e.turn for e in self._entries.values() if e.turn.session_id == session_id]

    def oldest_age_s(self) -> float | None:
        """Seconds the oldest pending turn has waited, or None when nothing waits."""
        for entry in self._entries.values():
            return time.monotonic() - entry.queued_at
        return None

    @property
    def pending(self) -> int:
        """How many turns still wait for DynamoDB."""
        return len(self._entries)

    def close(self) -> None:
        """Close the journal."""
        for fd in (self._fd, self._dead_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._dead_fd = None
