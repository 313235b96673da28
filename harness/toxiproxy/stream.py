"""Chunks and channels: the plumbing that carries bytes through a toxic chain.

Why: Toxiproxy moves data between toxics as *chunks* (one per ``read()``),
each stamped with the time it was read, over Go channels.  Here a chunk is a
tiny mutable object and a channel is an unbounded deque with one async
consumer.  Puts never block, so rewiring a chain (adding/removing a toxic on a
live connection) is a synchronous pointer swap that cannot drop or reorder
bytes; memory stays bounded because the link pauses reading its source when
too many bytes are in flight (see :mod:`harness.toxiproxy.link`).

``None`` travelling through a channel means end of stream (Go's closed channel).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol


class Chunk:
    """Bytes from one read, with ``ts`` = the ``time.monotonic()`` at which they were read.

    Latency toxics release a chunk at ``ts + delay`` and then advance ``ts`` to
    that release time, so latencies on one link pipeline instead of serialising.
    """

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts

    def __repr__(self) -> str:
        return f"Chunk({len(self.data)}B @ {self.ts:.6f})"


Item = Chunk | None


class Sink(Protocol):
    """Anything a stub can push into: the next stub's input, or the link writer."""

    def push(self, item: Item) -> None: ...


class Chan:
    """Unbounded FIFO of chunks with at most one waiting consumer."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Item) -> None:
        self._items.append(item)
        self.wake()

    def push_front(self, items: list[Item]) -> None:
        """Put ``items`` back at the head, keeping their order (used on interrupt)."""
        self._items.extendleft(reversed(items))
        if items:
            self.wake()

    def pop(self) -> Item:
        return self._items.popleft()

    def drain(self) -> list[Item]:
        items = list(self._items)
        self._items.clear()
        return items

    def wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def wait(self) -> None:
        """Return when an item is available or :meth:`wake` is called."""
        if self._items:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None
