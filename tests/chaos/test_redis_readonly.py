"""``--redis-readonly`` on a real redis-server: writes answer Redis's own READONLY error, reads go on,
and the rollback makes it a primary again with its data intact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from harness.chaos.faults import NotOurRedis, RedisReadonlyFault
from harness.chaos.flags import ChaosFlags, build_options
from harness.state import Component
from tests.service.helpers import redis_server


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as port:  # its own server: the fault demotes it
        yield f"redis://127.0.0.1:{port}"


def test_writes_answer_readonly_until_rolled_back(redis_url: str) -> None:
    opts, _ = build_options(ChaosFlags(redis_readonly=True, quick=True))
    [fault] = opts.faults
    assert isinstance(fault, RedisReadonlyFault) and opts.fault_label == "redis-readonly"
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    client.rpush("session:s1", "turn 1")
    fault.bind({"redis": Component(backend="redis-server", url=redis_url, started_by_us=True)})
    fault.apply(None)  # type: ignore[arg-type]  # the server's own state, no proxy
    with pytest.raises(redis.exceptions.ReadOnlyError, match="read only replica"):
        client.lpush("session:s1", "turn 2")
    assert client.lrange("session:s1", 0, -1) == [b"turn 1"]  # reads served, data kept
    assert fault.effect() == {"readonly": True}
    fault.rollback(None)  # type: ignore[arg-type]
    client.lpush("session:s1", "turn 2")
    assert client.info("replication")["role"] == "master"
    assert client.lrange("session:s1", 0, -1) == [b"turn 2", b"turn 1"]
    client.close()


@pytest.mark.parametrize(("backend", "ours"), [("fakeredis", True), ("url", True), ("redis-server", False),
                                               (None, True)])
def test_a_redis_the_harness_did_not_start_is_never_demoted(backend: str | None, ours: bool) -> None:
    """Not fakeredis (no replication), not a URL, and not a redis-server an earlier ``harness up`` left running."""
    fault = RedisReadonlyFault()
    with pytest.raises(NotOurRedis, match="embedded redis-server, started by this harness"):
        fault.bind({"redis": Component(backend=backend, url="redis://127.0.0.1:6379", started_by_us=ours)}
                   if backend else {})
