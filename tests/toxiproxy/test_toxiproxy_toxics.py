"""Every toxic's timing and data integrity over real sockets, through a real echo upstream.

The scenarios mirror transcript 2 of the real server (latency on live and new
connections, pipelining, timeout, reset_peer, limit_data, bandwidth,
slow_close, slicer, toxicity) and add checksummed streams through toxics that
are added, updated and removed mid-stream.  Delay assertions are tolerance
checks: at least the injected delay, and less than it plus generous slack.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest
from toxi_helpers import Api, EchoServer, connect, listen_port, read_outcome, recv_exact

SLACK = 0.25  # seconds; generous because two cores are shared


def make_proxy(api: Api, echo: EchoServer, name: str = "p") -> int:
    status, body = api.call("POST", "/proxies", {"name": name, "listen": "127.0.0.1:0", "upstream": echo.addr})
    assert status == 201, body
    return listen_port(body)


def add_toxic(api: Api, proxy: str = "p", **toxic: object) -> dict:
    status, body = api.call("POST", f"/proxies/{proxy}/toxics", toxic)
    assert status == 200, body
    return body


def rt(s: socket.socket, payload: bytes = b"ping") -> float:
    t0 = time.monotonic()
    s.sendall(payload)
    assert recv_exact(s, len(payload)) == payload
    return time.monotonic() - t0


def test_plain_echo_and_bulk_checksum(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    data = os.urandom(4 << 20)
    with connect(port) as s:
        rt(s)
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        got = recv_exact(s, len(data))
        sender.join()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_latency_live_and_new_connections(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    with connect(port) as existing:
        assert rt(existing) < 0.1
        add_toxic(api, type="latency", attributes={"latency": 300})
        assert 0.3 <= rt(existing) < 0.3 + SLACK
        with connect(port) as fresh:
            assert 0.3 <= rt(fresh) < 0.3 + SLACK
        add_toxic(api, type="latency", stream="upstream", attributes={"latency": 200})
        assert 0.5 <= rt(existing) < 0.5 + SLACK
        # Pipelined: 5 writes 50 ms apart take 200 ms of spacing + 500 ms of toxic, not 5 x 500 ms.
        t0 = time.monotonic()
        for i in range(5):
            existing.sendall(b"%d" % i)
            time.sleep(0.05)
        assert recv_exact(existing, 5) == b"01234"
        assert 0.7 <= time.monotonic() - t0 < 0.7 + SLACK
        assert api.call("DELETE", "/proxies/p/toxics/latency_downstream")[0] == 204
        assert 0.2 <= rt(existing) < 0.2 + SLACK
        assert api.call("POST", "/reset")[0] == 204
        assert rt(existing) < 0.1


def test_latency_jitter_bounds(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="latency", attributes={"latency": 100, "jitter": 50})
    with connect(port) as s:
        times = [rt(s) for _ in range(8)]
    assert all(0.05 <= t < 0.15 + SLACK for t in times), times


def test_latency_add_update_remove_mid_stream_keeps_bytes(api: Api, echo: EchoServer) -> None:
    """Bytes in flight while toxics change are neither lost nor reordered."""
    port = make_proxy(api, echo)
    blocks = [os.urandom(4096) for _ in range(400)]
    expected = b"".join(blocks)
    with connect(port, timeout=20) as s:

        def send() -> None:
            for b in blocks:
                s.sendall(b)
                time.sleep(0.001)

        sender = threading.Thread(target=send)
        sender.start()
        box: dict[str, bytes] = {}
        reader = threading.Thread(target=lambda: box.update(got=recv_exact(s, len(expected))))
        reader.start()
        time.sleep(0.05)
        add_toxic(api, type="latency", attributes={"latency": 40, "jitter": 20})
        add_toxic(api, type="latency", stream="upstream", name="up", attributes={"latency": 30})
        add_toxic(api, type="slicer", name="sl", attributes={"average_size": 700, "size_variation": 300})
        time.sleep(0.1)
        assert api.call("PATCH", "/proxies/p/toxics/latency_downstream", {"attributes": {"latency": 80}})[0] == 200
        time.sleep(0.1)
        assert api.call("DELETE", "/proxies/p/toxics/up")[0] == 204
        assert api.call("DELETE", "/proxies/p/toxics/sl")[0] == 204
        time.sleep(0.05)
        assert api.call("DELETE", "/proxies/p/toxics/latency_downstream")[0] == 204
        sender.join(20)
        reader.join(20)
    assert hashlib.sha256(box["got"]).digest() == hashlib.sha256(expected).digest()


def test_timeout_zero_holds_and_removal_closes(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    with connect(port) as s:
        rt(s)
        add_toxic(api, type="timeout", attributes={"timeout": 0})
        s.sendall(b"held")
        outcome, data, _ = read_outcome(s, 0.6)
        assert (outcome, data) == ("timeout", b"")
        assert api.call("DELETE", "/proxies/p/toxics/timeout_downstream")[0] == 204
        outcome, data, elapsed = read_outcome(s, 2)
        assert outcome == "EOF" and elapsed < 0.5


def test_timeout_closes_after_delay(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="timeout", attributes={"timeout": 500})
    with connect(port) as s:
        s.sendall(b"x")
        outcome, data, elapsed = read_outcome(s, 3)
    assert outcome == "EOF" and data == b""
    assert 0.45 <= elapsed < 0.5 + SLACK


def test_timeout_upstream_counts_from_toxic_start_without_data(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="timeout", stream="upstream", attributes={"timeout": 300})
    with connect(port) as s:
        outcome, _, elapsed = read_outcome(s, 3)
    assert outcome == "EOF" and 0.25 <= elapsed < 0.3 + SLACK


def test_toxicity_zero_passes_one_applies(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="timeout", toxicity=0, attributes={"timeout": 0})
    with connect(port) as s:
        assert rt(s) < 0.2
    assert api.call("PATCH", "/proxies/p/toxics/timeout_downstream", {"toxicity": 1})[0] == 200
    with connect(port) as s:
        s.sendall(b"x")
        assert read_outcome(s, 0.4)[0] == "timeout"


def test_reset_peer(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    with connect(port) as existing:
        rt(existing)
        add_toxic(api, type="reset_peer", attributes={"timeout": 0})
        with connect(port) as idle:  # never sends: never reset
            assert read_outcome(idle, 0.4)[0] == "timeout"
        with connect(port) as s:
            s.sendall(b"boom")
            assert read_outcome(s, 2)[0] == "RST"
        # added to an already open connection: closed with a plain FIN
        existing.sendall(b"x")
        assert read_outcome(existing, 2)[0] == "EOF"
    assert api.call("POST", "/reset")[0] == 204
    add_toxic(api, type="reset_peer", stream="upstream", attributes={"timeout": 300})
    with connect(port) as s:
        s.sendall(b"boom")
        outcome, _, elapsed = read_outcome(s, 3)
    assert outcome == "RST" and 0.25 <= elapsed < 0.3 + SLACK


def test_limit_data(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="limit_data", attributes={"bytes": 10})
    with connect(port) as s:
        s.sendall(b"0123456789abcdefghij")
        assert read_outcome(s, 2)[:2] == ("EOF", b"0123456789")
    assert api.call("PATCH", "/proxies/p/toxics/limit_data_downstream", {"attributes": {"bytes": 0}})[0] == 200
    with connect(port) as s:
        assert read_outcome(s, 0.4)[0] == "timeout"
        s.sendall(b"x")
        assert read_outcome(s, 2)[:2] == ("EOF", b"")


def test_bandwidth_rate_and_integrity(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="bandwidth", attributes={"rate": 100})
    data = os.urandom(50_000)
    with connect(port) as s:
        t0 = time.monotonic()
        s.sendall(data)
        got = recv_exact(s, len(data))
        elapsed = time.monotonic() - t0
    assert got == data
    assert 0.45 <= elapsed < 0.5 + SLACK


def test_slow_close_delays_eof(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="slow_close", attributes={"delay": 500})
    with connect(port) as s:
        assert rt(s, b"hello") < 0.2
        s.shutdown(socket.SHUT_WR)
        outcome, _, elapsed = read_outcome(s, 3)
    assert outcome == "EOF" and 0.45 <= elapsed < 0.5 + SLACK


def test_slicer_fragments_and_keeps_bytes(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="slicer", attributes={"average_size": 10, "delay": 5000})
    payload = bytes(range(200))
    with connect(port) as s:
        s.sendall(payload)
        pieces = []
        total = 0
        t0 = time.monotonic()
        while total < len(payload):
            piece = s.recv(65536)
            assert piece
            pieces.append(piece)
            total += len(piece)
        elapsed = time.monotonic() - t0
    assert b"".join(pieces) == payload
    assert len(pieces) >= 5 and max(len(p) for p in pieces) < 200
    assert elapsed >= 0.05  # >= 16 slices x 5 ms minus what arrives together
    # big data with variation: still byte-exact
    api.call("DELETE", "/proxies/p/toxics/slicer_downstream")
    add_toxic(api, type="slicer", name="big", attributes={"average_size": 1000, "size_variation": 500})
    data = os.urandom(300_000)
    with connect(port) as s:
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        got = recv_exact(s, len(data))
        sender.join()
    assert got == data


def test_noop_passes(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    add_toxic(api, type="noop")
    with connect(port) as s:
        assert rt(s, b"x" * 1000) < 0.2


def test_disable_enable_delete(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    with connect(port) as s:
        rt(s)
        assert api.call("POST", "/proxies/p", {"enabled": False})[0] == 200
        assert read_outcome(s, 2)[0] == "EOF"
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    assert api.call("POST", "/proxies/p", {"enabled": True})[0] == 200
    with connect(port) as s:
        rt(s)
        assert api.call("DELETE", "/proxies/p")[0] == 204
        assert read_outcome(s, 2)[0] == "EOF"
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_upstream_unreachable_gives_eof(api: Api) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    spec = {"name": "d", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{dead_port}"}
    status, body = api.call("POST", "/proxies", spec)
    assert status == 201
    with connect(listen_port(body)) as s:
        outcome, data, elapsed = read_outcome(s, 2)
    assert outcome in ("EOF", "RST") and data == b"" and elapsed < 1


def test_upstream_change_restarts_and_drops_connections(api: Api, echo: EchoServer) -> None:
    port = make_proxy(api, echo)
    other = EchoServer()
    try:
        with connect(port) as s:
            rt(s)
            status, body = api.call("PATCH", "/proxies/p", {"upstream": other.addr})
            assert status == 200 and body["upstream"] == other.addr and listen_port(body) == port
            assert read_outcome(s, 2)[0] == "EOF"
        with connect(port) as s:
            rt(s)
    finally:
        other.close()
