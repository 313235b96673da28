"""The wire tap (``/harness/taps``) over real sockets: real proxy, real HTTP upstream, real JSON lines.

The upstream is a stdlib ``http.server`` that echoes request bodies with fixed
``Date``/``Server`` headers (so its bytes are deterministic) and can hang up
without answering, cut a body short, answer chunked or with any status.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toxi_helpers import Api, EchoServer, connect, listen_port, read_outcome, recv_exact

from harness.analyzers.dynamo_calls import from_wire
from harness.analyzers.rundata import WIRE_COLUMNS
from harness.toxiproxy import run_in_thread
from harness.toxiproxy.tap import INCOMPLETE, LIVE, UNANSWERED, WIRE_KEYS

TARGETS = ["DynamoDB_20120810.Query", "DynamoDB_20120810.PutItem", "DynamoDB_20120810.GetItem"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "up"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Thu, 01 Jan 1970 00:00:00 GMT"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        body = self._read_body()
        if self.path == "/hangup":
            self.close_connection = True
            return
        status = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (body[:3], body[3:]):
                if piece:
                    self.wfile.write(f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
            return
        if self.path == "/truncate":
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- helpers


def make_proxy(api: Api, upstream: str, name: str = "dynamodb") -> int:
    status, body = api.call("POST", "/proxies", {"name": name, "listen": "127.0.0.1:0", "upstream": upstream})
    assert status == 201, body
    return listen_port(body)


def tap(api: Api, path: Path, proxy: str = "dynamodb", http: bool = True) -> dict[str, Any]:
    status, body = api.call("POST", "/harness/taps", {"proxy": proxy, "path": str(path), "http": http})
    assert status == 201, body
    return body


def untap(api: Api, proxy: str = "dynamodb") -> None:
    status, body = api.call("DELETE", f"/harness/taps/{proxy}")
    assert status == 204, body


def read_lines(path: Path) -> list[dict[str, Any]]:
    assert list(WIRE_KEYS) == WIRE_COLUMNS
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        assert list(line) == WIRE_COLUMNS, line
    return lines


def events(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == kind]


def dynamo_request(target: str, body: bytes, path: str = "/") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: dynamodb\r\nX-Amz-Target: {target}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def read_response(f: Any) -> tuple[int, bytes]:
    """One Content-Length or chunked response from a socket file; returns (status, raw bytes)."""
    raw = bytearray(f.readline())
    status = int(raw.split()[1])
    length, chunked = 0, False
    while True:
        line = f.readline()
        raw += line
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        chunked = chunked or (name.lower() == "transfer-encoding" and "chunked" in value)
    if not chunked:
        raw += f.read(length)
        return status, bytes(raw)
    while True:
        line = f.readline()
        raw += line
        size = int(line.split(b";")[0], 16)
        if size == 0:
            while (line := f.readline()) != b"\r\n":
                raw += line
            raw += line
            return status, bytes(raw)
        raw += f.read(size + 2)


# --------------------------------------------------------------------------- API


def test_tap_endpoints_and_their_errors(api: Api, upstream: str, tmp_path: Path) -> None:
    make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    bad_bodies: list[Any] = [
        [], "x", 3, None, {}, {"path": str(out)}, {"proxy": "", "path": str(out)},
        {"proxy": "   ", "path": str(out)}, {"proxy": 1, "path": str(out)}, {"proxy": "dynamodb"},
        {"proxy": "dynamodb", "path": " "}, {"proxy": "dynamodb", "path": ["a"]},
        {"proxy": "dynamodb", "path": str(out), "http": "yes"},
        {"proxy": "dynamodb", "path": str(tmp_path / "missing" / "w.jsonl")},
        {"proxy": "dynamodb", "path": str(tmp_path)}, {"proxy": "dynamodb", "path": "a\u0000b"},
    ]
    for bad in bad_bodies:
        status, body = api.call("POST", "/harness/taps", bad)
        assert status == 400 and isinstance(body["error"], str) and body["error"], (bad, body)
    for raw in (b"{bad json", b"", b"[" * 100_000):
        status, _ct, data, _h = api.raw("POST", "/harness/taps", raw)
        assert status == 400 and json.loads(data)["error"], raw[:20]
    status, body = api.call("POST", "/harness/taps", {"proxy": "nope", "path": str(out), "http": True})
    assert status == 404 and body["error"] == "proxy not found"

    created = tap(api, out)
    assert created["proxy"] == "dynamodb" and created["path"] == str(out) and created["http"] is True
    status, body = api.call("POST", "/harness/taps", {"proxy": "dynamodb", "path": str(out), "http": True})
    assert status == 409 and "already tapped" in body["error"]
    status, listed = api.call("GET", "/harness/taps")
    assert status == 200 and [t["proxy"] for t in listed] == ["dynamodb"]
    untap(api)
    status, body = api.call("DELETE", "/harness/taps/dynamodb")
    assert status == 404 and body["error"]
    assert api.call("GET", "/harness/taps") == (200, [])
    assert out.exists() and out.read_text() == ""
    status, _ct, _d, _h = api.raw("PUT", "/harness/taps")
    assert status == 405


# --------------------------------------------------------------------------- HTTP on the wire


def test_keepalive_calls_with_latency_are_logged(api: Api, upstream: str, tmp_path: Path) -> None:
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    status, _ = api.call("POST", "/proxies/dynamodb/toxics", {"type": "latency", "attributes": {"latency": 100}})
    assert status == 200
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i, target in enumerate(TARGETS):
            body = json.dumps({"TableName": "ChatSessions", "i": i}).encode()
            conn.request("POST", "/?x=1", body, {"X-Amz-Target": target})
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == body
        conn.request("POST", "/status/400", b"{}", {"X-Amz-Target": "DynamoDB_20120810.Query"})
        assert conn.getresponse().read() == b"{}"
    finally:
        conn.close()
    time.sleep(0.3)
    untap(api)
    lines = read_lines(out)
    assert [ln["event"] for ln in lines] == ["open"] + ["request", "response"] * 4 + ["close"]
    assert len({ln["conn"] for ln in lines}) == 1 and isinstance(lines[0]["conn"], int)
    assert {ln["proxy"] for ln in lines} == {"dynamodb"}
    resp = events(lines, "response")
    assert [r["seq"] for r in resp] == [0, 1, 2, 3]
    assert [r["target"] for r in resp] == [*TARGETS, "DynamoDB_20120810.Query"]
    assert [r["status"] for r in resp] == [200, 200, 200, 400]
    assert [r["method"] for r in resp] == ["POST"] * 4 and resp[0]["path"] == "/"
    for req, res in zip(events(lines, "request"), resp, strict=True):
        assert req["ts"] == req["request_ts"] == res["request_ts"] and req["status"] is None
        assert res["error"] is None and res["duration_ms"] >= 100.0
        assert abs(res["duration_ms"] - (res["ts"] - res["request_ts"]) * 1000) < 0.01
    calls = from_wire(pd.DataFrame(lines, columns=WIRE_COLUMNS))
    assert list(calls["op"]) == ["Query", "PutItem", "GetItem", "Query"]
    assert list(calls["ok"]) == [True, True, True, False]


def test_pipelined_and_chunked_messages(api: Api, upstream: str, tmp_path: Path) -> None:
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    chunked = (b"POST /chunked HTTP/1.1\r\nHost: d\r\nX-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n")
    stream = (dynamo_request(TARGETS[0], b'{"a":1}') + chunked + dynamo_request(TARGETS[1], b"", "/status/404")
              + dynamo_request(TARGETS[2], b"x" * 70_000))
    with connect(port) as s:
        s.sendall(stream)  # four requests pipelined in one write
        f = s.makefile("rb")
        got = [read_response(f) for _ in range(4)]
        assert [st for st, _ in got] == [200, 200, 404, 200]
        assert got[1][1].endswith(b"0\r\nX-Trailer: t\r\n\r\n") and b"hello world" not in got[1][1]
    time.sleep(0.2)
    untap(api)
    lines = read_lines(out)
    resp = events(lines, "response")
    assert [(r["seq"], r["status"], r["target"]) for r in resp] == [
        (0, 200, TARGETS[0]), (1, 200, "DynamoDB_20120810.BatchWriteItem"), (2, 404, TARGETS[1]),
        (3, 200, TARGETS[2]),
    ]
    assert [r["path"] for r in resp] == ["/", "/chunked", "/status/404", "/"]
    assert all(r["error"] is None for r in lines)


def test_unanswered_and_cut_short_responses(api: Api, upstream: str, tmp_path: Path) -> None:
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    with connect(port) as s:
        s.sendall(dynamo_request(TARGETS[0], b"{}", "/hangup"))
        outcome, data, _ = read_outcome(s, 5)
        assert (outcome, data) == ("EOF", b"")
    with connect(port) as s:
        s.sendall(dynamo_request(TARGETS[1], b"{}", "/truncate"))
        outcome, data, _ = read_outcome(s, 5)
        assert outcome == "EOF" and data.startswith(b"HTTP/1.1 200")
    time.sleep(0.2)
    untap(api)
    lines = read_lines(out)
    resp = events(lines, "response")
    assert [(r["target"], r["status"], r["error"]) for r in resp] == [
        (TARGETS[0], None, UNANSWERED), (TARGETS[1], 200, INCOMPLETE),
    ]
    assert all(r["duration_ms"] >= 0 for r in resp)
    assert len(events(lines, "close")) == 2 and len({ln["conn"] for ln in lines}) == 2
    calls = from_wire(pd.DataFrame(lines, columns=WIRE_COLUMNS))
    assert list(calls["ok"]) == [False, True] and calls["status"].isna().tolist() == [True, False]


def test_client_hanging_up_on_a_delayed_response_is_unanswered(api: Api, upstream: str, tmp_path: Path) -> None:
    """The service's timeout, as the service saw it: the response still sat in the latency toxic."""
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    api.call("POST", "/proxies/dynamodb/toxics", {"type": "latency", "attributes": {"latency": 400}})
    with connect(port) as s:
        s.sendall(dynamo_request(TARGETS[0], b"{}"))
        time.sleep(0.1)  # a 100 ms client timeout
    time.sleep(0.6)
    untap(api)
    resp = events(read_lines(out), "response")
    assert [(r["status"], r["error"]) for r in resp] == [(None, UNANSWERED)]


def test_garbage_never_breaks_forwarding(api: Api, echo: EchoServer, tmp_path: Path) -> None:
    port = make_proxy(api, echo.addr)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    garbage = os.urandom(4096) + b"\x00\xff" + os.urandom(100_000)
    with connect(port) as s:  # not HTTP from the client: one line, then bytes just flow
        s.sendall(garbage)
        assert recv_exact(s, len(garbage)) == garbage
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert recv_exact(s, 18) == b"GET / HTTP/1.1\r\n\r\n"
    request = dynamo_request(TARGETS[0], b'{"k": "v"}')
    with connect(port) as s:  # HTTP from the client, an echo (not HTTP) from the upstream
        for _ in range(3):
            s.sendall(request)
            assert recv_exact(s, len(request)) == request
    with connect(port) as s:  # text that is not HTTP either
        s.sendall(b"hello there\r\n\r\n")
        assert recv_exact(s, 15) == b"hello there\r\n\r\n"
    time.sleep(0.2)
    untap(api)
    lines = read_lines(out)
    by_conn: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        by_conn.setdefault(line["conn"], []).append(line)
    first, second, third = by_conn.values()
    assert [ln["event"] for ln in first] == ["open", "request", "close"]
    assert "unparseable request bytes" in first[1]["error"] and first[1]["seq"] == 0
    assert [ln["event"] for ln in second] == ["open", "request", "response", "close"]
    assert second[2]["seq"] == 0 and second[2]["target"] == TARGETS[0] and second[2]["status"] is None
    assert "unparseable response bytes" in second[2]["error"]
    assert [ln["event"] for ln in third] == ["open", "request", "close"] and third[1]["error"]


def test_forwarded_bytes_identical_with_and_without_tap(api: Api, upstream: str, tmp_path: Path) -> None:
    plain = make_proxy(api, upstream, "plain")
    tapped = make_proxy(api, upstream, "tapped")
    out = tmp_path / "wire.jsonl"
    tap(api, out, "tapped")
    rnd = os.urandom(400_000)
    requests = []
    for i in range(24):
        body = rnd[: (i * 7919) % 300_000] if i % 3 == 0 else json.dumps({"i": i}).encode()
        path = "/chunked" if i % 5 == 0 else "/"
        requests.append(dynamo_request(TARGETS[i % 3], body, path))
    stream = b"".join(requests)

    def exchange(port: int) -> bytes:
        with connect(port) as s:
            sender = threading.Thread(target=s.sendall, args=(stream,))
            sender.start()
            f = s.makefile("rb")
            raw = b"".join(read_response(f)[1] for _ in requests)
            sender.join()
            return raw

    direct = exchange(int(upstream.rsplit(":", 1)[1]))
    assert hashlib.sha256(exchange(plain)).digest() == hashlib.sha256(direct).digest()
    assert hashlib.sha256(exchange(tapped)).digest() == hashlib.sha256(direct).digest()
    time.sleep(0.2)
    untap(api, "tapped")
    resp = events(read_lines(out), "response")
    assert [r["seq"] for r in resp] == list(range(24)) and {r["status"] for r in resp} == {200}


def test_live_connections_are_joined_and_lines_flush_on_their_own(api: Api, upstream: str, tmp_path: Path) -> None:
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", b"{}", {"X-Amz-Target": TARGETS[0]})
        assert conn.getresponse().read() == b"{}"
        tap(api, out)
        for target in TARGETS[1:]:
            conn.request("POST", "/", b"{}", {"X-Amz-Target": target})
            assert conn.getresponse().read() == b"{}"
        deadline = time.monotonic() + 3  # flushed within ~0.5 s without a DELETE
        while time.monotonic() < deadline and len(out.read_text().splitlines()) < 5:
            time.sleep(0.05)
        lines = read_lines(out)
    finally:
        conn.close()
    assert lines[0]["event"] == "open" and lines[0]["error"] == LIVE
    resp = events(lines, "response")
    assert [(r["seq"], r["target"], r["status"]) for r in resp] == [(0, TARGETS[1], 200), (1, TARGETS[2], 200)]
    untap(api)


def test_connections_only_without_http_and_tap_ends_with_its_proxy(api: Api, echo: EchoServer,
                                                                    tmp_path: Path) -> None:
    port = make_proxy(api, echo.addr)
    out = tmp_path / "conns.jsonl"
    assert tap(api, out, http=False)["http"] is False
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        recv_exact(s, 18)
    time.sleep(0.2)
    with connect(port) as s:
        s.sendall(b"ping")
        recv_exact(s, 4)
        assert api.call("DELETE", "/proxies/dynamodb")[0] == 204  # closes the connection and the tap
    assert api.call("GET", "/harness/taps") == (200, [])
    lines = read_lines(out)
    assert [ln["event"] for ln in lines] == ["open", "close", "open", "close"]


def test_shutdown_flushes_and_closes_connections(echo: EchoServer, tmp_path: Path) -> None:
    server = run_in_thread("127.0.0.1", 0)
    out = tmp_path / "wire.jsonl"
    try:
        api = Api(server.port)
        port = make_proxy(api, echo.addr)
        tap(api, out)
        s = connect(port)
        s.sendall(dynamo_request(TARGETS[0], b"{}"))
        recv_exact(s, 10)
    finally:
        server.stop()
    s.close()
    lines = read_lines(out)
    assert [ln["event"] for ln in lines][:2] == ["open", "request"] and lines[-1]["event"] == "close"


def test_populate_replacing_a_tapped_proxy_keeps_the_tap(api: Api, upstream: str, tmp_path: Path) -> None:
    make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    status, body = api.call("POST", "/populate", [{"name": "dynamodb", "listen": "127.0.0.1:0",
                                                   "upstream": upstream}])
    assert status == 201
    port = listen_port(body["proxies"][0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", b"{}", {"X-Amz-Target": TARGETS[0]})
        assert conn.getresponse().read() == b"{}"
    finally:
        conn.close()
    time.sleep(0.2)
    untap(api)
    assert [r["target"] for r in events(read_lines(out), "response")] == [TARGETS[0]]


def test_untapped_proxy_has_no_hooks(api: Api, upstream: str, toxi: Any, tmp_path: Path) -> None:
    port = make_proxy(api, upstream)
    with connect(port) as s:
        s.sendall(dynamo_request(TARGETS[0], b"{}"))
        read_response(s.makefile("rb"))

        def hooks() -> list[object]:
            conns = list(toxi.api.collection.get("dynamodb").conns)
            return [h for c in conns for h in (c.up.on_read, c.up.on_write, c.down.on_read, c.down.on_write)]

        assert toxi.call(hooks) == [None] * 4
        tap(api, tmp_path / "w.jsonl")
        assert sum(h is not None for h in toxi.call(hooks)) == 2
        untap(api)
        assert toxi.call(hooks) == [None] * 4
        s.sendall(dynamo_request(TARGETS[0], b"{}"))
        assert read_response(s.makefile("rb"))[0] == 200


def test_client_cannot_see_the_tap(api: Api, upstream: str, tmp_path: Path) -> None:
    """A request split byte by byte reaches the upstream whole and is still logged once."""
    port = make_proxy(api, upstream)
    out = tmp_path / "wire.jsonl"
    tap(api, out)
    request = dynamo_request(TARGETS[0], b'{"TableName": "t"}')
    with connect(port) as s:
        for b in request:
            s.send(bytes([b]))
            time.sleep(0.0005)
        status, raw = read_response(s.makefile("rb"))
        assert status == 200 and raw.endswith(b'{"TableName": "t"}')
    time.sleep(0.2)
    untap(api)
    resp = events(read_lines(out), "response")
    assert [(r["seq"], r["target"], r["status"]) for r in resp] == [(0, TARGETS[0], 200)]



# --------------------------------------------------------------------------- the parser alone


def run_tap(ops: list[tuple[str, bytes]], live: bool = False) -> list[dict[str, Any]]:
    """Feed ``("c", bytes)`` (client -> upstream) / ``("s", bytes)`` (to the client) / ``("eof", b"")``."""
    import asyncio
    import tempfile

    from harness.toxiproxy.tap import Tap, TapWriter

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.jsonl"

        async def main() -> None:
            t = Tap("p", path, True, TapWriter(path))
            c = t.open_connection(live)
            for kind, data in ops:
                {"c": c.sent, "s": c.received, "eof": lambda _d: c.client_eof()}[kind](data)
            c.closed()
            t.close()

        asyncio.run(main())
        return [ln for ln in read_lines(path) if ln["event"] in ("request", "response")]


def summary(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(ln["event"], ln["seq"], ln["method"], ln["status"], ln["error"]) for ln in lines]


REQ = dynamo_request("T.Query", b'{"a": 1}')
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_parser_http_edge_cases() -> None:
    head = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
    chunked_resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    lines = run_tap([
        ("c", b"\r\n" + REQ + head + REQ + REQ),
        ("s", b"HTTP/1.1 100 Continue\r\n\r\n" + RESP),  # interim answer skipped
        ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),  # HEAD: no body despite the length
        ("s", b"HTTP/1.1 204 No Content\r\n\r\n" + chunked_resp),
    ])
    assert summary(lines) == [
        ("request", 0, "POST", None, None), ("request", 1, "HEAD", None, None),
        ("request", 2, "POST", None, None), ("request", 3, "POST", None, None),
        ("response", 0, "POST", 200, None), ("response", 1, "HEAD", 200, None),
        ("response", 2, "POST", 204, None), ("response", 3, "POST", 200, None),
    ]
    until_close = run_tap([("c", REQ), ("s", b"HTTP/1.0 200 OK\r\n\r\nbody until the end")])
    assert summary(until_close)[-1] == ("response", 0, "POST", 200, None)
    upgrade = run_tap([("c", REQ + REQ), ("s", b"HTTP/1.1 101 Switching\r\n\r\n\x00\x01binary")])
    assert summary(upgrade)[2:] == [("response", 0, "POST", 101, None)]  # then not HTTP: parsing stops
    gave_up = run_tap([("c", REQ + REQ), ("s", RESP), ("eof", b""), ("s", RESP)])
    assert summary(gave_up)[2:] == [("response", 0, "POST", 200, None), ("response", 1, "POST", None, UNANSWERED)]


@pytest.mark.parametrize("garbage, side", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "c"),  # a TLS ClientHello
    (b"*1\r\n$4\r\nPING\r\n", "c"),  # RESP
    (b"GET /" + b"a" * 70_000, "c"),  # head too long
    (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "c"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "c"),
    (b"POST / HTTP/1.1\r\nbad header\r\n\r\n", "c"),
    (b"+PONG\r\n", "s"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "s"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "s"),
])
def test_parser_garbage_gives_one_line_then_silence(garbage: bytes, side: str) -> None:
    ops = [("c", REQ)] if side == "s" else []
    ops += [(side, garbage), (side, REQ if side == "c" else RESP), ("c", REQ), ("s", RESP)]
    lines = run_tap(ops)
    errors = [ln for ln in lines if ln["error"]]
    assert len(errors) == 1 and "tap stopped parsing" in errors[0]["error"]
    assert errors[0]["event"] == ("request" if side == "c" else "response")
    assert lines[-1] is errors[0]


def test_live_connection_waits_for_a_request_line() -> None:
    lines = run_tap([("c", b'ody": "of an earlier request"}'), ("s", b"tail of an earlier response"),
                     ("c", REQ), ("s", RESP)], live=True)
    assert summary(lines) == [("request", 0, "POST", None, None), ("response", 0, "POST", 200, None)]


@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_parser_is_independent_of_chunk_boundaries(cuts: list[int]) -> None:
    chunked = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;e=1\r\nabcd\r\n0\r\nX: y\r\n\r\n"
    client = REQ + chunked + REQ
    server = RESP + b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n" + RESP

    def split(data: bytes) -> list[bytes]:
        out, pos = [], 0
        for cut in cuts:
            if pos >= len(data):
                break
            out.append(data[pos:pos + cut])
            pos += cut
        return [*out, data[pos:]] if pos < len(data) else out

    ops = [("c", piece) for piece in split(client)] + [("s", piece) for piece in split(server)]
    assert summary(run_tap(ops)) == summary(run_tap([("c", client), ("s", server)])) == [
        ("request", 0, "POST", None, None), ("request", 1, "POST", None, None), ("request", 2, "POST", None, None),
        ("response", 0, "POST", 200, None), ("response", 1, "POST", 503, None), ("response", 2, "POST", 200, None),
    ]
