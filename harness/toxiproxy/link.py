"""Links and stubs: the per-connection, per-direction toxic pipeline.

Shaped like Toxiproxy's ``link.go`` so toxics act on *live* connections: each
direction of a proxied connection (upstream client -> server, downstream
server -> client) is a chain of :class:`ToxicStub` objects, one per toxic, each
running the toxic's ``pipe`` between its input channel and the next stub (the
last feeds the link, which writes to the destination socket).  Channel puts
never block, so adding, updating or removing a toxic rewires the chain
synchronously without dropping or reordering bytes; memory is bounded by
pausing the source above :data:`HIGH_WATER` bytes in the chain.  A link with
no toxics writes straight through; a wire tap's ``on_read``/``on_write`` hooks
run after forwarding.  Closing follows Go: each link drains its own toxics.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.toxiproxy.stream import Chan, Chunk, Item, Sink
from harness.toxiproxy.toxics.base import Interrupted, RecvTimeout, ToxicWrapper
from harness.toxiproxy.toxics.noop import NoopToxic

log = logging.getLogger(__name__)


class LinkOwner(Protocol):
    """What a link needs from the connection that owns it (``proxy.Connection``)."""

    def close_transport(self, transport: asyncio.Transport) -> None:
        """Close one side's socket."""

    def link_finished(self) -> None:
        """Called when this link has finished; the owner cleans up once both have."""

HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10
_NOOP = NoopToxic()


def _resolve_true(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)


class ToxicStub:
    """Runs one toxic for one link; the toxic's window onto the data stream."""

    __slots__ = (
        "_closed",
        "_interrupted",
        "_loop",
        "_sleeper",
        "_task",
        "input",
        "link",
        "output",
        "state",
        "wrapper",
    )

    def __init__(self, link: Link, wrapper: ToxicWrapper, output: Sink) -> None:
        self.link = link
        self.wrapper = wrapper
        self.input = Chan()
        self.output: Sink = output
        self.state: Any = wrapper.toxic.new_state()
        self._loop = link.loop
        self._interrupted = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._sleeper: asyncio.Future[bool] | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        """(Re)start the toxic, drawing toxicity afresh as Go's ``ToxicStub.Run``."""
        self._interrupted = False
        self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        wrapper = self.wrapper
        toxic = wrapper.toxic if random.random() < wrapper.toxicity else _NOOP
        try:
            await toxic.pipe(self)
        except Interrupted:
            pass
        except Exception:
            log.exception("toxic %s crashed; closing link", wrapper.name)
            self.close()

    async def interrupt(self) -> bool:
        """Stop the running toxic; ``True`` if the stub is still open (can restart)."""
        if self._closed:
            return False
        task = self._task
        if task is None or task.done():
            return not self._closed
        self._interrupted = True
        self.input.wake()
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(False)
        await asyncio.shield(task)
        return not self._closed

    def cancel(self) -> None:
        """Hard stop when the connection is gone."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # ------------------------------------------------------------ StubAPI
    async def recv(self, deadline: float | None = None) -> Chunk | None:
        chan = self.input
        while True:
            if self._interrupted:
                raise Interrupted()
            if chan:
                return chan.pop()
            if deadline is None:
                await chan.wait()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RecvTimeout()
            handle = self._loop.call_later(remaining, chan.wake)
            try:
                await chan.wait()
            finally:
                handle.cancel()

    def send(self, chunk: Chunk) -> None:
        self.output.push(chunk)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.output.push(None)

    async def sleep_until(self, when: float) -> bool:
        # Stamps and deadlines use time.monotonic(): uvloop's loop.time() is
        # cached per iteration with 1 ms resolution, so its timers can fire a
        # little early; we re-arm until the real deadline has passed.
        while True:
            if self._interrupted:
                return False
            remaining = when - time.monotonic()
            if remaining <= 0:
                return True
            fut: asyncio.Future[bool] = self._loop.create_future()
            self._sleeper = fut
            handle = self._loop.call_later(remaining, _resolve_true, fut)
            try:
                if not await fut:
                    return False
            finally:
                handle.cancel()
                self._sleeper = None

    async def sleep(self, seconds: float) -> bool:
        if seconds <= 0:
            return not self._interrupted
        return await self.sleep_until(time.monotonic() + seconds)

    async def sleep_uninterruptible(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def unrecv(self, items: list[Item]) -> None:
        self.input.push_front(items)

    def now(self) -> float:
        return time.monotonic()


class Link:
    """One direction of a proxied connection: source transport -> toxics -> destination."""

    __slots__ = (
        "_dst_paused",
        "_over",
        "_reading_paused",
        "conn",
        "direction",
        "dst",
        "eof_fed",
        "fast",
        "finished",
        "head",
        "inflight",
        "loop",
        "on_read",
        "on_write",
        "other",
        "src",
        "started",
        "stubs",
    )

    def __init__(
        self,
        conn: LinkOwner,
        direction: str,
        src: asyncio.Transport,
        dst: asyncio.Transport,
        wrappers: list[ToxicWrapper],
    ) -> None:
        self.conn = conn
        self.direction = direction
        self.src = src
        self.dst = dst
        self.loop = asyncio.get_running_loop()
        self.other: Link | None = None
        self.stubs: list[ToxicStub] = []
        self.head: Sink = self
        self.fast = True
        self.inflight = 0
        self.eof_fed = False
        self.finished = False
        self.started = False
        self._dst_paused = False
        self._over = False
        self._reading_paused = True  # the source starts paused until start()
        self.on_read: Callable[[bytes], None] | None = None  # tap: bytes read from src (upstream link)
        self.on_write: Callable[[bytes], None] | None = None  # tap: bytes written to dst (downstream link)
        for wrapper in wrappers:
            self.add_toxic(wrapper)

    def start(self) -> None:
        self.started = True
        for stub in self.stubs:
            stub.start()
        self._update_reading()

    # ------------------------------------------------------------ data in
    def feed(self, data: bytes) -> None:
        """Bytes read from the source (one chunk per read)."""
        if self.fast:
            if not self.finished:
                self.dst.write(data)
                if self.on_write is not None and not self.dst.is_closing():
                    self.on_write(data)
        else:
            self.inflight += len(data)
            self.head.push(Chunk(data, time.monotonic()))
            if self.inflight > HIGH_WATER and not self._over:
                self._over = True
                self._update_reading()
        if self.on_read is not None:  # after forwarding: the tap never delays bytes
            self.on_read(data)

    def feed_eof(self) -> None:
        """The source reached end of stream (or was closed)."""
        if self.eof_fed:
            return
        self.eof_fed = True
        if self.fast:
            self.finish()
        else:
            self.head.push(None)

    # ------------------------------------------------------------ data out (Sink)
    def push(self, item: Item) -> None:
        """End of the chain: write to the destination, or finish on EOF."""
        if item is None:
            self.finish()
            return
        self.inflight -= len(item.data)
        if not self.finished and not self.dst.is_closing():
            self.dst.write(item.data)
            if self.on_write is not None:
                self.on_write(item.data)
        if self._over and self.inflight <= LOW_WATER:
            self._over = False
            self._update_reading()

    def finish(self) -> None:
        """End of stream left the chain: close the destination, end the other link's source."""
        if self.finished:
            return
        self.finished = True
        self._update_reading()
        self.conn.close_transport(self.dst)
        if self.other is not None:
            self.other.feed_eof()
        self.conn.link_finished()

    # ------------------------------------------------------------ flow control
    def set_dst_paused(self, paused: bool) -> None:
        self._dst_paused = paused
        self._update_reading()

    def _update_reading(self) -> None:
        want = (not self.started) or self._dst_paused or self._over or self.finished
        if want == self._reading_paused:
            return
        self._reading_paused = want
        if self.src.is_closing():
            return
        if want:
            self.src.pause_reading()
        else:
            self.src.resume_reading()

    # ------------------------------------------------------------ live toxic changes
    def _find(self, wrapper: ToxicWrapper) -> int:
        for i, stub in enumerate(self.stubs):
            if stub.wrapper is wrapper:
                return i
        return -1

    def add_toxic(self, wrapper: ToxicWrapper) -> None:
        """Append a toxic at the end of the chain (takes effect for chunks not yet past the tail)."""
        if self.finished:
            return
        stub = ToxicStub(self, wrapper, self)
        if self.stubs:
            self.stubs[-1].output = stub.input
        else:
            self.head = stub.input
        self.stubs.append(stub)
        self.fast = False
        if self.started:
            stub.start()

    async def update_toxic(self, wrapper: ToxicWrapper) -> None:
        """Restart the toxic's stub so new attributes and toxicity apply now."""
        i = self._find(wrapper)
        if i < 0:
            return
        stub = self.stubs[i]
        if await stub.interrupt():
            stub.start()

    async def remove_toxic(self, wrapper: ToxicWrapper) -> None:
        """Take the toxic out of the chain without losing or reordering queued bytes."""
        i = self._find(wrapper)
        if i < 0:
            return
        stub = self.stubs[i]
        if await stub.interrupt():
            wrapper.toxic.cleanup(stub)
            if stub.closed:
                return  # e.g. timeout: removing it closes the connection
            for item in stub.input.drain():
                stub.output.push(item)
        i = self._find(wrapper)  # the chain may have changed while we awaited
        if i < 0:
            return
        if i > 0:
            self.stubs[i - 1].output = stub.output
        else:
            self.head = stub.output
        del self.stubs[i]
        stub.cancel()
        self.fast = not self.stubs and self.head is self

    def cancel_stubs(self) -> None:
        for stub in self.stubs:
            stub.cancel()
