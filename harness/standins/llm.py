"""Anthropic Messages API stand-in (backend ``anthropic-standin``).

The service under test calls Claude through the real ``anthropic`` SDK. To
measure the *memory* design we need an LLM hop that is free, deterministic and
breakable on demand, yet speaks the wire protocol closely enough that the real
SDK (sync and async, plain and streaming) cannot tell the difference. The reply
text comes from :func:`harness.standins.compose.compose_reply`, which answers
from the tags the service put in its prompt, so a reply shows whether the
service resolved "the second one" correctly. Errors and latency are injected
on demand from a seeded RNG, so a faulty run is reproducible. The endpoints and
error shapes are listed on :func:`create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from harness.standins import configure_logging, listen_arg_parser, parse_listen_args
from harness.standins.base import BackgroundServer
from harness.standins.compose import compose_reply

log = logging.getLogger("harness.standins.llm")

NAME = "llm"

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
INJECTABLE = (429, 500, 529)
ERROR_MESSAGES: dict[int, str] = {
    429: "Number of request tokens has exceeded your per-minute rate limit (injected by stand-in)",
    500: "Internal server error (injected by stand-in)",
    529: "Overloaded (injected by stand-in)",
}


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: about four characters per token."""
    return len(text) // 4 + 1


def anthropic_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error response in the Anthropic API's shape."""
    body = {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class Faults:
    """Injected failure settings (the body of ``/_standin/faults``)."""

    error_rate: float = 0.0
    status: int = 529
    latency_ms: float = 0.0
    retry_after_s: float = 1.0
    seed: int = 0

    @classmethod
    def parse(cls, data: Any) -> Faults:
        """Validate a PUT body; raises ``ValueError`` with a readable reason."""
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        out = cls()
        for name, kind in (("error_rate", float), ("latency_ms", float), ("retry_after_s", float)):
            if name in data:
                v = data[name]
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise ValueError(f"{name} must be a number")
                setattr(out, name, kind(v))
        if not 0.0 <= out.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0.0 and 1.0")
        if out.latency_ms < 0 or out.latency_ms > 600_000:
            raise ValueError("latency_ms must be between 0 and 600000")
        if out.retry_after_s < 0 or out.retry_after_s > 3600:
            raise ValueError("retry_after_s must be between 0 and 3600")
        for name in ("status", "seed"):
            if name in data:
                v = data[name]
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"{name} must be an integer")
                setattr(out, name, v)
        if out.status not in INJECTABLE:
            raise ValueError(f"status must be one of {', '.join(map(str, INJECTABLE))}")
        return out


@dataclass
class StandinState:
    """Mutable server state: the fault setting, its seeded RNG and counters."""

    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    counters: dict[str, int] = field(default_factory=lambda: {"requests": 0, "errors_injected": 0,
                                                             "streams": 0, "count_tokens": 0})
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)


def _validation_error(body: Any, need_max_tokens: bool) -> str | None:
    """Why ``body`` is not a valid Messages request, or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model: Field required"
    if need_max_tokens:
        mt = body.get("max_tokens")
        if mt is None:
            return "max_tokens: Field required"
        if isinstance(mt, bool) or not isinstance(mt, int) or mt < 1:
            return "max_tokens: Input should be a positive integer"
    messages = body.get("messages")
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return f"messages.{i}: Input should be an object"
        if m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = m.get("content")
        if not isinstance(content, str | list):
            return f"messages.{i}.content: Field required"
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return "system: Input should be a valid string or list of text blocks"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def _system_text(system: Any) -> str:
    return _text_of(system) if system is not None else ""


def _input_tokens(body: dict[str, Any]) -> int:
    text = _system_text(body.get("system")) + "".join(_text_of(m.get("content")) for m in body["messages"])
    return estimate_tokens(text)


def _chunks(text: str, words_per_chunk: int = 3) -> list[str]:
    """Split ``text`` into deltas of a few words, keeping every character."""
    parts = text.split(" ")
    out = [" ".join(parts[i:i + words_per_chunk]) for i in range(0, len(parts), words_per_chunk)]
    return [c + (" " if i < len(out) - 1 else "") for i, c in enumerate(out)] or [""]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _auth_error(request: Request) -> JSONResponse | None:
    key = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if key.strip() or (auth.lower().startswith("bearer ") and auth[7:].strip()):
        return None
    return anthropic_error(401, "x-api-key header is required (or Authorization: Bearer <key>)")


async def _read_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ValueError("request body is not valid JSON")


async def _faults_gate(st: StandinState, request: Request) -> JSONResponse | None:
    """Apply injected latency, then decide whether this request fails."""
    f = st.faults
    if f.latency_ms > 0:
        await asyncio.sleep(f.latency_ms / 1000)
    forced = request.headers.get("x-standin-error")
    status: int | None = None
    if forced is not None:
        try:
            status = int(forced)
        except ValueError:
            status = -1
        if status not in INJECTABLE:
            return anthropic_error(400, f"x-standin-error must be one of {INJECTABLE}, got {forced!r}")
    elif f.error_rate > 0 and st.rng.random() < f.error_rate:
        status = f.status
    if status is None:
        return None
    st.counters["errors_injected"] += 1
    headers = {"x-standin-injected": "true"}
    if status == 429:
        headers["retry-after"] = f"{f.retry_after_s:g}"
    return anthropic_error(status, ERROR_MESSAGES[status], headers)


async def messages(request: Request) -> Response:
    st: StandinState = request.app.state.standin
    st.counters["requests"] += 1
    if (err := _auth_error(request)) is not None:
        return err
    body = await _read_body(request)
    if isinstance(body, ValueError):
        return anthropic_error(400, str(body))
    if (why := _validation_error(body, need_max_tokens=True)) is not None:
        return anthropic_error(400, why)
    if (err := await _faults_gate(st, request)) is not None:
        return err
    try:
        text = compose_reply(_system_text(body.get("system")), body["messages"])
    except Exception as exc:  # a composer bug must not look like a hung model
        log.exception("compose_reply failed")
        return anthropic_error(500, f"stand-in could not compose a reply: {exc}")
    stop_reason = "end_turn"
    max_chars = body["max_tokens"] * 4
    if estimate_tokens(text) > body["max_tokens"]:
        text, stop_reason = text[:max_chars], "max_tokens"
    in_tok, out_tok = _input_tokens(body), estimate_tokens(text)
    msg_id = f"msg_standin{next(st.ids):014d}"
    headers = {"request-id": f"req_standin{msg_id[11:]}"}
    if not body.get("stream"):
        return JSONResponse({
            "id": msg_id, "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": stop_reason,
            "stop_sequence": None, "usage": {"input_tokens": in_tok, "output_tokens": out_tok},
        }, headers=headers)
    st.counters["streams"] += 1

    async def events() -> AsyncIterator[bytes]:
        yield _sse("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": in_tok, "output_tokens": 1}}})
        yield _sse("ping", {"type": "ping"})
        yield _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})
        for chunk in _chunks(text):
            yield _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": chunk}})
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                     "usage": {"output_tokens": out_tok}})
        yield _sse("message_stop", {"type": "message_stop"})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache"})


async def count_tokens(request: Request) -> Response:
    st: StandinState = request.app.state.standin
    st.counters["count_tokens"] += 1
    if (err := _auth_error(request)) is not None:
        return err
    body = await _read_body(request)
    if isinstance(body, ValueError):
        return anthropic_error(400, str(body))
    if (why := _validation_error(body, need_max_tokens=False)) is not None:
        return anthropic_error(400, why)
    if (err := await _faults_gate(st, request)) is not None:
        return err
    return JSONResponse({"input_tokens": _input_tokens(body)})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "backend": "anthropic-standin"})


async def faults(request: Request) -> Response:
    st: StandinState = request.app.state.standin
    if request.method == "PUT":
        body = await _read_body(request)
        try:
            if isinstance(body, ValueError):
                raise body
            st.set_faults(Faults.parse(body))
        except ValueError as exc:
            return JSONResponse({"error": "invalid_faults", "detail": str(exc)}, status_code=400)
        log.info("faults set: %s", asdict(st.faults))
    elif request.method == "DELETE":
        st.set_faults(Faults())
        log.info("faults cleared")
    return JSONResponse(asdict(st.faults))


async def stats(request: Request) -> Response:
    st: StandinState = request.app.state.standin
    return JSONResponse(dict(st.counters))


async def not_found(request: Request, exc: Exception) -> Response:
    return anthropic_error(404, f"{request.method} {request.url.path} not found")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": f"method {request.method} not allowed"}},
                        status_code=405)


def create_app(state: StandinState | None = None) -> Starlette:
    """The ASGI app (also usable in-process, e.g. with ``httpx.ASGITransport``).

    Its endpoints, fault settings and error shapes are in docs/contracts.md, in
    the section on the prompt format and the LLM stand-in. The handlers are
    module-level and find their :class:`StandinState` on ``app.state.standin``,
    so each stays small and testable on its own.
    """
    st = state or StandinState()
    app = Starlette(routes=[
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_standin/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route("/_standin/stats", stats, methods=["GET"]),
    ], exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.standin = st
    return app




class _QuietServer(uvicorn.Server):
    """uvicorn server that leaves signal handling to us.

    Stock uvicorn re-raises SIGTERM after its graceful shutdown, so the process
    would die *by* the signal; the harness expects exit status 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LLMServer(BackgroundServer):
    """The stand-in on a real socket, served by uvicorn in a background thread (for tests/in-process use)."""

    standin_name = NAME
    join_timeout_s = 10.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: StandinState | None = None) -> None:
        self.state = state or StandinState()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.set_inheritable(True)
        config = uvicorn.Config(create_app(self.state), log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2, lifespan="off")
        self.server = _QuietServer(config)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def serve(self) -> None:
        """Serve until ``self.server.should_exit`` is set."""
        await self.server.serve(sockets=[self.sock])

    def _serve(self) -> None:
        asyncio.run(self.serve())

    def _ready(self) -> bool:
        return self.server.started

    def _shutdown(self) -> None:
        self.server.should_exit = True

    def _close(self) -> None:
        self.sock.close()


async def _run(server: LLMServer) -> int:
    loop = asyncio.get_running_loop()

    def _on_signal(signum: int, frame: FrameType | None = None) -> None:
        log.info("signal %d: shutting down", signum)
        server.server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig)
    task = asyncio.create_task(server.serve())
    while not server.server.started:
        if task.done():
            await task
            return 1
        await asyncio.sleep(0.01)
    print(f"{NAME} listening on {server.url}", flush=True)
    await task
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m harness.standins.llm``."""
    args = parse_listen_args(listen_arg_parser(NAME, "Anthropic Messages API stand-in."), argv)
    configure_logging()
    try:
        server = LLMServer(args.host, args.port)
    except OSError as exc:
        print(f"llm: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop

        return uvloop.run(_run(server))
    except ImportError:  # pragma: no cover - only where uvicorn[standard] leaves uvloop out (Windows)
        return asyncio.run(_run(server))
    finally:
        server.sock.close()


if __name__ == "__main__":
    sys.exit(main())
