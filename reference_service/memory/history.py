"""The read path, one class per variant, and the design's graceful degradation levels it produces.

Levels: 0 ``full`` (the whole window, from Redis and/or DynamoDB); 1
``cache_only`` (DynamoDB failed; what Redis holds plus unflushed outbox turns,
when that holds every one of the last 5 turns); 2 ``stateless`` (DynamoDB
failed, and Redis is empty or lost a recent turn: current message only); 3
``fallback`` (DynamoDB *and* Redis failed: zero context, still answer).

``SeedHistory`` is the design's read path literally: any Redis hit returns at
once (only the 5 cached turns), a miss reads DynamoDB through the snippet
breaker with ``Limit=10`` and no TTL filter. ``HardenedHistory`` caches 10
turns, reads DynamoDB on a partial hit, skips expired items, merges outbox
turns so an outage does not make the conversation forget itself, and distrusts
a window missing a turn this process wrote (Redis refused it; see ``memo.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from reference_service.memory.breaker import BreakerBase
from reference_service.memory.cache import RedisCache
from reference_service.memory.dynamo import DynamoStore
from reference_service.memory.memo import LastTurns
from reference_service.memory.observe import Observer, OpResult, reason_of
from reference_service.memory.outbox import Outbox
from reference_service.turns import Turn

WINDOW = 10
# The design's hot path: the last 5 turns. Level 1 ("cache only") promises them,
# so a level-1 window must hold every one of the session's last 5 turns.
RECENT = 5
MODES = {0: "full", 1: "cache_only", 2: "stateless", 3: "fallback"}


@dataclass(slots=True)
class HistoryResult:
    """The history a reply is built from, and how good it is."""

    turns: list[Turn] = field(default_factory=list)
    level: int = 0
    reason: str | None = None
    source: str = "none"
    max_turn_seen: int = 0

    @property
    def memory_mode(self) -> str:
        """``full`` | ``cache_only`` | ``stateless`` | ``fallback``."""
        return MODES[self.level]

    def debug_metadata(self) -> dict[str, object]:
        """The ``debug_metadata`` object of the chat response."""
        return {
            "memory_mode": self.memory_mode,
            "level": self.level,
            "reason": self.reason,
            "history_source": self.source,
            "turns_loaded": len(self.turns),
        }


def _items(turns: list[Turn]) -> dict[str, object]:
    return {"outcome": "hit" if turns else "miss", "items": len(turns)}


def _redis_reason(redis: OpResult) -> str | None:
    """Why Redis did not serve, when it failed (so a level-0 DynamoDB read still says so)."""
    if not redis.ok and redis.error is not None:
        return reason_of("redis", redis.error)
    return None


def _failed(redis: OpResult, dynamo: OpResult, max_turn_seen: int = 0) -> HistoryResult:
    """Level 2 or 3 when no usable history could be read (``max_turn_seen``: the newest turn known of)."""
    assert dynamo.error is not None
    if not redis.ok and redis.error is not None:
        return HistoryResult(level=3, reason=reason_of("redis", redis.error), max_turn_seen=max_turn_seen)
    return HistoryResult(level=2, reason=reason_of("dynamodb", dynamo.error), max_turn_seen=max_turn_seen)


class SeedHistory:
    """The design's read path, literally (see module docstring)."""

    def __init__(self, dynamo: DynamoStore, cache: RedisCache, breaker: BreakerBase, observer: Observer) -> None:
        self.dynamo = dynamo
        self.cache = cache
        self.breaker = breaker
        self.obs = observer

    async def load(self, session_id: str) -> HistoryResult:
        """Redis first; a hit returns immediately; a miss reads DynamoDB through the breaker."""
        redis = await self.obs.run(
            "memory_read", "redis", "read", lambda: self.cache.recent(session_id), _items, session_id=session_id
        )
        if redis.ok and redis.value:
            turns: list[Turn] = redis.value
            return HistoryResult(turns, source="redis", max_turn_seen=max(t.turn_number for t in turns))
        dynamo = await self.obs.run(
            "memory_read", "dynamodb", "read",
            lambda: self.breaker.call(lambda: self.dynamo.query_newest_literal(session_id, WINDOW)),
            lambda ts: {"items": len(ts)}, session_id=session_id,
        )
        if not dynamo.ok:
            return _failed(redis, dynamo)
        turns = dynamo.value
        if turns and redis.ok:
            await self.obs.run(
                "memory_write", "redis", "populate", lambda: self.cache.populate(turns), session_id=session_id
            )
        return HistoryResult(
            turns, reason=_redis_reason(redis), source="dynamodb",
            max_turn_seen=max((t.turn_number for t in turns), default=0),
        )


class HardenedHistory:
    """Full-window Redis hits, TTL-filtered paged DynamoDB reads, level 1 on partial hits."""

    def __init__(
        self,
        dynamo: DynamoStore,
        cache: RedisCache,
        breaker: BreakerBase,
        observer: Observer,
        outbox: Outbox,
        last_turns: LastTurns | None = None,
    ) -> None:
        self.dynamo = dynamo
        self.cache = cache
        self.breaker = breaker
        self.obs = observer
        self.outbox = outbox
        self.last_turns = last_turns or LastTurns()

    @staticmethod
    def _complete(turns: list[Turn]) -> bool:
        """A cached window is complete if it is full or reaches back to the first turn."""
        return len(turns) >= WINDOW or (bool(turns) and min(t.turn_number for t in turns) <= 1)

    @staticmethod
    def _holds_recent(turns: list[Turn], newest: int) -> bool:
        """Every one of the last ``RECENT`` turns up to ``newest`` is there (no gap a flushed Redis left)."""
        have = {t.turn_number for t in turns}
        return all(n in have for n in range(max(1, newest - RECENT + 1), newest + 1))

    @staticmethod
    def _merge(*groups: list[Turn]) -> list[Turn]:
        now = time.time()
        by_number: dict[int, Turn] = {}
        for group in groups:
            for turn in group:
                if turn.ttl > now:
                    by_number.setdefault(turn.turn_number, turn)
        return [by_number[k] for k in sorted(by_number)][-WINDOW:]

    async def load(self, session_id: str) -> HistoryResult:
        """See the module docstring for the decision table."""
        pending = self.outbox.pending_for(session_id)
        redis = await self.obs.run(
            "memory_read", "redis", "read", lambda: self.cache.recent(session_id, WINDOW), _items,
            session_id=session_id,
        )
        cached: list[Turn] = self._merge(redis.value) if redis.ok else []
        # A window that misses a turn this process wrote is stale (Redis refused that write): read DynamoDB.
        # (the outbox holds turns DynamoDB has not taken yet, so they count as written)
        newest = max((t.turn_number for t in (*cached, *pending)), default=0)
        fresh = bool(cached) and newest >= self.last_turns.get(session_id)
        if fresh and self._complete(cached):
            turns = self._merge(cached, pending)
            return HistoryResult(turns, source="redis", max_turn_seen=max(t.turn_number for t in turns))

        async def read() -> list[Turn]:
            turns, _pages = await self.dynamo.query_newest_live(session_id, WINDOW)
            return turns

        dynamo = await self.obs.run(
            "memory_read", "dynamodb", "read", lambda: self.breaker.call(read),
            lambda ts: {"items": len(ts)}, session_id=session_id,
        )
        if dynamo.ok:
            stored: list[Turn] = dynamo.value
            turns = self._merge(stored, cached, pending)
            source = "redis+dynamodb" if cached else "dynamodb"
            if stored and redis.ok and not cached:
                await self.obs.run(
                    "memory_write", "redis", "populate", lambda: self.cache.populate(turns),
                    session_id=session_id,
                )
            return HistoryResult(
                turns, reason=_redis_reason(redis), source=source,
                max_turn_seen=max((t.turn_number for t in turns), default=0),
            )
        assert dynamo.error is not None
        partial = self._merge(cached, pending)
        numbers = sorted(t.turn_number for t in pending)
        if not cached and numbers and numbers == list(range(1, len(numbers) + 1)):
            # The whole conversation is still in the outbox (it began during the
            # outage): that is the full history, from memory we hold ourselves.
            return HistoryResult(partial, reason=reason_of("dynamodb", dynamo.error), source="outbox",
                                 max_turn_seen=numbers[-1])
        # Level 1 means "Redis only": without a Redis read to stand on, a few
        # unflushed outbox turns are not the recent window, and calling them
        # cache_only would claim memory the service does not have. Nor is a
        # window with a gap in its last 5 turns (Redis restarted empty, then took
        # a newer write): answering from it would forget a turn level 1 promises.
        if cached and self._holds_recent(partial, max(newest, self.last_turns.get(session_id))):
            return HistoryResult(
                partial, level=1, reason=reason_of("dynamodb", dynamo.error),
                source="+".join(name for name, got in (("redis", cached), ("outbox", pending)) if got),
                max_turn_seen=max(t.turn_number for t in partial),
            )
        # what the gapped window did show still numbers the next turn on
        return _failed(redis, dynamo, newest)
