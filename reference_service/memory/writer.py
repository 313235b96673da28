"""The write path, one class per variant.

``SeedWriter`` is the design's write-through snippet (``asyncio.gather`` of the
DynamoDB put and Redis LPUSH, then LTRIM; no timeout, no breaker), so a slow
DynamoDB slows every turn and a failed write fails it, as ``save_turn`` does.
Its turn number is "highest turn loaded + 1", so after a stateless read it
restarts at 1 and overwrites older items: a flaw the harness must expose.

``HardenedWriter`` guards the put with the breaker and its call timeout; a turn
DynamoDB did not confirm goes to the outbox and is retried until written, so no
acknowledged turn is lost. Turn numbers never collide: a per-session Redis INCR,
what the read saw and a local memo combine, and a conditional put
(``attribute_not_exists``) bumps the number on conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from reference_service.events import EventLog
from reference_service.memory.breaker import BreakerBase, CircuitOpenError
from reference_service.memory.cache import RedisCache
from reference_service.memory.dynamo import DynamoStore, is_client_error
from reference_service.memory.memo import LastTurns
from reference_service.memory.observe import Observer, OpResult
from reference_service.memory.outbox import Outbox, OutboxEntry
from reference_service.metrics import Metrics
from reference_service.turns import TTL_SECONDS, Turn

_MAX_BUMPS = 5
# A turn DynamoDB keeps failing goes to the dead-letter journal after this many
# real attempts (an open breaker's refusals do not count): about ten minutes of
# outage at the design's 30 s open period, far past any fault this harness injects.
MAX_ATTEMPTS = 20
# Backoff doubles from the retry period up to this cap, short enough that the
# drain after an outage is not held up by an entry's earlier failures.
BACKOFF_CAP_S = 2.0


@dataclass(slots=True)
class WriteResult:
    """The stored turn (final number) and whether DynamoDB confirmed it."""

    turn: Turn
    persisted: bool


def make_turn(
    session_id: str, turn_number: int, customer_id: str | None, message: str, reply: str, intent: str
) -> Turn:
    """A new turn stamped now, expiring in 24 h."""
    now = int(time.time())
    return Turn(session_id, turn_number, customer_id, now, message, reply, intent, now + TTL_SECONDS)


def renumbered(turn: Turn, number: int) -> Turn:
    """The same turn under another turn number."""
    return Turn(turn.session_id, number, turn.customer_id, turn.timestamp, turn.user_message,
                turn.assistant_reply, turn.intent, turn.ttl)


class SeedWriter:
    """``await asyncio.gather(dynamodb.put_item(...), redis write)`` — nothing more."""

    def __init__(self, dynamo: DynamoStore, cache: RedisCache, observer: Observer) -> None:
        self.dynamo = dynamo
        self.cache = cache
        self.obs = observer

    async def allocate(self, session_id: str, max_turn_seen: int) -> int:
        """Highest turn loaded + 1 (restarts at 1 when the read came back empty)."""
        return max_turn_seen + 1

    async def save(self, turn: Turn) -> WriteResult:
        """The design's ``save_turn``: ``gather(put_item, lpush)``, then ``ltrim``.

        Nothing is caught: a failed put (or a failed Redis call) leaves the
        ``gather`` as an exception and travels up to whoever awaits the save,
        and a slow put is waited out in full, because the design puts neither
        a timeout nor the breaker on this path.  ``persisted`` is True only
        because reaching the return means both writes were confirmed.
        """
        fields: dict[str, Any] = {"session_id": turn.session_id, "turn_number": turn.turn_number}
        # Write to both simultaneously
        await asyncio.gather(
            self.obs.call("memory_write", "dynamodb", "write", lambda: self.dynamo.put_turn(turn),
                          lambda b: {"bytes": b}, **fields),
            self.obs.call("memory_write", "redis", "write", lambda: self.cache.lpush(turn),
                          lambda b: {"bytes": b}, **fields),
        )
        # Trim Redis to the last turns
        await self.obs.call("memory_write", "redis", "trim", lambda: self.cache.ltrim(turn.session_id), None,
                            **fields)
        return WriteResult(turn, persisted=True)

    async def start(self) -> None:
        """Nothing runs in the background for the seed."""

    async def stop(self) -> None:
        """Nothing to stop."""


class HardenedWriter:
    """Bounded, breaker-guarded, conflict-free writes with an outbox (module docstring)."""

    def __init__(
        self,
        dynamo: DynamoStore,
        cache: RedisCache,
        breaker: BreakerBase,
        observer: Observer,
        outbox: Outbox,
        events: EventLog,
        metrics: Metrics,
        retry_s: float = 0.5,
        last_turns: LastTurns | None = None,
    ) -> None:
        self.dynamo = dynamo
        self.cache = cache
        self.breaker = breaker
        self.obs = observer
        self.outbox = outbox
        self.events = events
        self.metrics = metrics
        self.retry_s = retry_s
        self.last_turns = last_turns or LastTurns()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.metrics.outbox_pending.set(outbox.pending)

    def _remember(self, session_id: str, number: int) -> None:
        self.last_turns.remember(session_id, number)

    async def allocate(self, session_id: str, max_turn_seen: int) -> int:
        """The next turn number: max of the Redis counter, the read, and the local memo."""
        floor = max(max_turn_seen, self.last_turns.get(session_id)) + 1
        counter = await self.obs.run(
            "memory_write", "redis", "counter", lambda: self.cache.next_turn_number(session_id),
            session_id=session_id,
        )
        number = max(floor, int(counter.value)) if counter.ok else floor
        if counter.ok and number > int(counter.value):
            with contextlib.suppress(Exception):
                await self.cache.raise_counter(session_id, number)
        self._remember(session_id, number)
        return number

    async def _put_once(self, turn: Turn) -> OpResult:
        return await self.obs.run(
            "memory_write", "dynamodb", "write",
            lambda: self.breaker.call(lambda: self.dynamo.put_turn_if_free(turn)),
            lambda ok: {"bytes": len(turn.to_json())} if ok else {"outcome": "conflict"},
            session_id=turn.session_id, turn_number=turn.turn_number,
        )

    async def _max_stored(self, session_id: str) -> OpResult:
        return await self.obs.run(
            "memory_read", "dynamodb", "max_turn",
            lambda: self.breaker.call(lambda: self.dynamo.max_turn_number(session_id)),
            session_id=session_id,
        )

    async def _put(self, turn: Turn) -> tuple[OpResult, Turn]:
        """Conditional put through the breaker, bumping the number on a conflict."""
        for _ in range(_MAX_BUMPS):
            res = await self._put_once(turn)
            if not res.ok or res.value:
                return res, turn
            top = await self._max_stored(turn.session_id)
            nxt = max(turn.turn_number + 1, (int(top.value) + 1) if top.ok else 0)
            turn = renumbered(turn, nxt)
            self._remember(turn.session_id, nxt)
            if not top.ok:
                return top, turn
        return OpResult(False, error=RuntimeError("turn number conflicts persisted")), turn

    async def save(self, turn: Turn) -> WriteResult:
        """Put to DynamoDB (bounded); on failure queue to the outbox; then refresh Redis."""
        res, turn = await self._put(turn)
        persisted = bool(res.ok and res.value)
        if not persisted and res.error is not None and is_client_error(res.error):
            # DynamoDB refused this one item as malformed: retrying cannot help,
            # and queueing it would stall every turn queued behind it.
            self._give_up(turn, f"rejected: {type(res.error).__name__}: {res.error}", 1)
        elif not persisted:
            self.outbox.add(turn)
            self.metrics.outbox_pending.set(self.outbox.pending)
            self.events.emit("outbox", session_id=turn.session_id, turn_number=turn.turn_number, action="queued")
            self._wake.set()
        await self.obs.run(
            "memory_write", "redis", "write", lambda: self.cache.push(turn), lambda b: {"bytes": b},
            session_id=turn.session_id, turn_number=turn.turn_number,
        )
        return WriteResult(turn, persisted)

    async def flush_once(self) -> int:
        """Try to write the pending turns, oldest first, skipping those backing off.

        It stops at the first failure that says DynamoDB is down (a timeout, an
        open breaker): the next entries would fail the same way. A failed entry
        then backs off, so the next pass starts with the entries behind it and
        no single turn holds up the queue.

        One put at a time, on purpose: measured on the 2-core stack, eight at a
        time after an outage made the service miss its own 200 ms budget,
        re-opened the breaker and stalled the drain.
        """
        written = 0
        now = time.monotonic()
        for entry in self.outbox.entries():
            if entry.not_before > now:
                continue
            if not await self._flush_entry(entry):
                break
            written += 1
        self.metrics.outbox_pending.set(self.outbox.pending)
        return written

    def _give_up(self, turn: Turn, reason: str, attempts: int, entry: OutboxEntry | None = None) -> None:
        self.outbox.dead_letter(turn, reason, attempts, entry)
        self.metrics.outbox_dead_letters.inc()
        self.events.emit("outbox", session_id=turn.session_id, turn_number=turn.turn_number,
                         action="dead_letter", attempts=attempts, reason=reason[:300])

    async def _flush_entry(self, entry: OutboxEntry) -> bool:
        """One attempt; True when the entry left the queue (written or given up on)."""
        res, turn = await self._put(entry.turn)
        if turn.turn_number != entry.turn.turn_number:
            self.events.emit("outbox", session_id=turn.session_id, turn_number=turn.turn_number,
                             action="renumbered", previous=entry.turn.turn_number)
        entry.turn = turn
        if res.ok and res.value:
            entry.attempts += 1
            self.outbox.done(entry)
            self.metrics.outbox_flushed.inc()
            self.events.emit("outbox", session_id=turn.session_id, turn_number=turn.turn_number, action="flushed")
            return True
        if isinstance(res.error, CircuitOpenError):
            return False  # never reached DynamoDB: not an attempt, no backoff
        entry.attempts += 1
        if res.error is not None and is_client_error(res.error):
            self._give_up(turn, f"rejected: {type(res.error).__name__}: {res.error}", entry.attempts, entry)
            return True
        if entry.attempts >= MAX_ATTEMPTS:
            self._give_up(turn, f"{entry.attempts} failed attempts, last: {res.error}", entry.attempts, entry)
            return True
        entry.not_before = time.monotonic() + min(self.retry_s * 2 ** (entry.attempts - 1), BACKOFF_CAP_S)
        self.events.emit("outbox", session_id=turn.session_id, turn_number=turn.turn_number,
                         action="failed", attempts=entry.attempts)
        return False

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_s)
            self._wake.clear()
            if self.outbox.pending:
                try:
                    await self.flush_once()
                except Exception as exc:  # never let the flusher die
                    self.events.emit("outbox", action="failed", error=str(exc)[:300])

    async def start(self) -> None:
        """Start the background flusher."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop the flusher (pending turns stay in the journal)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.outbox.close()
