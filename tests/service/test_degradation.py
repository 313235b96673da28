"""Every degradation level, the breaker, the outbox and the seed's flaws — by really breaking dependencies."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis

from reference_service.sessions import SessionCodec

from .helpers import STATELESS_NOTICE, cookie_of, run_service

pytestmark = pytest.mark.timeout(90)


def ddb(moto_port: int) -> Any:
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def items(moto_port: int, table: str, session_id: str) -> dict[int, dict[str, Any]]:
    resp = ddb(moto_port).query(TableName=table, KeyConditionExpression="session_id = :s",
                                ExpressionAttributeValues={":s": {"S": session_id}})
    return {int(i["turn_number"]["N"]): i for i in resp["Items"]}


def wait_for(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def three_turns(svc: Any) -> tuple[str, str]:
    """A hardened session with turns 1-3 written everywhere: its cookie and session id."""
    r = svc.chat("recommend dark fantasy manga")
    cookie, sid = cookie_of(r), r.json()["session_id"]
    for i in range(2, 4):
        svc.chat(f"message {i}", cookie)
    return cookie, sid


def test_hardened_levels_breaker_and_outbox(make_config, dynamo_proxy, redis_proxy, redis_port, moto_port,
                                            tmp_path: Path) -> None:
    cfg = make_config(variant="hardened")
    rds = redis.Redis(port=redis_port, decode_responses=True)
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        r = svc.chat("recommend dark fantasy manga")
        cookie, sid = cookie_of(r), r.json()["session_id"]
        for i in range(2, 8):
            assert svc.chat(f"message {i}", cookie).json()["turn_number"] == i
        assert rds.llen(f"session:{sid}") == 7

        # Level 1: Redis holds the last 5 turns, not the 10 the hardened read wants, and DynamoDB times out.
        rds.ltrim(f"session:{sid}", 0, 4)
        dynamo_proxy.set("blackhole")
        b = svc.chat("what about the second one?", cookie).json()
        assert b["debug_metadata"] == {"memory_mode": "cache_only", "level": 1, "reason": "dynamo_timeout",
                                       "history_source": "redis", "turns_loaded": 5}
        assert b["persisted"] is False and b["turn_number"] == 8
        acknowledged = set(range(1, 9))

        # Level 2: Redis is empty and DynamoDB is down (connections refused).
        rds.delete(f"session:{sid}")
        dynamo_proxy.set("down")
        b = svc.chat("what about the second one?", cookie).json()
        # The outbox still holds turn 4, but that is not the recent window: no Redis read, no level 1.
        assert b["debug_metadata"]["level"] == 2 and b["debug_metadata"]["memory_mode"] == "stateless"
        # A session with nothing anywhere but the outbox is gone: use a fresh session id.
        other = svc.chat("hello").json()  # new session: no read needed, level 0
        assert other["debug_metadata"]["level"] == 0 and other["persisted"] is False
        acknowledged_other = other["session_id"]
        acknowledged.add(b["turn_number"])

        # Breaker is open by now (threshold 3): reads are rejected without a call.
        assert svc.service.breaker.state == "open"
        text = svc.client.get(f"{svc.url}/metrics").text
        assert "DynamoDBCircuitOpen 1.0" in text

        # Level 2 on a session the outbox does not know, and level 3 with Redis down too.
        codec = SessionCodec("test-secret")
        stranger = str(uuid.uuid4())
        scookie = f"session={codec.sign(stranger)}"
        b = svc.chat("what about the second one?", scookie).json()
        assert b["debug_metadata"] == {"memory_mode": "stateless", "level": 2, "reason": "circuit_open",
                                       "history_source": "none", "turns_loaded": 0}
        assert b["response"] == STATELESS_NOTICE
        stranger2 = str(uuid.uuid4())
        b = svc.chat("recommend some manga", f"session={codec.sign(stranger2)}").json()
        assert b["debug_metadata"]["level"] == 2
        assert b["response"].startswith(STATELESS_NOTICE + " ECHO[1]:")
        redis_proxy.set("blackhole", cut=False)
        stranger3 = str(uuid.uuid4())
        b = svc.chat("recommend some manga", f"session={codec.sign(stranger3)}").json()
        assert b["debug_metadata"]["memory_mode"] == "fallback" and b["debug_metadata"]["level"] == 3
        assert b["debug_metadata"]["reason"] == "redis_timeout"
        text = svc.client.get(f"{svc.url}/metrics").text
        assert "StatelessModeSessions 4.0" in text

        # Recovery: the breaker half-opens, one probe closes it, the outbox drains.
        redis_proxy.set("pass")
        dynamo_proxy.set("pass")
        wait_for(lambda: svc.service.outbox.pending == 0, 15)
        assert svc.service.breaker.state == "closed"
        stored = items(moto_port, cfg.table_name, sid)
        assert acknowledged <= set(stored)
        assert [stored[n]["user_message"]["S"] for n in (1, 2, 3)] == [
            "recommend dark fantasy manga", "message 2", "message 3"]
        assert set(items(moto_port, cfg.table_name, acknowledged_other)) == {1}
        for s in (stranger, stranger2, stranger3):
            assert set(items(moto_port, cfg.table_name, s)) == {1}

        # After recovery the conversation has its full history again.
        b = svc.chat("and now?", cookie).json()
        assert b["debug_metadata"]["level"] == 0
        assert b["turn_number"] == max(acknowledged) + 1

        events = svc.events()
        kinds = {e["event"] for e in events}
        assert {"breaker_transition", "breaker_probe", "degradation", "outbox", "memory_read",
                "memory_write", "chat"} <= kinds
        trans = [(e["from"], e["to"]) for e in events if e["event"] == "breaker_transition"]
        assert ("closed", "open") in trans and ("half_open", "closed") in trans
        assert any(e["event"] == "outbox" and e["action"] == "flushed" for e in events)
        degr = [e for e in events if e["event"] == "degradation"]
        assert {d["memory_mode"] for d in degr} >= {"cache_only", "stateless", "fallback"}
        dbg = svc.client.get(f"{svc.url}/debug/memory").json()
        assert dbg["outbox"]["pending"] == 0 and dbg["outbox"]["flushed"] >= 4


def test_hardened_goes_stateless_when_the_cache_lost_a_recent_turn(make_config, dynamo_proxy, redis_port,
                                                                    tmp_path: Path) -> None:
    """Redis restarted empty and then took a newer write: turns 2-3 cached, turn 1 gone, DynamoDB slow.

    Level 1 promises the last 5 turns; a window with a gap in them would answer
    "the first one" from memory that no longer holds it, so the reply is level 2,
    with the design's notice.
    """
    cfg = make_config(variant="hardened")
    rds = redis.Redis(port=redis_port, decode_responses=True)
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        cookie, sid = three_turns(svc)
        rds.ltrim(f"session:{sid}", 0, 1)  # newest first: turns 3 and 2 stay, turn 1 is gone
        dynamo_proxy.set("blackhole")
        b = svc.chat("is the first one on Kindle?", cookie).json()
        assert b["debug_metadata"]["memory_mode"] == "stateless" and b["debug_metadata"]["level"] == 2, b
        assert b["debug_metadata"]["reason"] == "dynamo_timeout"
        assert b["response"].startswith(STATELESS_NOTICE)
        assert b["turn_number"] == 4 and b["persisted"] is False  # numbered on, kept in the outbox


def test_seed_blocks_on_slow_write_and_overwrites_after_stateless(
    make_config, dynamo_proxy, redis_port, moto_port, tmp_path: Path
) -> None:
    cfg = make_config(variant="seed")
    rds = redis.Redis(port=redis_port, decode_responses=True)
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        r = svc.chat("first message")
        cookie, sid = cookie_of(r), r.json()["session_id"]
        svc.chat("second message", cookie)
        assert rds.llen(f"session:{sid}") == 2
        rds.delete(f"session:{sid}")  # cache expired: the next read goes to DynamoDB
        dynamo_proxy.set("latency", 1.0)
        t0 = time.perf_counter()
        b = svc.chat("third message", cookie).json()
        elapsed = time.perf_counter() - t0
        assert b["debug_metadata"]["memory_mode"] == "stateless"
        assert b["debug_metadata"]["reason"] == "dynamo_timeout"
        assert b["persisted"] is True
        assert b["turn_number"] == 1  # "highest loaded + 1" restarted
        assert 1.0 <= elapsed < 1.0 + 3.0  # the write waited for the slow DynamoDB
        dynamo_proxy.set("pass")
        stored = items(moto_port, cfg.table_name, sid)
        assert stored[1]["user_message"]["S"] == "third message"  # turn 1 was overwritten
        assert set(stored) == {1, 2}


def test_hardened_does_not_block_on_slow_dynamodb(make_config, dynamo_proxy, tmp_path: Path) -> None:
    cfg = make_config(variant="hardened")
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        r = svc.chat("first message")
        cookie = cookie_of(r)
        dynamo_proxy.set("latency", 1.0)
        t0 = time.perf_counter()
        b = svc.chat("second message", cookie).json()
        elapsed = time.perf_counter() - t0
        # two calls bounded by the 150 ms breaker timeout; far below the injected second
        assert elapsed < 0.9
        assert b["persisted"] is False and b["turn_number"] == 2
        assert b["debug_metadata"]["level"] == 0  # Redis had the complete window
        dynamo_proxy.set("pass")
        wait_for(lambda: svc.service.outbox.pending == 0, 15)


def test_seed_snippet_breaker_ignores_errors(make_config, dynamo_proxy, redis_port, tmp_path: Path) -> None:
    cfg = make_config(variant="seed")
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        codec = SessionCodec("test-secret")
        dynamo_proxy.set("down")
        for _ in range(6):
            cookie = f"session={codec.sign(str(uuid.uuid4()))}"  # unknown to Redis: read goes to DynamoDB
            b = svc.chat("hello", cookie).json()
            assert b["debug_metadata"]["reason"] == "dynamo_error"
        assert svc.service.breaker.state == "closed"  # errors are not TimeoutError: never opens


def test_llm_failure_gives_apology(make_config, llm, tmp_path: Path) -> None:
    fake, _ = llm
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        fake.fail_status = 529
        try:
            r = svc.chat("recommend manga")
        finally:
            fake.fail_status = None
        assert r.status_code == 200
        assert r.json()["response"].startswith("I'm sorry")
        assert r.json()["persisted"] is True


def test_outbox_journal_survives_restart(make_config, dynamo_proxy, moto_port, tmp_path: Path) -> None:
    journal = tmp_path / "outbox.jsonl"
    cfg = make_config(variant="hardened", outbox_path=str(journal), outbox_retry_s=60.0)
    with run_service(cfg, tmp_path / "ev1.jsonl") as svc:
        r = svc.chat("keep me")
        sid = r.json()["session_id"]
        dynamo_proxy.set("down")
        b = svc.chat("and me", cookie_of(r)).json()
        assert b["persisted"] is False
        assert svc.service.outbox.pending == 1
    dynamo_proxy.set("pass")
    cfg2 = make_config(variant="hardened", outbox_path=str(journal), table_name=cfg.table_name)
    with run_service(cfg2, tmp_path / "ev2.jsonl") as svc2:
        wait_for(lambda: svc2.service.outbox.pending == 0, 15)
    stored = items(moto_port, cfg.table_name, sid)
    assert {n: i["user_message"]["S"] for n, i in stored.items()} == {1: "keep me", 2: "and me"}


def test_hardened_distrusts_a_cached_window_that_missed_a_refused_write(make_config, redis_port,
                                                                        tmp_path: Path) -> None:
    """A demoted Redis (READONLY) still serves the old list; the next turn must read DynamoDB, not that list."""
    cfg = make_config(variant="hardened")
    rds = redis.Redis(port=redis_port, decode_responses=True)
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        cookie, sid = three_turns(svc)
        assert rds.llen(f"session:{sid}") == 3
        rds.execute_command("REPLICAOF", "127.0.0.1", "1")  # writes now answer READONLY, reads go on
        try:
            fourth = svc.chat("is the first one on Kindle?", cookie).json()
            assert fourth["turn_number"] == 4 and fourth["persisted"] is True  # DynamoDB took it
            assert rds.llen(f"session:{sid}") == 3  # Redis refused it but still looks complete
            fifth = svc.chat("and the second one?", cookie).json()
        finally:
            rds.execute_command("REPLICAOF", "NO", "ONE")
        meta = fifth["debug_metadata"]
        assert meta["memory_mode"] == "full" and meta["turns_loaded"] == 4, meta
        assert "dynamodb" in meta["history_source"], meta
        refused = [e for e in svc.events("memory_write") if e.get("store") == "redis" and e.get("outcome") != "ok"]
        assert refused, "the refused Redis write left no trace in the event log"
