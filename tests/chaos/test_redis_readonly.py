"""``--redis-readonly`` on a real redis-server: writes answer Redis's own READONLY error, reads go on,
and the rollback makes it a primary again with its data intact."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from harness.chaos.faults import NotOurRedis, RedisReadonlyFault
from harness.chaos.flags import ChaosFlags, build_options


@pytest.fixture
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (.ci/run installs it)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        proc.terminate()
        proc.wait(5)


def test_writes_answer_readonly_until_rolled_back(redis_url: str) -> None:
    opts, _ = build_options(ChaosFlags(redis_readonly=True, quick=True))
    [fault] = opts.faults
    assert isinstance(fault, RedisReadonlyFault) and opts.fault_label == "redis-readonly"
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    client.rpush("session:s1", "turn 1")
    fault.bind({"redis": {"backend": "redis-server", "url": redis_url}})
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


@pytest.mark.parametrize("backend", ["fakeredis", "url", None])
def test_a_redis_the_harness_did_not_start_is_never_demoted(backend: str | None) -> None:
    fault = RedisReadonlyFault()
    with pytest.raises(NotOurRedis, match="embedded redis-server"):
        fault.bind({"redis": {"backend": backend, "url": "redis://127.0.0.1:6379"}} if backend else {})
