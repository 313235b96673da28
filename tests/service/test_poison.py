"""Poison input: one unstorable message must cost its own turn at most, never other users' memory.

A lone surrogate (``\\ud800``) is valid JSON but not valid Unicode, so no
DynamoDB can store it and no reply could echo it.  Both variants refuse it
with a 400 before any memory call; the breaker stays closed, nothing is queued
for retries, and other users keep full memory.  A DynamoDB ``ValidationException``
(the unstorable item that got past input checks) must not count as a
dependency failure either.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from reference_service.memory.breaker import BreakerConfig, CircuitBreaker
from reference_service.memory.dynamo import is_client_error

from .helpers import FakeLLM, cookie_of, run_service

POISON = b'{"message": "tell me about \\ud800 books"}'


@pytest.mark.parametrize("variant", ["hardened", "seed"])
def test_poison_message_is_refused_and_harms_no_one(variant: str, make_config, tmp_path: Path) -> None:
    with run_service(make_config(variant=variant), tmp_path / "ev.jsonl") as svc:
        first = svc.chat("recommend a sci-fi book")
        assert first.status_code == 200
        cookie = cookie_of(first)
        for _ in range(6):  # more than the breaker threshold (3 in this config)
            r = svc.client.post(f"{svc.url}/chat", content=POISON,
                                headers={"content-type": "application/json", "Cookie": cookie})
            assert r.status_code == 400, r.text
            assert r.json() == {"error": "invalid_message", "detail": '"message" is not valid Unicode text'}
        assert svc.service.breaker.state == "closed"
        other = svc.chat("recommend a mystery novel")
        assert other.status_code == 200
        follow = svc.chat("tell me more about the first one", cookie_of(other))
        assert follow.status_code == 200
        assert follow.json()["debug_metadata"]["memory_mode"] == "full"
        assert not [e for e in svc.events("breaker_transition") if e.get("to") == "open"]


def test_an_item_dynamodb_rejects_is_dead_lettered_and_harms_no_one(
        make_config, llm: tuple[FakeLLM, str], tmp_path: Path) -> None:
    """Past every input check: a 450 KB LLM reply makes an item over DynamoDB's 400 KB limit.

    moto answers ``ValidationException``, as DynamoDB does. The hardened writer
    must dead-letter that one turn at once (no retries, no breaker failure), say
    so in ``/metrics``, ``/debug/memory`` and ``/healthz``, and keep persisting
    everyone else's turns.
    """
    fake, _ = llm
    with run_service(make_config(variant="hardened"), tmp_path / "ev.jsonl") as svc:
        fake.reply = "x" * 450_000
        poisoned = svc.chat("recommend a sci-fi book")
        assert poisoned.status_code == 200 and poisoned.json()["persisted"] is False, poisoned.text[:300]
        fake.reply = None
        sent = time.monotonic()
        others = [svc.chat(f"recommend a mystery novel {i}") for i in range(4)]
        # each reply says whether its turn is already in DynamoDB: all of them, within 2 s
        assert all(r.status_code == 200 and r.json()["persisted"] is True for r in others), \
            [r.json().get("persisted") for r in others]
        assert time.monotonic() - sent < 2.0
        assert svc.service.breaker.state == "closed"
        assert not [e for e in svc.events("breaker_transition") if e.get("to") == "open"]
        debug = svc.client.get(f"{svc.url}/debug/memory").json()
        assert debug["outbox"]["pending"] == 0 and debug["outbox"]["dead_letters"] == 1, debug["outbox"]
        assert "ValidationException" in debug["outbox"]["recent_dead_letters"][0]["reason"]
        metrics = svc.client.get(f"{svc.url}/metrics").text
        assert "refsvc_outbox_dead_letters_total 1.0" in metrics
        health = svc.client.get(f"{svc.url}/healthz").json()
        assert health["status"] == "degraded" and any("dead letters" in r for r in health["reasons"]), health
        dead = [e for e in svc.events("outbox") if e.get("action") == "dead_letter"]
        assert len(dead) == 1 and dead[0]["attempts"] == 1


def _validation_error() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"},
         "ResponseMetadata": {"HTTPStatusCode": 400}},
        "PutItem",
    )


def test_validation_exception_does_not_count_towards_opening() -> None:
    breaker = CircuitBreaker("dynamodb", BreakerConfig(threshold=2, window_s=10, open_s=30, timeout_ms=200),
                             client_error=is_client_error)

    async def bad() -> None:
        raise _validation_error()

    async def main() -> None:
        for _ in range(5):
            with pytest.raises(ClientError):
                await breaker.call(bad)

    asyncio.run(main())
    assert breaker.state == "closed"
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")
    assert not is_client_error(throttled)
