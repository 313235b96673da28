"""Hardened variant: turns acknowledged to the user but not yet confirmed by DynamoDB.

Why: the seed's write path either blocks the user on a slow DynamoDB or loses
the turn.  The hardened writer instead queues the turn here when DynamoDB is
unreachable, answers the user (``persisted: false``) and retries in the
background until DynamoDB confirms.  The queue lives in memory and, if a path
is given, in an append-only JSON-lines journal (``queued`` / ``flushed`` lines)
that is replayed on start, so a restart loses nothing either.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_service.turns import Turn


@dataclass(slots=True)
class OutboxEntry:
    """One queued turn; ``turn`` may be renumbered if its number was taken meanwhile."""

    entry_id: str
    turn: Turn
    attempts: int = 0


class Outbox:
    """FIFO of turns waiting for DynamoDB, with an optional durable journal."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._entries: OrderedDict[str, OutboxEntry] = OrderedDict()
        self.flushed = 0
        self._fd: int | None = None
        if self.path is not None:
            self._replay()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

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

    def entries(self) -> list[OutboxEntry]:
        """Pending entries, oldest first."""
        return list(self._entries.values())

    def pending_for(self, session_id: str) -> list[Turn]:
        """Pending turns of one session (merged into reads so history stays complete)."""
        return [e.turn for e in self._entries.values() if e.turn.session_id == session_id]

    @property
    def pending(self) -> int:
        """How many turns still wait for DynamoDB."""
        return len(self._entries)

    def close(self) -> None:
        """Close the journal."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
