"""Redis turns read-only: every write answers ``READONLY You can't write against a read only replica.``

What a client sees for the seconds after a failover, when the node behind its
address was demoted to a replica: reads still served (stale), writes refused
with Redis's own error reply. The fault makes our embedded ``redis-server`` a
replica of an unreachable loopback master (``REPLICAOF 127.0.0.1 1``), so the
answer is the real server's, byte for byte; the rollback is ``REPLICAOF NO ONE``.
A replica that cannot reach its master keeps its data, so nothing is lost.

It refuses any Redis the harness did not start (a ``--redis-url`` may be
someone's real cache) and fakeredis, which has no replication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from harness.chaos.faults.base import Fault
from harness.chaos.faults.our_redis import our_redis_url
from harness.state import Component
from harness.toxiclient import ToxiproxyClient

UNREACHABLE_MASTER = ("127.0.0.1", 1)  # loopback port 1: refused at once, never a real master


@dataclass
class RedisReadonlyFault(Fault):
    """Writes to Redis answer READONLY (the node became a replica); reads go on."""

    url: str | None = None
    proxy = "redis"
    holds = "role"  # the node is a replica or a master, one at a time

    def bind(self, components: dict[str, Component]) -> None:
        self.url = our_redis_url(components, "--redis-readonly", ("redis-server",),
                                 "the embedded redis-server, started by this harness",
                                 "fakeredis has no replication and a --redis-url is not ours to demote")

    def _command(self, *args: Any) -> Any:
        client = redis.Redis.from_url(str(self.url), socket_timeout=5)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def apply(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client  # an answer of the server itself, not a toxic
        self._command("REPLICAOF", *UNREACHABLE_MASTER)
        return {"proxy": "redis", "toxic": None, "detail": {"replicaof": "{}:{}".format(*UNREACHABLE_MASTER)}}

    def rollback(self, client: ToxiproxyClient) -> dict[str, Any]:
        del client
        if self.url:
            self._command("REPLICAOF", "NO", "ONE")
        return {"proxy": "redis", "toxic": None, "detail": {"replicaof": "no one"}}

    def describe(self) -> str:
        return "redis read-only (writes answer READONLY)"

    def effect(self) -> dict[str, Any]:
        return {"readonly": True}
