"""The Redis hot path: a capped, expiring list of recent turns per session.

Why these settings: redis-py's asyncio defaults are 5 s timeouts and 10 retries,
which turned a 0.2 s timeout into 6.9 s against a silent server and can apply
a retried MULTI/EXEC twice.  We set explicit socket/connect timeouts and
``Retry(NoBackoff(), 0)``.  Each turn is written with LPUSH + LTRIM + EXPIRE in
ONE MULTI/EXEC (LPUSH/LTRIM keep the old TTL, so EXPIRE is refreshed every write).
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from reference_service.turns import Turn

CACHE_TTL_S = 3600
COUNTER_TTL_S = 86_400


def list_key(session_id: str) -> str:
    """The design's key for a session's recent turns."""
    return f"session:{session_id}"


def counter_key(session_id: str) -> str:
    """Hardened: the per-session turn-number counter."""
    return f"session:{session_id}:seq"


class RedisCache:
    """Recent turns per session in Redis (newest first in the list)."""

    def __init__(self, url: str, timeout_ms: float = 100.0, keep: int = 5) -> None:
        self.url = url
        self.keep = keep
        self.timeout_s = timeout_ms / 1000.0
        self.client: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=True,
            health_check_interval=0,
            max_connections=256,
        )

    async def _bounded(self, coro: Any) -> Any:
        # Socket timeouts already bound each read; this backstop covers the
        # rare paths where several socket operations happen in one call.
        return await asyncio.wait_for(coro, self.timeout_s * 3 + 0.05)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def recent(self, session_id: str, n: int | None = None) -> list[Turn]:
        """Up to ``n`` (default ``keep``) newest cached turns, chronological."""
        count = self.keep if n is None else n
        raw = await self._bounded(self.client.lrange(list_key(session_id), 0, count - 1))
        return [Turn.from_json(r) for r in reversed(raw)]

    async def push(self, turn: Turn) -> int:
        """LPUSH + LTRIM 0 keep-1 + EXPIRE 3600 in one MULTI/EXEC; returns bytes written."""
        key = list_key(turn.session_id)
        payload = turn.to_json()

        async def run() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, payload)
                pipe.ltrim(key, 0, self.keep - 1)
                pipe.expire(key, CACHE_TTL_S)
                await pipe.execute()

        await self._bounded(run())
        return len(payload)

    async def lpush(self, turn: Turn) -> int:
        """Seed: the design's bare ``LPUSH session:{id} turn``; returns bytes written."""
        payload = turn.to_json()
        await self._bounded(self.client.lpush(list_key(turn.session_id), payload))
        return len(payload)

    async def ltrim(self, session_id: str) -> None:
        """Seed: the design's ``LTRIM 0 keep-1``, then the 1 h TTL its hot-path description promises."""
        key = list_key(session_id)
        await self._bounded(self.client.ltrim(key, 0, self.keep - 1))
        await self._bounded(self.client.expire(key, CACHE_TTL_S))

    async def next_turn_number(self, session_id: str) -> int:
        """Hardened: INCR the session counter (and refresh its TTL) in one MULTI/EXEC."""
        key = counter_key(session_id)

        async def run() -> int:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, COUNTER_TTL_S)
                res = await pipe.execute()
            return int(res[0])

        return int(await self._bounded(run()))

    async def raise_counter(self, session_id: str, floor: int) -> None:
        """Hardened: make sure the counter is at least ``floor`` (after a reset or eviction)."""
        script = (
            "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
            "if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1"
        )
        await self._bounded(self.client.eval(script, 1, counter_key(session_id), floor, COUNTER_TTL_S))

    async def populate(self, turns: list[Turn]) -> None:
        """Refill a session's list from DynamoDB after a miss (one MULTI/EXEC)."""
        if turns:
            await self._bounded(_populate(self, turns))

    async def ping(self) -> bool:
        """True if Redis answers."""
        return bool(await self._bounded(self.client.ping()))


async def _populate(cache: RedisCache, turns: list[Turn]) -> None:
    key = list_key(turns[0].session_id)
    async with cache.client.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.lpush(key, *[t.to_json() for t in turns])  # chronological in, newest ends up first
        pipe.ltrim(key, 0, cache.keep - 1)
        pipe.expire(key, CACHE_TTL_S)
        await pipe.execute()
