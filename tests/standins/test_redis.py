"""The fakeredis stand-in is a real RESP server over TCP, without Nagle's 40 ms delay.

Driven with redis-py (sync and asyncio) exactly as the service's cache path uses
it: LPUSH + LTRIM + EXPIRE in MULTI/EXEC, then LRANGE.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from redis.backoff import NoBackoff
from redis.retry import Retry


@pytest.fixture(scope="module")
def standin(spawn_standin: Any) -> Iterator[Any]:
    with spawn_standin("redis") as proc:
        yield proc


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0))


def test_capped_list_in_multi_exec(standin: Any) -> None:
    assert standin.url.startswith("redis://127.0.0.1:")
    r = _client(standin.url)
    try:
        key = "session:abc"
        for turn in range(1, 8):
            with r.pipeline(transaction=True) as p:
                p.lpush(key, f"turn-{turn}").ltrim(key, 0, 4).expire(key, 3600)
                res = p.execute()
            assert res[1:] == [True, True] and res[0] == min(turn, 5) + (1 if turn > 5 else 0)
        assert r.lrange(key, 0, -1) == [f"turn-{t}".encode() for t in range(7, 2, -1)]
        assert 3590 <= r.ttl(key) <= 3600
        assert r.lrange("session:none", 0, -1) == []
    finally:
        r.close()


def test_asyncio_client_and_ttl_refresh(standin: Any) -> None:
    async def run() -> list[bytes]:
        r = aredis.Redis.from_url(standin.url, socket_timeout=5, retry=Retry(NoBackoff(), 0))
        try:
            async with r.pipeline(transaction=True) as p:
                p.lpush("s:async", "a").ltrim("s:async", 0, 4).expire("s:async", 10)
                await p.execute()
            async with r.pipeline(transaction=True) as p:
                p.lpush("s:async", "b").ltrim("s:async", 0, 4).expire("s:async", 100)
                await p.execute()
            assert 90 <= await r.ttl("s:async") <= 100
            return await r.lrange("s:async", 0, -1)
        finally:
            await r.aclose()

    assert asyncio.run(asyncio.wait_for(run(), 10)) == [b"b", b"a"]


def test_accepted_sockets_have_nodelay() -> None:
    """The fix itself: every accepted connection has Nagle's algorithm off.

    (Round-trip latency is measured, not asserted: benchmarks/dynamodb_query.py --redis.)
    """
    from harness.standins.redis import NoDelayFakeServer

    srv = NoDelayFakeServer()
    try:
        with socket.create_connection(srv.server_address[:2], timeout=5):
            conn, _ = srv.get_request()
            try:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            finally:
                conn.close()
    finally:
        srv.server_close()


def test_many_small_round_trips(standin: Any) -> None:
    r = _client(standin.url)
    try:
        for i in range(300):
            with r.pipeline(transaction=True) as p:
                p.lpush("s:rt", i).ltrim("s:rt", 0, 4).expire("s:rt", 60)
                assert p.execute()[1:] == [True, True]
        assert r.lrange("s:rt", 0, -1) == [str(i).encode() for i in range(299, 294, -1)]
    finally:
        r.close()


def test_sigterm_exits_zero(spawn_standin: Any) -> None:
    with spawn_standin("redis") as proc:
        r = _client(proc.url)
        r.set("k", "v")
        assert r.get("k") == b"v"
        # an idle open connection must not hold up shutdown
        assert proc.stop(timeout=10) == 0
        r.close()
