"""The ``--toxic`` stream faults, applied by the harness's own Fault classes through the Toxiproxy API,
measured on real sockets through the proxy to a real echo upstream; each one rolled back to a clean link."""

from __future__ import annotations

import time

import pytest
from toxi_helpers import Api, EchoServer, connect, read_outcome, recv_exact

from harness.chaos.faults import ToxicFault, parse_toxic
from harness.toxiclient import ToxiproxyClient
from harness.toxiproxy import RunningServer


@pytest.fixture
def proxied(api: Api, echo: EchoServer, toxi: RunningServer) -> tuple[int, ToxiproxyClient]:
    status, body = api.call("POST", "/proxies", {"name": "dynamodb", "listen": "127.0.0.1:0",
                                                 "upstream": echo.addr})
    assert status == 201, body
    client = ToxiproxyClient(f"http://127.0.0.1:{toxi.port}")
    return int(body["listen"].rsplit(":", 1)[1]), client


def _apply(client: ToxiproxyClient, spec: str) -> ToxicFault:
    fault = parse_toxic(spec)
    fault.tag = "t"
    done = fault.apply(client)
    assert done["toxic"] == fault.toxic_name == f"harness_t_dynamodb_{fault.toxic_type}"
    [toxic] = client.toxics("dynamodb")
    assert toxic["type"] == fault.toxic_type and toxic["stream"] == fault.stream
    return fault


def _clean_after(client: ToxiproxyClient, fault: ToxicFault, port: int) -> None:
    fault.rollback(client)
    assert client.toxics("dynamodb") == []
    s = connect(port)
    s.sendall(b"x" * 4000)
    assert recv_exact(s, 4000) == b"x" * 4000
    s.close()


def test_reset_peer_resets_every_call(proxied: tuple[int, ToxiproxyClient]) -> None:
    port, client = proxied
    fault = _apply(client, "dynamodb:reset_peer")
    assert fault.effect() == {"reset_peer": 0, "toxicity": 1.0, "fails_calls": True}
    for _ in range(3):
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        outcome, data, _ = read_outcome(s, 3.0)
        assert outcome == "RST" and data == b""  # nothing reached the caller: the upstream never answered
        s.close()
    _clean_after(client, fault, port)


def test_bandwidth_paces_the_reply(proxied: tuple[int, ToxiproxyClient]) -> None:
    port, client = proxied
    fault = _apply(client, "dynamodb:bandwidth=20")  # 20 KB/s downstream
    s = connect(port)
    t = time.monotonic()
    s.sendall(b"y" * 30_000)
    got = recv_exact(s, 30_000)
    took = time.monotonic() - t
    assert got == b"y" * 30_000
    assert took >= 1.2, took  # 30 KB at 20 KB/s is 1.5 s; unthrottled it is a few ms
    s.close()
    _clean_after(client, fault, port)


def test_slicer_fragments_the_reply_without_losing_a_byte(proxied: tuple[int, ToxiproxyClient]) -> None:
    port, client = proxied
    fault = _apply(client, "dynamodb:slicer=16")
    s = connect(port)
    payload = bytes(range(256)) * 8  # 2048 bytes
    s.sendall(payload)
    chunks, data = 0, bytearray()
    s.settimeout(5.0)
    while len(data) < len(payload):
        chunk = s.recv(65536)
        assert chunk
        chunks += 1
        data += chunk
    assert bytes(data) == payload
    assert chunks >= 20, chunks  # ~16-byte slices 1 ms apart reach the socket as many reads
    s.close()
    _clean_after(client, fault, port)


def test_limit_data_cuts_the_connection_after_its_bytes(proxied: tuple[int, ToxiproxyClient]) -> None:
    port, client = proxied
    fault = _apply(client, "dynamodb:limit_data=100")
    assert fault.effect()["may_fail_calls"] is True
    s = connect(port)
    s.sendall(b"z" * 1000)
    outcome, data, _ = read_outcome(s, 3.0)
    assert outcome in ("EOF", "RST") and data == b"z" * 100
    s.close()
    _clean_after(client, fault, port)


def test_toxicity_spares_a_share_of_connections(proxied: tuple[int, ToxiproxyClient]) -> None:
    port, client = proxied
    fault = parse_toxic("dynamodb:reset_peer", toxicity=0.5)
    fault.apply(client)
    outcomes = []
    for _ in range(40):
        s = connect(port)
        s.sendall(b"ping")
        outcomes.append(read_outcome(s, 0.3)[0])  # spared: the echo answers and the read times out
        s.close()
    resets = outcomes.count("RST")
    assert 6 <= resets <= 34, outcomes  # binomial(40, 0.5): outside this in fewer than 1 run in 10^4
    _clean_after(client, fault, port)


@pytest.mark.parametrize("spec", ["dynamodb", "dynamodb:", "dynamodb:latency", "s3:reset_peer",
                                  "redis:bandwidth=0", "redis:bandwidth=fast", "llm:slicer=8@sideways"])
def test_bad_specs_are_refused_with_the_syntax(spec: str) -> None:
    with pytest.raises(ValueError, match="invalid --toxic"):
        parse_toxic(spec)


def _round_trip_s(port: int) -> float:
    s = connect(port)
    t = time.monotonic()
    s.sendall(b"ping")
    assert recv_exact(s, 4) == b"ping"
    took = time.monotonic() - t
    s.close()
    return took


def test_two_latencies_on_one_proxy_stack_each_on_its_own_link(proxied: tuple[int, ToxiproxyClient]) -> None:
    """An upstream latency with jitter and a second, downstream one: two toxics, added and removed apart."""
    from harness.chaos.faults import LatencyFault
    from harness.chaos.flags import ChaosFlags, build_options

    port, client = proxied
    up = build_options(ChaosFlags(dynamo_latency="150ms", dynamo_jitter="20ms", stream="upstream",
                                  quick=True))[0].faults[0]
    down = LatencyFault("dynamodb", 150)
    down.slot = "2"
    up.tag = down.tag = "t"
    assert isinstance(up, LatencyFault) and up.describe() == "dynamodb latency 150ms ± 20ms (upstream)"
    assert _round_trip_s(port) < 0.1
    up.apply(client)
    down.apply(client)
    toxics = {t["name"]: t for t in client.toxics("dynamodb")}
    assert toxics["harness_t_dynamodb_latency"]["stream"] == "upstream"
    assert toxics["harness_t_dynamodb_latency"]["attributes"] == {"latency": 150, "jitter": 20}
    assert toxics["harness_t_dynamodb_latency_2"]["stream"] == "downstream"
    assert _round_trip_s(port) >= 0.27  # 150 ± 20 ms on the way in, then 150 ms on the way out
    up.rollback(client)
    assert [t["name"] for t in client.toxics("dynamodb")] == ["harness_t_dynamodb_latency_2"]
    assert 0.14 <= _round_trip_s(port) < 0.27
    down.rollback(client)
    assert client.toxics("dynamodb") == [] and _round_trip_s(port) < 0.1
