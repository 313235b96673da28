"""One scripted conversation over HTTP or WebSocket, judged and recorded turn by turn.

All four scenarios do the same thing per turn -- send the next scripted
message with the session cookie, judge the reply, put the judgement and the
service's ``debug_metadata`` into the request context for the recorder, and
fail the Locust request when the answer is wrong -- so that logic lives here
once. The cookie is kept by hand rather than in the HTTP client's jar: a
returning Zipf customer and a WebSocket reconnect both need to carry one
specific session across clients, and the service's cookie is ``Secure``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import gevent
import locust  # noqa: F401  # gevent monkey-patching first
import websocket
from locust import User
from locust.env import Environment

from harness.loadgen.corpus import Judgement, Script, has_stateless_notice, judge, load_corpus

CHAT_NAME = "POST /chat"
WS_NAME = "WS /ws message"
WS_CONNECT_NAME = "WS /ws connect"


@lru_cache(maxsize=1)
def corpus() -> tuple[Script, ...]:
    """The shipped corpus, parsed once per process."""
    return tuple(load_corpus())


def pick_script(rng: random.Random) -> Script:
    return rng.choice(corpus())


_USER_COUNTERS: dict[str, itertools.count[int]] = {}


def run_seed(environment: Environment) -> int | None:
    """The run's ``--harness-seed`` (None: unseeded)."""
    options = environment.parsed_options
    seed = getattr(options, "harness_seed", -1) if options is not None else -1
    return None if seed is None or int(seed) < 0 else int(seed)


def user_rng(user: User) -> random.Random:
    """This user's random source: seeded from the run's seed, the worker and the user's ordinal.

    With ``--harness-seed N`` the n-th user of a class on a given worker follows
    the same scripts, with the same think times, in every run.
    """
    seed = run_seed(user.environment)
    if seed is None:
        return random.Random()
    name = type(user).__name__
    ordinal = next(_USER_COUNTERS.setdefault(name, itertools.count()))
    runner = user.environment.runner
    worker = getattr(runner, "worker_index", 0) if runner is not None else 0
    return random.Random(f"{seed}/{worker}/{name}/{ordinal}")


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text: what the durability analyzer compares with table.jsonl items."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cookie_from_set_cookie(header: str | None) -> str | None:
    """``name=value`` of a ``Set-Cookie`` header value (attributes dropped)."""
    if not header:
        return None
    pair = header.split(";", 1)[0].strip()
    return pair if "=" in pair else None


@dataclass
class Session:
    """Where one simulated browser is in one script, plus its cookie."""

    script: Script
    scenario: str
    cookie: str | None = None
    session_id: str | None = None
    last_turn_number: int = 0
    index: int = 0
    replies: list[str | None] = field(default_factory=list)
    # The client's own name for this run of the script: it ties a failed first turn (which has
    # no session yet) to the turns after it, where the session id cannot.
    conversation: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def done(self) -> bool:
        return self.index >= len(self.script.turns)

    def base_context(self, user_class: str, intended_start: float | None) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "scenario": self.scenario,
            "user_class": user_class,
            "session_id": self.session_id,
            "turn": self.last_turn_number + 1,
            "script": self.script.id,
            "conversation": self.conversation,
            # the session this client's cookie holds: a reply naming another one lost the session
            "expected_session_id": self.session_id,
        }
        if intended_start is not None:
            ctx["intended_start"] = intended_start
        return ctx

    def absorb(self, ctx: dict[str, Any], payload: dict[str, Any] | None) -> Judgement:
        """Judge the reply to the current turn, fill ``ctx``, advance."""
        turn = self.script.turns[self.index]
        judgement = judge(turn, payload, self.replies)
        if payload is not None:
            self.session_id = str(payload.get("session_id") or self.session_id or "") or None
            number = payload.get("turn_number")
            if isinstance(number, int):
                self.last_turn_number = number
            else:
                self.last_turn_number += 1
            raw_meta = payload.get("debug_metadata")
            meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            ctx.update(
                session_id=self.session_id,
                turn=self.last_turn_number,
                memory_mode=meta.get("memory_mode"),
                level=meta.get("level"),
                reason=meta.get("reason"),
                persisted=payload.get("persisted"),
                # Fingerprints of what the service must have stored for this turn
                # (``user_message`` / ``assistant_reply``), so the durability analyzer
                # can check content without records carrying the text itself.
                user_message_sha256=sha256_hex(turn.message),
                reply_sha256=sha256_hex(str(payload.get("response"))),
                # how far back this turn's referent lies, so the analyzer can tell an honest
                # "cache_only" non-answer (referent beyond Redis's window) from a wrong one;
                # None when the anchor reply itself had nothing to resolve against
                referent_distance=None if judgement.detail == "anchor missing" else turn.referent_distance,
                notice=has_stateless_notice(str(payload.get("response"))),
            )
        ctx["verdict"] = judgement.verdict
        reply = payload.get("response") if payload else None
        self.replies.append(reply if isinstance(reply, str) else None)
        self.index += 1
        return judgement


def _decode(body: bytes | str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(body or b"")
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("response"), str) else None


def disable_client_cookies(client: Any) -> None:
    """Stop FastHttpSession's jar from storing/sending cookies; we carry the session by hand."""
    jar = getattr(client, "cookiejar", None)
    if jar is not None:
        jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))


def http_turn(user: Any, session: Session, intended_start: float | None = None) -> Judgement:
    """POST the current turn with ``user.client`` (a FastHttpSession) and record it."""
    message = session.script.turns[session.index].message
    headers = {"Cookie": session.cookie} if session.cookie else {}
    ctx = session.base_context(type(user).__name__, intended_start)
    start, t0 = time.time(), time.perf_counter()
    try:
        return _post_turn(user, session, message, headers, ctx)
    except gevent.GreenletExit:
        fire_in_flight(user.environment, "POST", CHAT_NAME, start, t0, ctx)
        raise


def fire_in_flight(environment: Environment, request_type: str, name: str, start: float, t0: float,
                   ctx: dict[str, Any]) -> None:
    """Record a request the load stop interrupted as a timeout at the stop time.

    Locust kills a user's greenlet at stop without firing a request event, so a
    service that never answers 1 % of requests would otherwise leave no trace.
    """
    ctx.update(status=None, verdict="error")
    environment.events.request.fire(
        request_type=request_type, name=name, response_time=(time.perf_counter() - t0) * 1000,
        response_length=0, response=None, context=ctx,
        exception=TimeoutError("in flight when the load stopped (timeout)"), start_time=start,
    )


def _post_turn(user: Any, session: Session, message: str, headers: dict[str, str],
               ctx: dict[str, Any]) -> Judgement:
    with user.client.post(
        "/chat", json={"message": message}, headers=headers, name=CHAT_NAME, catch_response=True, context=ctx
    ) as resp:
        ctx = resp.request_meta["context"]
        status = resp.status_code
        payload = _decode(resp.content) if status == 200 else None
        cookie = cookie_from_set_cookie(resp.headers.get("set-cookie") if resp.headers else None)
        if cookie:
            session.cookie = cookie
        judgement = session.absorb(ctx, payload)
        if status == 200 and payload is None:
            resp.failure("200 without a usable JSON reply")
        elif judgement.verdict == "wrong":
            resp.failure(f"wrong answer: {judgement.detail}")
        elif status == 200:
            resp.success()
        elif not status or status >= 400:
            pass  # Locust already marked the failure
        else:
            resp.failure(f"unexpected status {status}")
    return judgement


def think(user: User, rng: random.Random) -> None:
    """Sleep a user-like pause: ``--think-time`` x uniform(0.5, 1.5)."""
    options = user.environment.parsed_options
    mean = float(getattr(options, "think_time", 1.0)) if options is not None else 1.0
    if mean > 0:
        gevent.sleep(mean * rng.uniform(0.5, 1.5))


class WSClient:
    """A raw WebSocket chat connection that reports every exchange to Locust.

    Locust has no raw WebSocket user, so this wraps ``websocket-client`` (made
    cooperative by gevent's monkey-patching) and fires ``events.request``
    itself, for connects and for each message/reply exchange.

    Every blocking call is bounded (``timeout_s`` for connect/recv,
    ``close_timeout_s`` for the close handshake) and none of them may swallow a
    ``BaseException``: Locust stops a user at ``--run-time`` by raising gevent's
    ``GreenletExit`` wherever the user's greenlet is blocked, and then waits for
    that greenlet to die. ``websocket.WebSocket.close()`` waits for the peer's
    close frame inside a bare ``except: pass``, so a kill landing there was
    silently eaten, the user carried on conversing and Locust waited forever.
    Hence :meth:`close` does the close handshake itself.
    """

    def __init__(
        self, environment: Environment, base_url: str, timeout_s: float = 30.0, close_timeout_s: float = 1.0
    ) -> None:
        self.environment = environment
        self.url = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/") + "/ws"
        self.timeout_s = timeout_s
        self.close_timeout_s = close_timeout_s
        self.ws: websocket.WebSocket | None = None

    def _fire(
        self, name: str, start: float, t0: float, length: int, ctx: dict[str, Any], exc: BaseException | None
    ) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - t0) * 1000,
            response_length=length,
            response=None,
            context=ctx,
            exception=exc,
            start_time=start,
        )

    def connect(self, session: Session, user_class: str) -> bool:
        """Open ``/ws`` carrying the session cookie (if any); learn a new session's cookie."""
        self.close()
        start, t0 = time.time(), time.perf_counter()
        ctx = {**session.base_context(user_class, None), "turn": None, "verdict": "unchecked"}
        try:
            ws = websocket.create_connection(
                self.url, timeout=self.timeout_s, cookie=session.cookie, enable_multithread=False
            )
        except Exception as exc:
            ctx["verdict"] = "error"
            self._fire(WS_CONNECT_NAME, start, t0, 0, ctx, exc)
            return False
        self.ws = ws
        headers = ws.getheaders() or {}
        cookie = cookie_from_set_cookie(headers.get("set-cookie"))
        if cookie:
            session.cookie = cookie
        ctx["status"] = ws.getstatus()
        self._fire(WS_CONNECT_NAME, start, t0, 0, ctx, None)
        return True

    def turn(self, session: Session, user_class: str) -> Judgement | None:
        """Send the current turn and judge the first reply frame (session frames are absorbed)."""
        if self.ws is None:
            return None
        message = session.script.turns[session.index].message
        start, t0 = time.time(), time.perf_counter()
        ctx = session.base_context(user_class, None)
        exc: BaseException | None = None
        payload: dict[str, Any] | None = None
        length = 0
        try:
            self.ws.send(json.dumps({"message": message}))
            while True:
                raw = self.ws.recv()
                length += len(raw)
                frame = json.loads(raw)
                if isinstance(frame, dict) and frame.get("type") == "session":
                    cookie = frame.get("cookie")
                    if isinstance(cookie, str) and "=" in cookie:
                        session.cookie = cookie_from_set_cookie(cookie)
                    continue
                payload = frame if isinstance(frame, dict) and isinstance(frame.get("response"), str) else None
                if payload is None:
                    exc = ValueError(f"unusable reply frame: {str(raw)[:120]!r}")
                break
        except gevent.GreenletExit:
            fire_in_flight(self.environment, "WS", WS_NAME, start, t0, ctx)
            raise
        except Exception as e:
            exc = e
            self.close()
        judgement = session.absorb(ctx, payload)
        if exc is None and judgement.verdict == "wrong":
            exc = AssertionError(f"wrong answer: {judgement.detail}")
        ctx["status"] = 200 if payload is not None else None
        self._fire(WS_NAME, start, t0, length, ctx, exc)
        return judgement

    def close(self) -> None:
        """Close politely (close frame, wait up to ``close_timeout_s`` for the peer's), then drop the socket.

        Network errors and timeouts end the handshake early and are ignored --
        the socket is closed regardless. ``GreenletExit`` (and any other
        ``BaseException``) propagates after the socket is closed, so a Locust
        stop during the handshake kills the user as it should.
        """
        ws, self.ws = self.ws, None
        if ws is None:
            return
        try:
            if ws.connected:
                ws.send_close()
                ws.settimeout(self.close_timeout_s)
                deadline = time.monotonic() + self.close_timeout_s
                while time.monotonic() < deadline:
                    if ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE:
                        break
        except Exception:  # peer gone or slow: the socket is closed below anyway
            pass
        finally:
            with contextlib.suppress(Exception):
                ws.shutdown()


__all__ = [
    "CHAT_NAME",
    "WS_CONNECT_NAME",
    "WS_NAME",
    "Session",
    "WSClient",
    "cookie_from_set_cookie",
    "corpus",
    "disable_client_cookies",
    "http_turn",
    "pick_script",
    "sha256_hex",
    "think",
    "user_rng",
]
