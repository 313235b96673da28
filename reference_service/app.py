"""The ASGI application: HTTP and WebSocket endpoints around the orchestrator.

Why starlette and a factory: the service must be a real ASGI app served by
uvicorn (it is the system under test, so it should behave like a production
service), and tests build several instances in one process with different
settings.  The web layer only validates input, manages the session cookie and
renders results; a bad request gets a JSON 4xx, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import asdict
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from reference_service.config import ServiceConfig
from reference_service.events import EventLog
from reference_service.limits import HeaderLimits
from reference_service.llm import LLMClient
from reference_service.memory.breaker import BreakerBase, CircuitBreaker
from reference_service.memory.cache import RedisCache
from reference_service.memory.dynamo import DynamoStore, is_client_error
from reference_service.memory.history import MODES, HardenedHistory, SeedHistory
from reference_service.memory.memo import LastTurns
from reference_service.memory.observe import Observer
from reference_service.memory.outbox import Outbox
from reference_service.memory.snippet_breaker import SnippetBreaker
from reference_service.memory.writer import HardenedWriter, SeedWriter
from reference_service.metrics import Metrics
from reference_service.openapi import DOCUMENT
from reference_service.orchestrator import NLU, Orchestrator, TurnFailed
from reference_service.sessions import COOKIE_NAME, SessionCodec

MAX_MESSAGE_CHARS = 4000
WARM_CONNECTIONS = 24
MAX_BODY_BYTES = 64 * 1024
# Format (zero-width space, BOM, joiners), control and unassigned code points.
INVISIBLE = {"Cf", "Cc", "Cn", "Zs", "Zl", "Zp"}
BODY_TIMEOUT_S = 10.0  # a client that stalls mid-upload loses its request, not a server slot forever
OUTBOX_STUCK_S = 10.0  # a turn queued longer than this means the flusher is not keeping up
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class BadInput(Exception):
    """A client error with its HTTP status."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def parse_message(raw: bytes | str) -> str:
    """Validate a ``{"message": "..."}`` body; raise :class:`BadInput` otherwise."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadInput(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput(400, "malformed_json", "the body is not valid JSON") from None
    except RecursionError:
        raise BadInput(400, "malformed_json", "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadInput(400, "bad_request", 'expected a JSON object like {"message": "..."}')
    if "message" not in data:
        raise BadInput(422, "missing_message", 'the "message" field is required')
    message = data["message"]
    if not isinstance(message, str):
        raise BadInput(422, "invalid_message", '"message" must be a string')
    try:
        # JSON may escape a lone surrogate ("\ud800") that is not text at all:
        # it could be neither stored nor echoed back, so it stops here, before
        # any other check looks at it. Not text is a malformed request (400),
        # like a body that is not UTF-8; 422 is for well-formed text we refuse.
        message.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(400, "invalid_message", '"message" is not valid Unicode text') from None
    if not visible(message):
        raise BadInput(422, "empty_message", '"message" must not be empty (or only spaces and invisible characters)')
    if len(message) > MAX_MESSAGE_CHARS:
        raise BadInput(413, "message_too_long", f'"message" exceeds {MAX_MESSAGE_CHARS} characters')
    return message


def visible(text: str) -> bool:
    """True when the text holds something a person could read: not only spaces, zero-width or control characters."""
    return any(not ch.isspace() and unicodedata.category(ch) not in INVISIBLE for ch in text)


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _load_nlu() -> Any:
    import reference_service.nlu as nlu_module

    return nlu_module


class Service:
    """Owns every component of one running service and wires them per variant."""

    def __init__(self, config: ServiceConfig, nlu: NLU | ModuleType | None = None) -> None:
        self.config = config
        self.nlu: Any = nlu
        self.events = EventLog(config.event_log)
        self.metrics = Metrics()
        self.codec = SessionCodec(config.cookie_secret)
        self.dynamo = DynamoStore(
            config.dynamodb_url, config.table_name, config.aws_region,
            connect_timeout_s=max(1.0, config.dynamo_timeout_ms / 1000.0),
        )
        hardened = config.variant == "hardened"
        self.cache = RedisCache(config.redis_url, config.redis_timeout_ms, keep=10 if hardened else 5)
        self.breaker: BreakerBase = (
            CircuitBreaker("dynamodb", config.breaker, client_error=is_client_error)
            if hardened else SnippetBreaker("dynamodb", config.breaker)
        )
        self.breaker.add_listener(self.metrics)
        self.breaker.add_listener(self)
        self.outbox = Outbox(config.outbox_path if hardened else None)
        self.llm = LLMClient(
            config.llm_url, config.llm_api_key, config.llm_model, config.llm_timeout_s, config.llm_max_retries
        )
        observer = Observer(self.events, self.metrics)
        self.history: SeedHistory | HardenedHistory
        self.writer: SeedWriter | HardenedWriter
        if hardened:
            last_turns = LastTurns()  # shared: the reader trusts only windows that reach what the writer gave out
            self.history = HardenedHistory(self.dynamo, self.cache, self.breaker, observer, self.outbox, last_turns)
            self.writer = HardenedWriter(
                self.dynamo, self.cache, self.breaker, observer, self.outbox, self.events, self.metrics,
                retry_s=config.outbox_retry_s, last_turns=last_turns,
            )
        else:
            self.history = SeedHistory(self.dynamo, self.cache, self.breaker, observer)
            self.writer = SeedWriter(self.dynamo, self.cache, observer)
        self.degradation_counts = dict.fromkeys(MODES.values(), 0)
        self.orchestrator: Orchestrator | None = None
        self._table_task: asyncio.Task[None] | None = None
        self.table_ready = False

    # Breaker listener: the event log half (metrics subscribe separately).
    def on_transition(self, breaker: str, old: str, new: str, failures_in_window: int) -> None:
        """Log a ``breaker_transition`` event."""
        self.events.emit("breaker_transition", breaker=breaker, **{"from": old, "to": new},
                         failures_in_window=failures_in_window)

    def on_probe(self, breaker: str, outcome: str) -> None:
        """Log a ``breaker_probe`` event."""
        self.events.emit("breaker_probe", breaker=breaker, outcome=outcome)

    async def _ensure_table(self) -> None:
        delay = 0.2
        while not self.table_ready:
            try:
                await asyncio.wait_for(self.dynamo.ensure_table(), 10.0)
                self.table_ready = True
                self.events.emit("table", table=self.config.table_name, outcome="ready",
                                 ttl_enforced=self.dynamo.ttl_enforced)
            except Exception as exc:
                self.events.emit("table", table=self.config.table_name, outcome="error", error=str(exc)[:300])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start(self) -> None:
        """Open clients, make sure the table exists (briefly wait), start the outbox flusher."""
        if self.nlu is None:
            self.nlu = _load_nlu()
        await self.dynamo.start()
        self._table_task = asyncio.get_running_loop().create_task(self._ensure_table())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._table_task), 5.0)
        await self._warm_pools()
        await self.writer.start()
        self.orchestrator = Orchestrator(self.nlu, self.history, self.writer, self.llm, self.events, self.metrics)
        self.events.emit("service_start", variant=self.config.variant, breaker=self.breaker.config.to_dict())

    async def _warm_pools(self) -> None:
        """Open the DynamoDB and Redis connections before the first user does.

        Measured on the 2-core stack: twenty users arriving at once on cold pools
        spent ~200 ms opening connections, so the first calls missed the 200 ms
        budget and the breaker opened before any fault. Nothing is logged: these
        calls are not memory operations of any turn.
        """
        ghost = f"warmup-{self.codec.new_id()}"
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(
                *(self.dynamo.max_turn_number(ghost) for _ in range(WARM_CONNECTIONS)),
                *(self.cache.ping() for _ in range(WARM_CONNECTIONS)), return_exceptions=True), 3.0)

    async def stop(self) -> None:
        """Stop background work and close every client."""
        if self._table_task is not None:
            self._table_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._table_task
        await self.writer.stop()
        await self.breaker.aclose()
        with contextlib.suppress(Exception):
            await self.cache.close()
        with contextlib.suppress(Exception):
            await self.dynamo.close()
        with contextlib.suppress(Exception):
            await self.llm.close()
        self.events.emit("service_stop", variant=self.config.variant)
        self.events.close()

    async def chat(self, session_id: str, message: str, new_session: bool, transport: str) -> Any:
        """Run one turn and count its degradation level."""
        assert self.orchestrator is not None
        outcome = await self.orchestrator.turn(session_id, message, new_session=new_session, transport=transport)
        self.degradation_counts[outcome.body["debug_metadata"]["memory_mode"]] += 1
        return outcome

    def health_reasons(self) -> list[str]:
        """Why memory is degraded right now (empty when healthy)."""
        reasons = []
        state = self.breaker.state
        if state != "closed":
            reasons.append(f"dynamodb breaker {state}")
        stuck = self.outbox.oldest_age_s()
        if stuck is not None and stuck > OUTBOX_STUCK_S:
            reasons.append(f"outbox: {self.outbox.pending} turns pending, oldest {stuck:.0f} s")
        if self.outbox.dead_count:
            reasons.append(f"outbox: {self.outbox.dead_count} dead letters")
        return reasons

    def debug_memory(self) -> dict[str, Any]:
        """The ``/debug/memory`` document."""
        snap = self.breaker.snapshot()
        return {
            "variant": self.config.variant,
            "breaker": {"state": self.breaker.state, "config": snap["config"], "kind": snap["kind"],
                        "failures_in_window": snap["failures_in_window"], "transitions": snap["transitions"]},
            "degradation_counts": dict(self.degradation_counts),
            "outbox": {"pending": self.outbox.pending, "flushed": self.outbox.flushed,
                       "dead_letters": self.outbox.dead_count,
                       "recent_dead_letters": [asdict(d) for d in self.outbox.recent_dead]},
            "table_ready": self.table_ready,
            "dynamodb_client": self.dynamo.client_config,
        }


async def chat(request: Request) -> Response:
    service: Service = request.app.state.service
    try:
        body = await asyncio.wait_for(request.body(), BODY_TIMEOUT_S)
    except TimeoutError:
        return _error(408, "request_timeout", f"the body did not arrive within {BODY_TIMEOUT_S:g} s")
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it; no traceback, no event
    try:
        message = parse_message(body)
    except BadInput as exc:
        service.metrics.bad_requests.labels(str(exc.status)).inc()
        return _error(exc.status, exc.error, exc.detail)
    session_id = service.codec.verify(request.cookies.get(COOKIE_NAME))
    new_session = session_id is None
    if session_id is None:
        session_id = service.codec.new_id()
    headers: dict[str, str] = {}
    if new_session:
        headers["Set-Cookie"] = service.codec.set_cookie_header(session_id)
    try:
        outcome = await service.chat(session_id, message, new_session, "http")
    except TurnFailed as exc:
        # The design's save_turn raised: the request fails, as its code would,
        # but the client still learns which session and turn were lost.
        return JSONResponse(exc.body(), status_code=500, headers=headers)
    headers["Server-Timing"] = outcome.server_timing()
    return JSONResponse(outcome.body, headers=headers)


async def _ws_text(websocket: WebSocket) -> str | None:
    """The next text frame; None when the client left. A binary frame is refused with 1003."""
    frame = await websocket.receive()
    if frame["type"] == "websocket.disconnect":
        return None
    text = frame.get("text")
    if text is None:
        await websocket.send_json({"error": "binary_frame", "status": 400,
                                   "detail": 'send {"message": "..."} as a text frame'})
        await websocket.close(code=1003)  # unsupported data
        return None
    return str(text)


async def _ws_turns(websocket: WebSocket, service: Service, session_id: str, fresh: bool) -> None:
    while (raw := await _ws_text(websocket)) is not None:
        try:
            message = parse_message(raw)
        except BadInput as exc:
            await websocket.send_json({"error": exc.error, "detail": exc.detail, "status": exc.status})
            continue
        try:
            outcome = await service.chat(session_id, message, fresh, "websocket")
        except TurnFailed as exc:
            await websocket.send_json({**exc.body(), "status": 500})
            continue
        finally:
            fresh = False
        await websocket.send_json(outcome.body)


async def ws(websocket: WebSocket) -> None:
    service: Service = websocket.app.state.service
    session_id = service.codec.verify(websocket.cookies.get(COOKIE_NAME))
    fresh = session_id is None
    if session_id is None:
        session_id = service.codec.new_id()
        cookie = service.codec.set_cookie_header(session_id)
        await websocket.accept(headers=[(b"set-cookie", cookie.encode())])
        await websocket.send_json({"type": "session", "session_id": session_id,
                                   "cookie": cookie.split(";", 1)[0]})
    else:
        await websocket.accept()
    try:
        await _ws_turns(websocket, service, session_id, fresh)
    except WebSocketDisconnect:
        return
    except Exception as exc:
        # The HTTP path's server_error handler never sees WebSocket crashes: log them the same way.
        service.events.emit("internal_error", path="/ws", error=f"{type(exc).__name__}: {exc}"[:300])
        with contextlib.suppress(Exception):
            await websocket.close(code=1011)


async def openapi(request: Request) -> Response:
    return JSONResponse(DOCUMENT)


async def healthz(request: Request) -> Response:
    # Degraded is still 200: the design never blocks a user on degraded memory,
    # so a load balancer must keep sending traffic; the body tells a human why.
    service: Service = request.app.state.service
    reasons = service.health_reasons()
    return JSONResponse({"status": "degraded" if reasons else "ok", "variant": service.config.variant,
                         "reasons": reasons})


async def metrics(request: Request) -> Response:
    service: Service = request.app.state.service
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def debug_memory(request: Request) -> Response:
    service: Service = request.app.state.service
    host = request.client.host if request.client else ""
    if host not in LOOPBACK:
        return _error(403, "forbidden", "/debug/memory is served to loopback clients only")
    return JSONResponse(service.debug_memory())


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    names = {404: "not_found", 405: "method_not_allowed"}
    response = _error(exc.status_code, names.get(exc.status_code, "http_error"), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    service: Service = request.app.state.service
    service.events.emit("internal_error", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:300])
    return _error(500, "internal_error", "unexpected server error")


class _ClientFault(logging.Filter):
    """A client's malformed WebSocket text is its own fault: one warning line, not a server traceback.

    uvicorn closes the connection with 1007 (as it should) but logs the
    ``UnicodeDecodeError`` with its traceback at ERROR, which reads as a crash.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid UTF-8 sequence received from client"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_client_errors() -> None:
    """Install :class:`_ClientFault` on uvicorn's error logger (once)."""
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ClientFault) for f in log.filters):
        log.addFilter(_ClientFault())


def create_app(config: ServiceConfig, nlu: NLU | ModuleType | None = None) -> Starlette:
    """Build the ASGI app; the :class:`Service` is at ``app.state.service``."""
    service = Service(config, nlu)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_client_errors()  # uvicorn has configured its loggers by now
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = Starlette(
        routes=[
            Route("/chat", chat, methods=["POST"]),
            WebSocketRoute("/ws", ws),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/debug/memory", debug_memory, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        middleware=[Middleware(HeaderLimits)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.service = service
    return app
