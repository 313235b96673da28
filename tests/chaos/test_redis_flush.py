"""``--redis-flush`` on a real redis-server: every cached window is gone at the fault's start, nothing
else changes, and a Redis the harness did not start is never emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from harness.chaos.experiment import ExperimentError, load_experiment
from harness.chaos.faults import NotOurRedis, RedisFlushFault
from harness.chaos.flags import ChaosFlags, UsageError, build_options
from harness.state import Component
from tests.service.helpers import redis_server


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as port:  # its own server: the fault empties it
        yield f"redis://127.0.0.1:{port}"


def test_every_key_is_gone_and_the_server_keeps_serving(redis_url: str) -> None:
    opts, _ = build_options(ChaosFlags(redis_flush=True, dynamo_down=True, quick=True))
    fault = next(f for f in opts.faults if isinstance(f, RedisFlushFault))
    assert opts.fault_label == "dynamo-down+redis-flush"
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    for n in range(3):
        client.rpush(f"session:s{n}", "turn 1")
    fault.bind({"redis": Component(backend="redis-server", url=redis_url, started_by_us=True)})
    done = fault.apply(None)  # type: ignore[arg-type]  # the server itself, no proxy
    assert done["detail"] == {"flushall": True, "keys_deleted": 3}
    assert client.dbsize() == 0
    client.rpush("session:s0", "turn 2")  # still a working primary: the cache refills
    assert fault.rollback(None)["toxic"] is None  # type: ignore[arg-type]
    assert client.lrange("session:s0", 0, -1) == [b"turn 2"]
    assert fault.effect() == {"flushed": True}
    client.close()


@pytest.mark.parametrize(("backend", "ours"), [("url", True), ("redis-server", False), ("fakeredis", False)])
def test_a_redis_the_harness_did_not_start_is_never_emptied(backend: str, ours: bool) -> None:
    with pytest.raises(NotOurRedis, match="a Redis this harness started"):
        RedisFlushFault().bind({"redis": Component(backend=backend, url="redis://127.0.0.1:6379",
                                                   started_by_us=ours)})
    with pytest.raises(NotOurRedis):
        RedisFlushFault().bind({})


def test_experiment_files_name_it_kind_flush_on_redis_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.yaml"
    good.write_text("name: empty-cache\nvariant: hardened\nquick: true\n"
                    "faults:\n  - {target: dynamodb, kind: down}\n  - {target: redis, kind: flush}\n")
    flags = load_experiment(good, tmp_path).flags
    assert [(g.dynamo_down, g.redis_flush) for g in flags.more_faults] == [(True, False), (False, True)]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: wrong\nvariant: hardened\nfaults:\n  - {target: dynamodb, kind: flush}\n")
    with pytest.raises(ExperimentError, match="target"):
        load_experiment(bad, tmp_path)
    with pytest.raises(UsageError, match="--toxicity"):  # a flush is all or nothing, like a restart
        build_options(ChaosFlags(redis_flush=True, quick=True, toxicity="0.5"))
