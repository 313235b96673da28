"""Fuzz the Toxiproxy API over real HTTP: bad input is a 4xx with an error body, never a crash.

Hypothesis sends every endpoint malformed JSON, wrong types, unknown toxic
types, negative and huge numbers (beyond int64 and float32), lone surrogates,
deep nesting and random bytes, against one long-lived server (state carries
over between examples, as in real use).  After every request the API must
still answer and a ``bystander`` proxy, which the fuzzer never names, must
still forward bytes.

The one 5xx allowed is Go's own: Toxiproxy 2.12 answers 500 when a proxy's
``listen`` address cannot be parsed or bound (the reference transcript
records ``listen tcp ...`` / ``address ...: missing port``), and we keep that
wire compatibility.  Listen values are drawn from a fixed list of loopback or
invalid addresses, so the fuzzer never binds a wildcard or a fixed port; tap
paths always point into a temporary directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from toxi_helpers import Api, EchoServer, connect, listen_port, recv_exact

from harness.toxiproxy import RunningServer
from harness.toxiproxy.toxics import REGISTRY

BYSTANDER = "bystander"
GO_LISTEN_500 = re.compile(r"^(listen tcp|address )")
NAMES = st.sampled_from(["victim", "v2", "nope", "x y", "ü", "", "a/b", "latency_downstream"])
JUNK = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.lists(st.integers(), max_size=2) | st.just({})
NUMBERS = (
    st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False)
    | st.sampled_from([2**63, -(2**63) - 1, 2**63 - 1, 2**31, -1, 0, 1e39, -1e39, 3.4028235e38, 1e-46, 0.5])
)
LISTEN = st.sampled_from([
    "127.0.0.1:0", "localhost:0", "[::1]:0", "badaddr", "127.0.0.1:99999", "127.0.0.1:-1", "[::1",
    "a:b:c", "127.0.0.1:nosuchservice", "a" * 70 + ":0", "\x00:0", "\ud800:0", "]:0",
])
TOXIC_NAMES = st.sampled_from(["t1", "t2", "latency_downstream", "slicer_downstream", "timeout_upstream", "nope"])
ATTRS = st.sampled_from(["latency", "jitter", "rate", "delay", "timeout", "bytes", "average_size",
                         "size_variation", "bogus"])


def _fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | NUMBERS | st.text(max_size=12) | st.sampled_from(["\ud800", "\udfff"])
    return st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                      max_size=4), max_leaves=10)


BODY_NAMES = NAMES | st.sampled_from(["\ud800x", "x\udfff", "<&>", "\u2028"])
TYPES = st.sampled_from([*sorted(REGISTRY), "nosuch", "", "LATENCY"])
STREAMS = st.sampled_from(["upstream", "downstream", "UpStream", "walrus", ""])
ATTRIBUTES = st.dictionaries(ATTRS, NUMBERS | JUNK | st.text(max_size=4), max_size=4)
PROXY_BODY = (
    st.fixed_dictionaries({"name": BODY_NAMES, "upstream": st.text(max_size=20), "listen": LISTEN},
                          optional={"enabled": st.booleans() | JUNK})
    | _fields(name=BODY_NAMES | JUNK, listen=LISTEN | JUNK, upstream=st.text(max_size=20) | JUNK,
              enabled=st.booleans() | JUNK)
)
TOXIC_BODY = (
    st.fixed_dictionaries({"type": st.sampled_from(sorted(REGISTRY)), "toxicity": NUMBERS},
                          optional={"name": TOXIC_NAMES | BODY_NAMES, "stream": STREAMS, "attributes": ATTRIBUTES})
    | st.fixed_dictionaries({"attributes": ATTRIBUTES}, optional={"toxicity": NUMBERS | JUNK})
    | _fields(name=BODY_NAMES | JUNK, type=TYPES | JUNK, stream=STREAMS | JUNK, toxicity=NUMBERS | JUNK,
              attributes=ATTRIBUTES | JUNK)
)
RAW = st.binary(max_size=48) | st.sampled_from([
    b"[" * 5000, b"{" * 3000, b"1e400", b'{"type": "latency", "toxicity": 1e400}', b"\xff\xfe{}", b"",
    b'{"type": "latency", "attributes": {"latency": 1e400}}', b'{"name": "\\ud800", "upstream": "a:1"}',
    b'{"type": "latency", "attributes": {"latency": 99999999999999999999999999}}', b"null", b"[null, 1]",
    b'{"toxicity": NaN}', b'{"a": Infinity}', b'{"name": "n", "upstream": "u", "listen": "127.0.0.1:0"} trailing',
])
PATHS = st.sampled_from([
    "/proxies", "/proxies/{n}", "/proxies/{n}/toxics", "/proxies/{n}/toxics/{t}", "/populate", "/reset",
    "/version", "/harness/taps", "/harness/taps/{n}", "/proxies/{n}/toxics/{t}/x", "/%ff", "/proxies/%2F",
])
METHODS = st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"])


@st.composite
def requests(draw: st.DrawFn, tap_dir: str) -> tuple[str, str, bytes]:
    """Mostly well-aimed (the right method and path for the body, the ``victim`` proxy), sometimes anything."""
    n = quote(draw(st.just("victim") | NAMES), safe="") or "x"
    t = quote(draw(TOXIC_NAMES | NAMES), safe="") or "t"
    tap_path = draw(st.sampled_from([f"{tap_dir}/w.jsonl", f"{tap_dir}/missing/w.jsonl", tap_dir, ""]) | JUNK)
    aimed: list[tuple[st.SearchStrategy[str], str, st.SearchStrategy[Any]]] = [
        (st.just("POST"), "/proxies", PROXY_BODY),
        (st.sampled_from(["POST", "PATCH"]), f"/proxies/{n}", PROXY_BODY),
        (st.just("POST"), f"/proxies/{n}/toxics", TOXIC_BODY),
        (st.sampled_from(["POST", "PATCH"]), f"/proxies/{n}/toxics/{t}", TOXIC_BODY),
        (st.just("DELETE"), f"/proxies/{n}/toxics/{t}", st.none()),
        (st.just("POST"), "/populate", st.lists(PROXY_BODY | JUNK, max_size=3) | PROXY_BODY),
        (st.just("POST"), "/harness/taps", _fields(proxy=NAMES | JUNK, path=st.just(tap_path),
                                                    http=st.booleans() | JUNK)),
        (st.just("DELETE"), f"/harness/taps/{n}", st.none()),
        (st.just("POST"), "/reset", st.none()),
    ]
    if draw(st.integers(0, 4)) == 0:  # anything at all
        path = draw(PATHS).format(n=n, t=t)
        if draw(st.booleans()):
            return draw(METHODS), path, draw(RAW)
        return draw(METHODS), path, json.dumps(draw(_json_values() | TOXIC_BODY | PROXY_BODY)).encode()
    method, path, body = draw(st.sampled_from(aimed))
    value = draw(body)
    if draw(st.integers(0, 5)) == 0:
        return draw(method), path, draw(RAW)
    return draw(method), path, b"" if value is None else json.dumps(value).encode()


def check_answer(method: str, path: str, body: bytes, status: int, data: bytes) -> None:
    where = f"{method} {path} {body[:120]!r} -> {status} {data[:200]!r}"
    if status >= 500:
        assert status == 500 and GO_LISTEN_500.match(json.loads(data)["error"]), where
        return
    if status < 400:
        return
    if status == 405:
        assert data == b"", where
    elif data != b"404 page not found\n":
        error = json.loads(data)["error"]
        assert isinstance(error, str) and error, where


def forwards(port: int) -> bool:
    with connect(port, timeout=5) as s:
        s.sendall(b"still there?")
        return recv_exact(s, 12) == b"still there?"


@pytest.fixture
def bystander(api: Api, echo: EchoServer) -> int:
    status, body = api.call("POST", "/proxies", {"name": BYSTANDER, "listen": "127.0.0.1:0", "upstream": echo.addr})
    assert status == 201
    status, _ = api.call("POST", "/proxies", {"name": "victim", "listen": "127.0.0.1:0", "upstream": echo.addr})
    assert status == 201
    return listen_port(body)


@pytest.mark.timeout(120)
def test_api_answers_bad_input_with_4xx_and_keeps_proxies_working(
    toxi: RunningServer, api: Api, bystander: int, tmp_path: Path
) -> None:
    @given(requests(str(tmp_path)))
    @settings(max_examples=150, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def one(req: tuple[str, str, bytes]) -> None:
        method, path, body = req
        assume(BYSTANDER.encode() not in body and BYSTANDER not in path)
        status, _ct, data, _h = api.raw(method, path, body or None)
        check_answer(method, path, body, status, data)
        assert api.raw("GET", "/version")[0] == 200
        assert forwards(bystander), f"bystander stopped forwarding after {method} {path} {body[:120]!r}"

    one()
    assert api.call("GET", f"/proxies/{BYSTANDER}")[1]["enabled"] is True
    # Whatever the fuzzer stored, the API still lists it and can delete every proxy.
    status, listed = api.call("GET", "/proxies")
    assert status == 200 and BYSTANDER in listed
    for name in listed:
        assert api.raw("DELETE", f"/proxies/{quote(name, safe='')}")[0] == 204, name
    assert api.call("GET", "/proxies") == (200, {})


@pytest.mark.parametrize("size", [9_000, 70_000])
def test_every_stored_name_can_be_addressed_again(api: Api, echo: EchoServer, size: int) -> None:
    """A name too long for a request line is refused before it is stored, never stored unreachable."""
    name = "n" * size
    status, answer = api.call("POST", "/proxies", {"name": name, "listen": "127.0.0.1:0", "upstream": echo.addr})
    if size > 16 << 10:
        assert status == 400 and "proxy name too long" in answer["error"], answer
        status, answer = api.call("POST", "/populate", [{"name": name, "upstream": echo.addr}])
        assert status == 400 and "proxy name too long" in answer["error"], answer
        assert api.call("GET", "/proxies") == (200, {})
        api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": echo.addr})
        status, answer = api.call("POST", "/proxies/p/toxics", {"type": "latency", "name": name})
        assert status == 400 and "toxic name too long" in answer["error"], answer
        assert api.call("GET", "/proxies/p/toxics") == (200, [])
        return
    assert status == 201
    assert api.call("POST", f"/proxies/{name}/toxics", {"type": "latency", "name": name})[0] == 200
    assert api.call("GET", f"/proxies/{name}/toxics/{name}")[0] == 200
    assert api.raw("DELETE", f"/proxies/{name}/toxics/{name}")[0] == 204
    assert api.raw("DELETE", f"/proxies/{name}")[0] == 204
    assert api.call("GET", "/proxies") == (200, {})


@pytest.mark.parametrize("raw", [
    b"POST /proxies HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /proxies HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /proxies HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /proxies HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n",
    b"GET /proxies HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET /proxies HTTP/1.1\r\nno colon here\r\n\r\n",
])
def test_malformed_http_framing_is_a_400(api: Api, raw: bytes) -> None:
    with connect(api.port) as s:
        s.sendall(raw)
        s.settimeout(5)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 "), data[:80]
    assert api.raw("GET", "/version")[0] == 200


@pytest.mark.parametrize("body, message", [
    ({"type": "latency", "toxicity": 1e39}, ".toxicity of type float32"),
    ({"type": "latency", "toxicity": 10**400}, ".toxicity of type float32"),
    ({"type": "latency", "attributes": {"latency": 2**63}}, "LatencyToxic.attributes.latency of type int64"),
    ({"type": "slicer", "attributes": {"delay": -(2**63) - 1}}, "SlicerToxic.attributes.delay of type int"),
])
def test_numbers_out_of_go_range_are_400(api: Api, echo: EchoServer, body: dict[str, Any], message: str) -> None:
    api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": echo.addr})
    status, answer = api.call("POST", "/proxies/p/toxics", body)
    assert status == 400 and message in answer["error"], answer
    extremes = {"latency": 2**63 - 1, "jitter": -(2**63), "delay": 2**63 - 1}
    status, _ = api.call("POST", "/proxies/p/toxics", {"type": body["type"], "name": "t", "attributes": extremes})
    assert status == 200  # the extremes themselves are fine, as in Go
    status, answer = api.call("PATCH", "/proxies/p/toxics/t", body)
    assert status == 400 and message in answer["error"], answer


def test_lone_surrogates_and_deep_nesting(api: Api) -> None:
    status, _ct, data, _h = api.raw("POST", "/proxies", b'{"name": "\\ud800a", "upstream": "u:1", "enabled": false}')
    assert status == 201 and json.loads(data)["name"] == "\ufffda"
    status, _ct, data, _h = api.raw("POST", "/proxies", b"[" * 100_000)
    assert status == 400 and "exceeded max depth" in json.loads(data)["error"]
