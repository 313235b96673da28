"""The Anthropic stand-in speaks enough of the Messages API for the real ``anthropic`` SDK.

All tests go over loopback HTTP to a real child process (uvicorn), using the
real SDK (sync, async, streaming, count_tokens, error classes) or raw httpx
where the SDK would refuse to send the malformed request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from harness.standins.compose import compose_reply
from harness.state import Component

SYSTEM = "You are a manga shop assistant."
FINAL = (
    "<context>\n"
    '<doc id="berserk" title="Berserk" edition="Standard Edition" formats="print,kindle" price="9.99">'
    "A dark fantasy epic.</doc>\n"
    '<doc id="vinland-saga" title="Vinland Saga" edition="Standard Edition" formats="print,kindle" '
    'price="12.99">Vinland Saga is set in medieval Scandinavia.</doc>\n'
    '<doc id="claymore" title="Claymore" edition="Standard Edition" formats="print" price="8.99">'
    "Warriors hunt demons.</doc>\n"
    "</context>\n<intent>recommendation</intent>\n"
    "<resolved_query>Recommend dark fantasy manga</resolved_query>\n"
    "<message>Recommend dark fantasy manga for beginners</message>"
)
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": FINAL},
]
EXPECTED = compose_reply(SYSTEM, MESSAGES)


@pytest.fixture(scope="module")
def llm(spawn_standin: Any) -> Iterator[Any]:
    with spawn_standin("llm") as proc:
        yield proc


@pytest.fixture()
def url(llm: Any) -> Iterator[str]:
    httpx.delete(f"{llm.url}/_standin/faults", timeout=5).raise_for_status()
    yield llm.url
    httpx.delete(f"{llm.url}/_standin/faults", timeout=5)


def _sync(url: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="standin-key", base_url=url, max_retries=retries, timeout=10)


def test_reply_is_from_compose_and_is_meaningful(url: str) -> None:
    assert EXPECTED.startswith("Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore.")
    with _sync(url) as client:
        msg = client.messages.create(model="claude-standin", max_tokens=1000, system=SYSTEM,
                                     messages=MESSAGES)  # type: ignore[arg-type]
    assert msg.type == "message" and msg.role == "assistant" and msg.model == "claude-standin"
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == EXPECTED  # type: ignore[union-attr]
    assert msg.stop_reason == "end_turn" and msg.stop_sequence is None
    assert msg.usage.output_tokens == len(EXPECTED) // 4 + 1
    assert msg.usage.input_tokens == len(SYSTEM + "hello" + "Hi! How can I help?" + FINAL) // 4 + 1
    assert msg.id.startswith("msg_")


def test_async_client_with_content_blocks(url: str) -> None:
    async def run() -> anthropic.types.Message:
        async with anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0, timeout=10) as c:
            return await c.messages.create(
                model="m", max_tokens=1000, system=[{"type": "text", "text": SYSTEM}],
                messages=[{"role": "user", "content": [{"type": "text", "text": FINAL}]}])

    msg = asyncio.run(asyncio.wait_for(run(), 15))
    assert msg.content[0].text == EXPECTED  # type: ignore[union-attr]


def test_max_tokens_truncates(url: str) -> None:
    with _sync(url) as client:
        msg = client.messages.create(model="m", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    assert msg.stop_reason == "max_tokens" and msg.content[0].text == EXPECTED[:20]  # type: ignore[union-attr]


def test_streaming_helper_and_raw_events(url: str) -> None:
    with _sync(url) as client:
        with client.messages.stream(model="m", max_tokens=1000, system=SYSTEM,
                                    messages=MESSAGES) as stream:  # type: ignore[arg-type]
            deltas = list(stream.text_stream)
            final = stream.get_final_message()
        assert "".join(deltas) == EXPECTED and len(deltas) > 3
        assert final.content[0].text == EXPECTED and final.stop_reason == "end_turn"  # type: ignore[union-attr]
        assert final.usage.output_tokens == len(EXPECTED) // 4 + 1
        raw = client.messages.create(model="m", max_tokens=1000, messages=MESSAGES,  # type: ignore[arg-type]
                                     stream=True)
        types = [e.type for e in raw]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}


def test_sse_wire_format_has_event_lines_in_order(url: str) -> None:
    body = {"model": "m", "max_tokens": 100, "stream": True, "messages": MESSAGES}
    with httpx.stream("POST", f"{url}/v1/messages", json=body, headers={"x-api-key": "k"}, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    blocks = [b for b in text.split("\n\n") if b.strip()]
    names = []
    for b in blocks:
        lines = b.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), b
        names.append(lines[0][7:])
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_count_tokens(url: str) -> None:
    with _sync(url) as client:
        n = client.messages.count_tokens(model="m", system=SYSTEM, messages=MESSAGES)  # type: ignore[arg-type]
    assert n.input_tokens == len(SYSTEM + "hello" + "Hi! How can I help?" + FINAL) // 4 + 1


@pytest.mark.parametrize("status,exc,etype", [
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
    (500, anthropic.InternalServerError, "api_error"),
])
def test_error_on_demand_by_header(url: str, status: int, exc: type[Exception], etype: str) -> None:
    with _sync(url) as client, pytest.raises(exc) as info:
        client.messages.create(model="m", max_tokens=10, messages=MESSAGES,  # type: ignore[arg-type]
                               extra_headers={"x-standin-error": str(status)})
    err = info.value
    assert isinstance(err, anthropic.APIStatusError) and err.status_code == status
    assert err.body["type"] == "error" and err.body["error"]["type"] == etype  # type: ignore[index]
    if status == 429:
        assert err.response.headers["retry-after"] == "1"


def test_sdk_retries_injected_errors_and_honours_retry_after(url: str) -> None:
    r = httpx.put(f"{url}/_standin/faults", json={"error_rate": 1.0, "status": 429, "retry_after_s": 0.3},
                  timeout=5)
    assert r.status_code == 200
    before = httpx.get(f"{url}/_standin/stats", timeout=5).json()["requests"]
    t0 = time.monotonic()
    with _sync(url, retries=2) as client, pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    elapsed = time.monotonic() - t0
    assert httpx.get(f"{url}/_standin/stats", timeout=5).json()["requests"] - before == 3
    assert 0.6 <= elapsed < 0.6 + 5.0  # two waits of retry-after 0.3 s


def test_fault_control_api_is_validated_and_seeded(url: str) -> None:
    assert httpx.get(f"{url}/_standin/faults", timeout=5).json() == {
        "error_rate": 0.0, "status": 529, "latency_ms": 0.0, "retry_after_s": 1.0, "seed": 0}
    for bad in [{"error_rate": 2}, {"status": 404}, {"latency_ms": -1}, {"nope": 1}, [1], {"status": "529"}]:
        r = httpx.put(f"{url}/_standin/faults", json=bad, timeout=5)
        assert r.status_code == 400 and r.json()["error"] == "invalid_faults", bad
    r = httpx.put(f"{url}/_standin/faults", content=b"{not json", timeout=5)
    assert r.status_code == 400

    def outcomes() -> list[int]:
        assert httpx.put(f"{url}/_standin/faults", json={"error_rate": 0.5, "status": 529, "seed": 42},
                         timeout=5).status_code == 200
        out = []
        for _ in range(24):
            resp = httpx.post(f"{url}/v1/messages", headers={"x-api-key": "k"}, timeout=5,
                              json={"model": "m", "max_tokens": 10, "messages": MESSAGES})
            out.append(resp.status_code)
        return out

    first, second = outcomes(), outcomes()
    assert first == second and set(first) == {200, 529}
    assert httpx.delete(f"{url}/_standin/faults", timeout=5).json()["error_rate"] == 0.0
    with _sync(url) as client:
        assert client.messages.create(model="m", max_tokens=10, messages=MESSAGES).content  # type: ignore[arg-type]


def test_injected_latency(url: str) -> None:
    httpx.put(f"{url}/_standin/faults", json={"latency_ms": 300}, timeout=5).raise_for_status()
    with _sync(url) as client:
        t0 = time.monotonic()
        client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
        elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 0.3 + 3.0


def test_auth_and_validation_errors(url: str) -> None:
    ok = {"model": "m", "max_tokens": 10, "messages": MESSAGES}

    def post(body: Any, headers: dict[str, str] | None = None, path: str = "/v1/messages") -> httpx.Response:
        h = {"x-api-key": "k"} if headers is None else headers
        if isinstance(body, bytes):
            return httpx.post(f"{url}{path}", content=body, headers=h, timeout=5)
        return httpx.post(f"{url}{path}", json=body, headers=h, timeout=5)

    r = post(ok, headers={})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert post(ok, headers={"authorization": "Bearer abc"}).status_code == 200
    assert post(ok, headers={"authorization": "Basic abc"}).status_code == 401
    with _sync(url) as c, pytest.raises(anthropic.AuthenticationError):
        c.messages.create(model="m", max_tokens=10, messages=MESSAGES,  # type: ignore[arg-type]
                          extra_headers={"X-Api-Key": anthropic.Omit(), "Authorization": anthropic.Omit()})
    for missing in ("model", "max_tokens", "messages"):
        body = {k: v for k, v in ok.items() if k != missing}
        r = post(body)
        assert r.status_code == 400, missing
        assert r.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                       "message": f"{missing}: Field required"}}
    for bad in [b"{oops", [1, 2], {**ok, "max_tokens": 0}, {**ok, "messages": []},
                {**ok, "messages": [{"role": "system", "content": "x"}]}, {**ok, "stream": "yes"}]:
        r = post(bad)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", bad
    r = post(ok, headers={"x-api-key": "k", "x-standin-error": "418"})
    assert r.status_code == 400
    assert post({"model": "m"}, path="/v1/messages/count_tokens").status_code == 400
    assert httpx.get(f"{url}/v1/messages", timeout=5).status_code == 405
    assert httpx.get(f"{url}/nope", timeout=5).status_code == 404
    assert httpx.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"


def test_cli_exits_zero_on_sigterm_and_two_on_bad_port(spawn_standin: Any) -> None:
    import subprocess
    import sys

    with spawn_standin("llm") as proc:
        assert proc.ready_line.startswith("llm listening on http://127.0.0.1:")
        assert httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200
        assert proc.stop() == 0
    bad = subprocess.run([sys.executable, "-m", "harness.standins.llm", "--port", "-5"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_in_process_server_serves_async_sdk_and_stops() -> None:
    from harness.standins.llm import LLMServer

    async def run(url: str) -> str:
        c = anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0, timeout=10)
        try:
            async with c.messages.stream(model="m", max_tokens=1000, messages=MESSAGES) as s:  # type: ignore[arg-type]
                return await s.get_final_text()
        finally:
            await c.close()

    with LLMServer() as srv:
        url = srv.url
        assert asyncio.run(asyncio.wait_for(run(url), 15)) == EXPECTED
        assert srv.state.counters["streams"] == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_the_llm_throttle_fault_answers_429_to_the_real_sdk_and_rolls_back(url: str) -> None:
    """``--llm-throttle 100%`` through the harness's own fault class: the SDK sees RateLimitError, then none."""
    from harness.chaos.faults import LlmErrorFault
    from harness.chaos.flags import ChaosFlags, build_options

    opts, _ = build_options(ChaosFlags(llm_throttle="100%", quick=True))
    [fault] = opts.faults
    assert isinstance(fault, LlmErrorFault) and opts.fault_label == "llm-throttle-100"
    assert fault.describe() == "llm throttled 100% (429)" and fault.effect() == {"errors": 1.0, "status": 429}
    fault.bind({"llm": Component(backend="anthropic-standin", url=url)})
    done = fault.apply(None)  # type: ignore[arg-type]  # the stand-in's control API, no proxy needed
    assert done["detail"]["standin_faults"]["status"] == 429
    with _sync(url) as client, pytest.raises(anthropic.RateLimitError) as exc:
        client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    assert exc.value.status_code == 429 and exc.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    fault.rollback(None)  # type: ignore[arg-type]
    with _sync(url) as client:
        client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
