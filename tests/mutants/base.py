"""The one interface every mutant implements, and the ASGI plumbing they share.

A mutant is the real hardened reference service with exactly one thing broken,
either by monkeypatching one method before the app is built (``install``) or
by wrapping the built ASGI app (``wrap``, e.g. rewriting ``POST /chat``
replies). Everything else -- the other endpoints, ``/debug/memory`` (the
harness reads the breaker's timings there), the event log, the table -- stays
honest, so the check that must catch the mutant is the only one with a reason
to fail. ``tests/mutants/serve.py`` starts a mutant; ``test_mutants.py`` runs
``harness chaos`` against each and asserts its verdict.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Mutant:
    """One known-bad service and what the harness must say about it."""

    name: str
    breaks: str                            # what is broken, in one line
    must_fail: tuple[str, ...]             # checks whose outcome must be "fail" in verdict.json
    must_fail_any: tuple[str, ...] = ()    # and at least one of these (two checks judging one claim)
    exit_code: int = 1                     # `harness chaos` exit code: 0 pass, 1 fail
    install: Callable[[], None] | None = None      # monkeypatch before create_app
    wrap: Callable[[ASGIApp], ASGIApp] | None = None  # wrap the built app
    listens: bool = True                   # False: nothing is started on the port
    fault: tuple[str, ...] = ("--dynamo-latency", "2s")  # the run's fault flags (() for no fault at all)
    max_seconds: float | None = None       # the whole `harness chaos` run must end within this
    xfail: str | None = None               # set when the harness does NOT catch it: why (an xfail)
    xfail_strict: bool = True              # False only when the harness catches it some runs, not others


def is_chat(scope: Scope) -> bool:
    return scope.get("type") == "http" and scope.get("method") == "POST" and scope.get("path") == "/chat"


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def until_disconnect(receive: Receive) -> None:
    """Never answer: read the request, then wait until the client goes away (so shutdown is not held up)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def replace_chat(handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> Callable[[ASGIApp], ASGIApp]:
    """A ``wrap`` that answers ``POST /chat`` with ``handler`` and passes everything else through."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def mutated(scope: Scope, receive: Receive, send: Send) -> None:
            if is_chat(scope):
                await handler(scope, receive, send)
            else:
                await app(scope, receive, send)

        return mutated

    return wrap


Transform = Callable[[int, dict[str, Any] | None], Awaitable[tuple[int, dict[str, Any] | None]]]


def rewrite_chat(transform: Transform) -> Callable[[ASGIApp], ASGIApp]:
    """A ``wrap`` that lets the real service answer ``POST /chat``, then passes the reply through ``transform``.

    ``transform(status, body)`` gets the decoded JSON body (None if it is not
    JSON) and returns the status and body to send; it may ``await`` (a delay).
    Headers other than the length are kept, so the session cookie still works.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def mutated(scope: Scope, receive: Receive, send: Send) -> None:
            if not is_chat(scope):
                await app(scope, receive, send)
                return
            start: Message = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await app(scope, receive, capture)
            raw = b"".join(chunks)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            status, body = await transform(int(start.get("status", 500)), body)
            data = raw if body is None else json.dumps(body).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        return mutated

    return wrap
