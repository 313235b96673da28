"""The web interface: cookies, bad input, operations endpoints, WebSocket continuity."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from reference_service.app import BadInput, parse_message

from .helpers import STATELESS_NOTICE, cookie_of, run_service

pytestmark = pytest.mark.timeout(60)


def test_chat_sets_secure_cookie_and_continues_session(make_config, tmp_path: Path) -> None:
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        r1 = svc.chat("hello there")
        assert r1.status_code == 200
        set_cookie = r1.headers["set-cookie"]
        for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            assert flag in set_cookie
        body = r1.json()
        assert body["turn_number"] == 1 and body["persisted"] is True
        assert body["debug_metadata"] == {"memory_mode": "full", "level": 0, "reason": None,
                                          "history_source": "none", "turns_loaded": 0}
        timing = r1.headers["server-timing"]
        assert "memory;dur=" in timing and "llm;dur=" in timing and "total;dur=" in timing

        r2 = svc.chat("tell me about the second one", cookie_of(r1))
        assert "set-cookie" not in r2.headers
        b2 = r2.json()
        assert b2["session_id"] == body["session_id"] and b2["turn_number"] == 2
        assert b2["debug_metadata"]["turns_loaded"] == 1
        assert b2["debug_metadata"]["history_source"] == "redis"
        # the LLM saw the first exchange as history
        assert b2["response"].startswith("ECHO[3]:")
        chats = svc.events("chat")
        assert [c["turn_number"] for c in chats] == [1, 2]


@pytest.mark.parametrize("cookie", ["session=garbage", "session=3f0c1d2e-0000-4000-8000-000000000000",
                                    "session=3f0c1d2e-0000-4000-8000-000000000000.forgedsig"])
def test_foreign_cookie_starts_new_session(make_config, tmp_path: Path, cookie: str) -> None:
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        r = svc.chat("hi", cookie)
        assert r.status_code == 200
        assert "set-cookie" in r.headers
        assert r.json()["session_id"] != "3f0c1d2e-0000-4000-8000-000000000000"
        assert r.json()["turn_number"] == 1


def test_cookie_from_other_secret_rejected(make_config, tmp_path: Path) -> None:
    with run_service(make_config(cookie_secret="one"), tmp_path / "a.jsonl") as a:
        cookie = cookie_of(a.chat("hi"))
    with run_service(make_config(cookie_secret="two"), tmp_path / "b.jsonl") as b:
        r = b.chat("hi", cookie)
        assert "set-cookie" in r.headers


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"{}", 422),
        (b'{"message": 5}', 422),
        (b'{"message": ""}', 422),
        (b'{"message": "   "}', 422),
        (json.dumps({"message": "x" * 4001}).encode(), 413),
        (b"\xff\xfe", 400),
        (b'{"message": "tell me about \\ud800 books"}', 400),  # valid JSON, not valid Unicode text
        (json.dumps({"message": "x" * 4001}).encode()[:-2] + b'\\udfff"}', 400),
    ],
)
def test_bad_input_is_clear_4xx(make_config, tmp_path: Path, content: bytes, status: int) -> None:
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        r = svc.client.post(f"{svc.url}/chat", content=content, headers={"content-type": "application/json"})
        assert r.status_code == status
        assert set(r.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "raw",
    [b'{"message": "\\ud800"}', b'{"message": "tell me about \\udfff books"}', b'{"message": " \\ud83d\\u200b"}',
     json.dumps({"message": "x" * 4001}).encode()[:-2] + b'\\ud800"}', '{"message": "a\\udc00"}'],
)
def test_text_that_is_not_unicode_is_a_400_before_any_other_check(raw: bytes | str) -> None:
    """A lone surrogate is malformed input (400), even when the message is also too long or blank around it."""
    with pytest.raises(BadInput) as refused:
        parse_message(raw)
    assert (refused.value.status, refused.value.error) == (400, "invalid_message")


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [(b'{"message": 5}', 422, "invalid_message"), (b'{"message": " \\u200b"}', 422, "empty_message"),
     (b"{}", 422, "missing_message")],
)
def test_other_message_errors_stay_422(raw: bytes, status: int, error: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_message(raw)
    assert (refused.value.status, refused.value.error) == (status, error)


def test_routes_methods_and_operations(make_config, tmp_path: Path) -> None:
    with run_service(make_config(variant="seed"), tmp_path / "ev.jsonl") as svc:
        c = svc.client
        assert c.get(f"{svc.url}/nope").status_code == 404
        assert c.get(f"{svc.url}/nope").json()["error"] == "not_found"
        r = c.get(f"{svc.url}/chat")
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
        assert c.get(f"{svc.url}/healthz").json() == {"status": "ok", "variant": "seed", "reasons": []}
        svc.chat("hello")
        text = c.get(f"{svc.url}/metrics").text
        assert "DynamoDBCircuitOpen 0.0" in text
        assert "StatelessModeSessions 0.0" in text
        assert 'refsvc_chat_requests_total{memory_mode="full",transport="http"} 1.0' in text
        assert "refsvc_memory_op_seconds_bucket" in text
        dbg = c.get(f"{svc.url}/debug/memory").json()
        assert dbg["variant"] == "seed"
        assert dbg["breaker"]["state"] == "closed" and dbg["breaker"]["kind"] == "SnippetBreaker"
        assert dbg["degradation_counts"] == {"full": 1, "cache_only": 0, "stateless": 0, "fallback": 0}
        assert dbg["outbox"] == {"pending": 0, "flushed": 0, "dead_letters": 0, "recent_dead_letters": []}


def test_debug_memory_refuses_non_loopback(make_config, tmp_path: Path) -> None:
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        transport = httpx.ASGITransport(app=svc.app, client=("10.1.2.3", 1234))
        # ASGITransport gives a non-loopback client address without opening a socket to a non-loopback host.
        import asyncio

        async def get() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
                return await c.get("/debug/memory")

        r = asyncio.run(get())
        assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_websocket_reconnect_continues_conversation(make_config, tmp_path: Path) -> None:
    with run_service(make_config(), tmp_path / "ev.jsonl") as svc:
        ws_url = svc.url.replace("http://", "ws://") + "/ws"
        with connect(ws_url, open_timeout=5) as ws:
            first = json.loads(ws.recv(timeout=5))
            assert first["type"] == "session"
            cookie = first["cookie"]
            assert cookie.startswith("session=")
            ws.send(json.dumps({"message": "recommend dark fantasy"}))
            r1 = json.loads(ws.recv(timeout=10))
            assert r1["turn_number"] == 1 and r1["session_id"] == first["session_id"]
            ws.send("not json")
            err = json.loads(ws.recv(timeout=5))
            assert err["status"] == 400
        # "page refresh": a new socket with the cookie continues the same session
        with connect(ws_url, additional_headers={"Cookie": cookie}, open_timeout=5) as ws:
            ws.send(json.dumps({"message": "what about the second one?"}))
            r2 = json.loads(ws.recv(timeout=10))
        assert r2["session_id"] == first["session_id"]
        assert r2["turn_number"] == 2
        assert r2["debug_metadata"]["turns_loaded"] == 1
        assert r2["response"] != STATELESS_NOTICE
        assert "(with 1 turns)" in r2["resolved_query"]
