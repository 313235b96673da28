"""Hostile and careless input to a real service: a clear 4xx for that client, and nothing for anyone else.

Each case used to give a 500, a traceback or a held connection. The service
runs under uvicorn on a real socket; every test also checks that the event log
holds no ``internal_error`` and that a normal turn still works afterwards.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import reference_service.app as app_module

from .helpers import LogCapture, RunningService, fake_nlu, run_service


def _still_serves(svc: RunningService) -> None:
    r = svc.chat("recommend a sci-fi book")
    assert r.status_code == 200, r.text
    assert svc.events("internal_error") == []


@pytest.fixture
def svc(make_config, tmp_path: Path):  # type: ignore[no-untyped-def]
    with run_service(make_config(variant="hardened"), tmp_path / "ev.jsonl") as running:
        yield running


def _post(svc: RunningService, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return svc.client.post(f"{svc.url}/chat", content=body, headers={"content-type": "application/json", **headers})


def test_deeply_nested_json_is_a_400(svc: RunningService) -> None:
    r = _post(svc, b"[" * 5000 + b"]" * 5000)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"
    r = _post(svc, b'{"message": ' + b"[" * 3000 + b"]" * 3000 + b"}")
    assert r.status_code in (400, 422), r.text
    _still_serves(svc)


@pytest.mark.parametrize("text", [" \t\n", "\u200b\u200b", "\ufeff", "\u2060 \u200d", "\x00\x01"])
def test_a_message_with_nothing_visible_is_empty(svc: RunningService, text: str) -> None:
    r = svc.chat(text)
    assert r.status_code == 422 and r.json()["error"] == "empty_message", r.text
    _still_serves(svc)


def test_oversized_headers_and_too_many_cookies_are_431(svc: RunningService) -> None:
    r = svc.client.post(f"{svc.url}/chat", json={"message": "hi"}, headers={"X-Big": "a" * 20_000})
    assert r.status_code == 431 and r.json()["error"] == "headers_too_large"
    cookies = "; ".join(f"c{i}=v" for i in range(200))
    r = svc.client.post(f"{svc.url}/chat", json={"message": "hi"}, headers={"Cookie": cookies})
    assert r.status_code == 431
    assert svc.client.get(f"{svc.url}/healthz", headers={"X-Big": "a" * 20_000}).status_code == 431
    _still_serves(svc)


def test_a_stalled_upload_times_out_with_408(svc: RunningService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "BODY_TIMEOUT_S", 0.5)
    with socket.create_connection(("127.0.0.1", svc.thread.port), timeout=5) as sock:
        sock.sendall(b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"mess")
        started = time.monotonic()
        answer = sock.recv(4096)
        assert time.monotonic() - started < 4
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    _still_serves(svc)


def test_fifty_stalled_uploads_are_all_released_and_others_are_served_meanwhile(
        svc: RunningService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "BODY_TIMEOUT_S", 1.0)
    socks = [socket.create_connection(("127.0.0.1", svc.thread.port), timeout=10) for _ in range(50)]
    try:
        for sock in socks:
            sock.sendall(b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"mess")
        started = time.monotonic()
        r = svc.chat("recommend a sci-fi book")  # while all fifty hold their uploads open
        assert r.status_code == 200 and time.monotonic() - started < 1.0, r.text
        answers = [sock.recv(4096) for sock in socks]
        held = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), {a[:20] for a in answers}
    assert held < 8, f"the stalled uploads were held {held:.1f} s with a 1 s body timeout"
    _still_serves(svc)


def test_a_client_that_disconnects_mid_upload_leaves_no_error(svc: RunningService) -> None:
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", svc.thread.port), timeout=5) as sock:
            sock.sendall(b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"mess")
    time.sleep(0.3)
    _still_serves(svc)


def test_a_binary_websocket_frame_is_refused_with_1003(svc: RunningService) -> None:
    with connect(svc.url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
        ws.recv(timeout=5)  # the session frame
        ws.send(b'{"message": "hi"}')
        answer = ws.recv(timeout=5)
        assert '"binary_frame"' in str(answer)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    _still_serves(svc)


def test_a_poison_message_over_websocket_is_refused_and_the_socket_goes_on(svc: RunningService) -> None:
    with connect(svc.url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
        ws.recv(timeout=5)  # the session frame
        ws.send('{"message": "tell me about \\ud800 books"}')  # valid JSON, not valid Unicode
        refused = json.loads(ws.recv(timeout=5))
        assert refused == {"error": "invalid_message", "detail": '"message" is not valid Unicode text',
                           "status": 400}, refused
        ws.send(json.dumps({"message": "recommend a sci-fi book"}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["debug_metadata"]["memory_mode"] == "full", reply
    assert svc.service.breaker.state == "closed" and svc.service.outbox.pending == 0
    _still_serves(svc)


def test_a_websocket_crash_is_logged_as_internal_error_and_closed_1011(make_config, tmp_path: Path) -> None:
    nlu = fake_nlu()
    understand = nlu.understand

    def crashing(message: str, history: list) -> object:  # type: ignore[type-arg]
        if message == "crash":
            raise RuntimeError("boom in the classifier")
        return understand(message, history)

    nlu.understand = crashing
    with run_service(make_config(variant="hardened"), tmp_path / "ev.jsonl", nlu=nlu) as crashy:
        with connect(crashy.url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
            ws.recv(timeout=5)
            ws.send(json.dumps({"message": "crash"}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        logged = crashy.events("internal_error")
        assert len(logged) == 1 and logged[0]["path"] == "/ws" and "boom in the classifier" in logged[0]["error"]
        assert crashy.chat("recommend a sci-fi book").status_code == 200


def test_openapi_document_is_served(svc: RunningService) -> None:
    doc = svc.client.get(f"{svc.url}/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/chat" in doc["paths"]


def test_invalid_utf8_in_a_websocket_frame_is_1007_and_no_traceback(svc: RunningService) -> None:
    with LogCapture(svc.thread.thread) as log:
        with connect(svc.url.replace("http", "ws") + "/ws", open_timeout=5) as ws:
            ws.recv(timeout=5)  # the session frame
            with ws.protocol_mutex:  # a raw text frame that is not UTF-8 (the client library would refuse it)
                ws.protocol.send_text(b"\xff\xfe")
                ws.send_data()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
        time.sleep(0.3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert log.tracebacks() == [], "\n\n".join(log.tracebacks())
    utf8 = [r for r in log.records if "Invalid UTF-8" in r.getMessage()]
    assert utf8 and all(r.levelno == logging.WARNING for r in utf8)
    _still_serves(svc)
