"""The newest turn number this process gave each session: what a cached window must reach to be trusted.

Why: Redis can go on answering reads while refusing writes (a node demoted to
a replica answers ``READONLY``; a full one answers ``OOM``). Its list then
still looks complete -- it reaches back to turn 1 -- but lacks the turns it
refused, and a reply built on it loses the reference the user just made while
claiming full memory. The writer records each number it hands out here; the
history reader trusts a cached window only when it reaches that number, and
reads DynamoDB otherwise. It is per process and bounded (least recently used
sessions are forgotten first), so it can only ever send a read to DynamoDB
that was not needed, never trust a stale window it knows about.
"""

from __future__ import annotations

from collections import OrderedDict

MAX_SESSIONS = 100_000


class LastTurns:
    """``session_id -> highest turn number handed out``, bounded to :data:`MAX_SESSIONS`."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()
        self._limit = limit

    def remember(self, session_id: str, number: int) -> None:
        if number > self._last.get(session_id, 0):
            self._last[session_id] = number
        self._last.move_to_end(session_id)
        while len(self._last) > self._limit:
            self._last.popitem(last=False)

    def get(self, session_id: str) -> int:
        """The highest number handed out for this session (0 when unknown)."""
        return self._last.get(session_id, 0)
