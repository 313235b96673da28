"""Prompt.messages must be a valid Messages API conversation.

The Messages API requires the list to start with a user message and to
alternate roles. Besides checking the structure directly, the prompt is sent
through the real ``anthropic`` SDK to a small local HTTP server (a real TCP
socket on 127.0.0.1) that applies those rules and answers with the stand-in's
composer, so the SDK's own serialisation is part of the round trip.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import pytest
from nlu_helpers import make_turn

from harness.standins.compose import compose_reply
from reference_service.nlu import build_prompt, normalize_messages, retrieve, understand
from reference_service.turns import Turn


def assert_valid_shape(messages: list[dict[str, Any]]) -> None:
    assert messages, "empty message list"
    assert messages[0]["role"] == "user"
    assert messages[-1]["role"] == "user"
    for a, b in itertools.pairwise(messages):
        assert a["role"] != b["role"], "roles must alternate"
    for m in messages:
        assert m["role"] in ("user", "assistant")
        assert isinstance(m["content"], str) and m["content"].strip()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        messages = body.get("messages", [])
        try:
            assert_valid_shape(messages)
        except AssertionError as exc:
            self._send(400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}})
            return
        text = compose_reply(body.get("system", ""), messages)
        self._send(
            200,
            {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "x"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


RECO_REPLY = "Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore."


def _prompt(history: list[Turn], message: str) -> list[dict[str, Any]]:
    u = understand(message, history)
    return build_prompt(history, u, retrieve(u)).messages


def test_no_history_is_a_single_user_message() -> None:
    messages = _prompt([], "hello")
    assert_valid_shape(messages)
    assert len(messages) == 1


def test_history_alternates_and_ends_with_final_user_message() -> None:
    history = [make_turn(1, "Recommend dark fantasy manga for beginners", RECO_REPLY, "recommendation")]
    history += [make_turn(n, f"q{n}", f"a{n}") for n in range(2, 8)]
    messages = _prompt(history, "What about the second one?")
    assert_valid_shape(messages)
    assert len(messages) == 2 * 7 + 1
    assert messages[-1]["content"].startswith("<context>")


def test_turns_with_empty_text_are_skipped_not_left_dangling() -> None:
    history = [
        make_turn(1, "first", "reply one"),
        make_turn(2, "", "assistant only"),
        make_turn(3, "user only", ""),
        make_turn(4, "fourth", "reply four"),
    ]
    messages = _prompt(history, "hi")
    assert_valid_shape(messages)
    assert [m["content"] for m in messages[:-1]] == ["first", "reply one", "fourth", "reply four"]


def test_normalize_messages_drops_leading_assistant_and_merges() -> None:
    raw = [
        {"role": "assistant", "content": "orphan reply"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]
    out = normalize_messages(raw)
    assert_valid_shape(out)
    assert out == [
        {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]


@pytest.mark.filterwarnings("ignore:The model:DeprecationWarning")
def test_prompt_through_real_sdk_round_trip(api_url: str) -> None:
    client = anthropic.Anthropic(api_key="standin-key", base_url=api_url, timeout=10, max_retries=0)
    try:
        history: list[Turn] = []
        replies: list[str] = []
        for n, message in enumerate(["Recommend dark fantasy manga for beginners", "What about the second one?"], 1):
            u = understand(message, history)
            prompt = build_prompt(history, u, retrieve(u))
            response = client.messages.create(model="claude-sonnet-4-6", **_kwargs(prompt))
            text = "".join(block.text for block in response.content if block.type == "text")
            replies.append(text)
            history.append(make_turn(n, message, text, u.intent))
    finally:
        client.close()
    assert replies[0].startswith("Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore.")
    assert replies[1].startswith("Vinland Saga: ")


def _kwargs(prompt: Any) -> dict[str, Any]:
    request: dict[str, Any] = prompt.request("claude-sonnet-4-6")
    request.pop("model")
    return request
