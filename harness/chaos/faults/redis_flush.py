"""Redis comes back empty: every cached window is gone, as after a restart of a node with no persistence.

What a client sees when an ElastiCache node is replaced or restarts without a
snapshot: the address answers again at once, but holds nothing. It is the
one case in which the design's read path meets a *reachable, empty* Redis, so
a session whose DynamoDB read then fails has no history at all: the design's
level 2 ("stateless", with its notice), which no outage of Redis reaches
(a Redis that fails outright makes it level 3).

The fault is one ``FLUSHALL`` at its start; there is nothing to roll back (the
cache refills as turns are written, as it would). It refuses any Redis the
harness did not start: a ``--redis-url`` may be someone's real cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from harness.chaos.faults.base import Fault
from harness.chaos.faults.our_redis import our_redis_url
from harness.state import Component
from harness.toxiclient import ToxiproxyClient


@dataclass
class RedisFlushFault(Fault):
    """Every key of the embedded Redis is deleted at the fault's start (``FLUSHALL``)."""

    url: str | None = None
    flushed_keys: int | None = None
    proxy = "redis"

    def bind(self, components: dict[str, Component]) -> None:
        self.url = our_redis_url(components, "--redis-flush", ("redis-server", "fakeredis"),
                                 "a Redis this harness started", "a --redis-url is not ours to empty")

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client  # an action on the server itself, not a toxic
        conn = redis.Redis.from_url(str(self.url), socket_timeout=5)
        try:
            self.flushed_keys = int(conn.dbsize())
            conn.flushall()
        finally:
            conn.close()
        return {"proxy": "redis", "toxic": None, "detail": {"flushall": True, "keys_deleted": self.flushed_keys}}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client
        return {"proxy": "redis", "toxic": None, "detail": {"flushall": "nothing to restore: the cache refills"}}

    def describe(self) -> str:
        return "redis restarted empty (FLUSHALL at the fault's start)"

    def effect(self) -> dict[str, Any]:
        return {"flushed": True}
