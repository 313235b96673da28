"""Test helpers for the service: real servers, a controllable TCP proxy, an in-test LLM, a stand-in NLU.

Everything binds 127.0.0.1 port 0 and is stopped by the fixtures that start it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import redis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reference_service.app import create_app
from reference_service.config import ServiceConfig
from reference_service.turns import Turn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- uvicorn in a thread
@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    """A real ``redis-server`` on a free loopback port, no persistence; yields the port once it answers PING."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1:0 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="error", lifespan="on", ws="websockets-sansio", access_log=False)
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        with contextlib.suppress(OSError):
            self.sock.close()


class LogCapture(logging.Handler):
    """Every log record a service thread emits while attached, wherever its logger sends it.

    uvicorn's loggers do not propagate to the root, so the handler goes on the
    root and on every logger that stops propagation: each record then reaches
    it exactly once. Only records from the server's thread, or from the
    service's own and its web stack's loggers, are kept (moto and the proxies
    log from their own threads).
    """

    OWN = ("uvicorn", "starlette", "reference_service")

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__(logging.DEBUG)
        self.thread = thread
        self.records: list[logging.LogRecord] = []
        self._on: list[logging.Logger] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread.ident or record.name.split(".")[0] in self.OWN:
            self.records.append(record)

    def __enter__(self) -> LogCapture:
        named = [lg for lg in list(logging.Logger.manager.loggerDict.values()) if isinstance(lg, logging.Logger)]
        self._on = [logging.getLogger(), *(lg for lg in named if not lg.propagate)]
        for lg in self._on:
            lg.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for lg in self._on:
            lg.removeHandler(self)

    def tracebacks(self) -> list[str]:
        """The records that carry a traceback (``exc_info``, ``stack_info`` or 'Traceback' in the text), formatted."""
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        out = []
        for record in self.records:
            text = formatter.format(record)
            if record.exc_info or record.exc_text or record.stack_info or "Traceback" in text:
                out.append(text)
        return out


# --------------------------------------------------------------------------- TCP proxy
class TcpProxy:
    """A tiny TCP proxy we control: pass, add latency, blackhole or refuse, on demand.

    ``mode``: ``pass`` | ``latency`` (delay each upstream->client chunk by
    ``latency_s``) | ``blackhole`` (accept, read, never answer) | ``down``
    (accept and close immediately).  ``cut()`` drops live connections.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.latency_s = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _start(self) -> asyncio.base_events.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: bool) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.mode == "blackhole":
                    continue
                if delay and self.mode == "latency" and self.latency_s > 0:
                    await asyncio.sleep(self.latency_s)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.mode == "down":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        try:
            await asyncio.gather(self._pipe(reader, up_writer, False), self._pipe(up_reader, writer, True))
        finally:
            self._writers.discard(writer)
            self._writers.discard(up_writer)

    def set(self, mode: str, latency_s: float = 0.0, cut: bool = True) -> None:
        self.mode = mode
        self.latency_s = latency_s
        if cut:
            self.cut()

    def cut(self) -> None:
        async def _cut() -> None:
            for w in list(self._writers):
                with contextlib.suppress(Exception):
                    w.close()

        asyncio.run_coroutine_threadsafe(_cut(), self.loop).result(5)

    def close(self) -> None:
        async def _close() -> None:
            self.server.close()
            for w in list(self._writers):
                with contextlib.suppress(Exception):
                    w.close()
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- in-test LLM
class FakeLLM:
    """A minimal Messages API: echoes the final user message; can fail on demand."""

    def __init__(self) -> None:
        self.fail_status: int | None = None
        self.compose = False  # True: answer like the harness stand-in (harness.standins.compose)
        self.reply: str | None = None  # answer with exactly this text (e.g. one too large to store)
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if self.fail_status is not None:
            return JSONResponse(
                {"type": "error", "error": {"type": "overloaded_error", "message": "down"}},
                status_code=self.fail_status, headers={"x-should-retry": "false"},
            )
        last = body["messages"][-1]["content"]
        text = f"ECHO[{len(body['messages'])}]: {last}"
        if self.reply is not None:
            text = self.reply
        elif self.compose:
            from harness.standins.compose import compose_reply

            text = compose_reply(body.get("system", ""), body["messages"])
        return JSONResponse({
            "id": "msg_1", "type": "message", "role": "assistant", "model": body.get("model", "m"),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        })


# --------------------------------------------------------------------------- stand-in NLU
STATELESS_NOTICE = (
    "I've lost our conversation context. Could you briefly remind me what we were discussing?"
)
_REF = re.compile(r"\b(the (first|second|third) one|it)\b", re.I)


def fake_nlu() -> SimpleNamespace:
    """Resolves 'the second one'/'it' only when history exists; prompt = history + message."""

    def understand(message: str, history: list[Turn]) -> SimpleNamespace:
        m = _REF.search(message)
        unresolved = m.group(0) if (m and not history) else None
        resolved = f"{message} (with {len(history)} turns)" if history else message
        return SimpleNamespace(intent="other", resolved_query=resolved, focus_id=None, ask_format=None,
                               unresolved_reference=unresolved)

    def retrieve(u: Any, k: int = 5) -> list[Any]:
        return []

    def build_prompt(history: list[Turn], u: Any, docs: list[Any]) -> SimpleNamespace:
        msgs: list[dict[str, Any]] = []
        for t in history:
            msgs += [{"role": "user", "content": t.user_message}, {"role": "assistant", "content": t.assistant_reply}]
        msgs.append({"role": "user", "content": u.resolved_query})
        return SimpleNamespace(system="test system", messages=msgs, max_tokens=100, token_counts={})

    return SimpleNamespace(
        understand=understand, retrieve=retrieve, build_prompt=build_prompt,
        STATELESS_NOTICE=STATELESS_NOTICE,
        CLARIFY_TEMPLATE="I'm sorry, I don't understand what you mean by '{phrase}'.",
    )


# --------------------------------------------------------------------------- the service under test
@dataclass
class RunningService:
    thread: ServerThread
    app: Any
    events_path: Path
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def service(self) -> Any:
        return self.app.state.service

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        rows = [json.loads(line) for line in self.events_path.read_text().splitlines() if line.strip()]
        return [r for r in rows if kind is None or r["event"] == kind]

    def chat(self, message: str, cookie: str | None = None) -> httpx.Response:
        headers = {"Cookie": cookie} if cookie else {}
        return self.client.post(f"{self.url}/chat", json={"message": message}, headers=headers)


def cookie_of(resp: httpx.Response) -> str:
    return resp.headers["set-cookie"].split(";", 1)[0]


@contextlib.contextmanager
def run_service(config: ServiceConfig, events_path: Path, nlu: Any = None) -> Iterator[RunningService]:
    config.event_log = str(events_path)
    app = create_app(config, nlu if nlu is not None else fake_nlu())
    thread = ServerThread(app).start()
    client = httpx.Client(timeout=30)
    try:
        yield RunningService(thread, app, events_path, client)
    finally:
        client.close()
        thread.stop()
