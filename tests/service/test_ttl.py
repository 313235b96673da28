"""TTL: expired-but-not-deleted items are returned by DynamoDB; the hardened read filters and pages past them."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import boto3

from reference_service.memory.dynamo import DynamoStore
from reference_service.sessions import SessionCodec

from .helpers import run_service


def seed_items(moto_port: int, table: str, session_id: str) -> None:
    """Turns 1..10 live, then 12 newer turns (11..22) already expired: more expired newest items than Limit."""
    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    now = int(time.time())
    for n in range(1, 23):
        ttl = now + 3600 if n <= 10 else now - 60
        client.put_item(TableName=table, Item={
            "session_id": {"S": session_id}, "turn_number": {"N": str(n)}, "customer_id": {"NULL": True},
            "timestamp": {"N": str(now - 100 + n)}, "user_message": {"S": f"m{n}"},
            "assistant_reply": {"S": f"r{n}"}, "intent": {"S": "other"}, "ttl": {"N": str(ttl)},
        })


def test_hardened_read_skips_expired_and_pages(make_config, moto_port, tmp_path: Path) -> None:
    cfg = make_config(variant="hardened")
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        sid = str(uuid.uuid4())
        seed_items(moto_port, cfg.table_name, sid)
        cookie = f"session={SessionCodec('test-secret').sign(sid)}"
        b = svc.chat("hello again", cookie).json()
        assert b["debug_metadata"] == {"memory_mode": "full", "level": 0, "reason": None,
                                       "history_source": "dynamodb", "turns_loaded": 10}
        # 10 live turns = 20 history messages + the new one
        assert b["response"].startswith("ECHO[21]:")
        assert b["turn_number"] == 23  # never reuses a number held by an expired item

    async def direct() -> tuple[list[int], int]:
        store = DynamoStore(f"http://127.0.0.1:{moto_port}", cfg.table_name)
        await store.start()
        try:
            turns, pages = await store.query_newest_live(sid, 10)
            return [t.turn_number for t in turns], pages
        finally:
            await store.close()

    numbers, pages = asyncio.run(direct())
    assert numbers == [*range(2, 11), 23]  # newest 10 live turns, incl. the one just written
    assert pages >= 2  # the first Limit=10 page held only expired items


def test_seed_read_returns_expired_items(make_config, moto_port, tmp_path: Path) -> None:
    cfg = make_config(variant="seed")
    with run_service(cfg, tmp_path / "ev.jsonl") as svc:
        sid = str(uuid.uuid4())
        seed_items(moto_port, cfg.table_name, sid)
        cookie = f"session={SessionCodec('test-secret').sign(sid)}"
        b = svc.chat("hello again", cookie).json()
        assert b["debug_metadata"]["turns_loaded"] == 10
        assert b["turn_number"] == 23
        # the history it answered from is the 10 expired turns 13..22
        reads = [e for e in svc.events("memory_read") if e["store"] == "dynamodb"]
        assert reads[-1]["items"] == 10
