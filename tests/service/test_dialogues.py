"""The design's two dialogues end to end, with the real language layer and the stand-in's reply composer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import reference_service.nlu as nlu

from .helpers import FakeLLM, cookie_of, run_service

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def composing(llm: tuple[FakeLLM, str]) -> Iterator[FakeLLM]:
    fake, _ = llm
    fake.compose = True
    try:
        yield fake
    finally:
        fake.compose = False


@pytest.mark.parametrize("variant", ["seed", "hardened"])
def test_second_one_resolves_to_vinland_saga(make_config, composing, tmp_path: Path, variant: str) -> None:
    with run_service(make_config(variant=variant), tmp_path / "ev.jsonl", nlu=nlu) as svc:
        r1 = svc.chat("Recommend dark fantasy manga for beginners")
        assert r1.json()["response"].startswith("Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore")
        r2 = svc.chat("What about the second one?", cookie_of(r1)).json()
        assert r2["resolved_query"] == "Tell me more about Vinland Saga"
        assert "Vinland Saga" in r2["response"] and "medieval Scandinavia" in r2["response"]
        assert r2["debug_metadata"]["level"] == 0


@pytest.mark.parametrize("variant", ["seed", "hardened"])
def test_berserk_deluxe_kindle(make_config, composing, tmp_path: Path, variant: str) -> None:
    with run_service(make_config(variant=variant), tmp_path / "ev.jsonl", nlu=nlu) as svc:
        r1 = svc.chat("Do you have the Berserk deluxe edition?")
        assert "Berserk Deluxe Edition" in r1.json()["response"]
        r2 = svc.chat("Is it available for Kindle?", cookie_of(r1)).json()
        assert r2["response"] == (
            "Berserk Deluxe Edition is only available in print. The standard Berserk volumes are available on Kindle."
        )


def test_stateless_reply_is_the_design_notice(make_config, composing, dynamo_proxy, redis_port,
                                              tmp_path: Path) -> None:
    # Generous call timeouts: the first turn must reach DynamoDB even on a busy machine, or the
    # hardened service rightly answers the next one from its outbox, with full memory.
    config = make_config(variant="hardened", dynamo_timeout_ms=2000.0, redis_timeout_ms=2000.0)
    with run_service(config, tmp_path / "ev.jsonl", nlu=nlu) as svc:
        r1 = svc.chat("Recommend dark fantasy manga for beginners")
        assert r1.json()["persisted"] is True, r1.text
        sid = r1.json()["session_id"]
        redis.Redis(port=redis_port).delete(f"session:{sid}")
        dynamo_proxy.set("down")
        r2 = svc.chat("What about the second one?", cookie_of(r1)).json()
        assert r2["debug_metadata"]["memory_mode"] == "stateless"
        assert r2["response"] == nlu.STATELESS_NOTICE
        # a self-contained message is answered, with the notice first
        other = f"session={svc.service.codec.sign(str(uuid.uuid4()))}"
        r3 = svc.chat("Recommend dark fantasy manga for beginners", other).json()
        assert r3["response"].startswith(nlu.STATELESS_NOTICE + " Here are my top 3")
        dynamo_proxy.set("pass")
