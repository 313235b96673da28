"""Header and cookie limits in front of every route.

uvicorn's HTTP parser accepts a megabyte of headers and thousands of cookies,
and every byte of them is parsed per request. A browser never sends more than
a few kilobytes, so anything past these limits is refused with 431 (HTTP) or a
1008 close (WebSocket) before any route runs: one hostile client cannot make
the service parse megabytes for each of its requests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

MAX_HEADER_BYTES = 16 * 1024
MAX_COOKIES = 50

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these request headers are refused, or None when they are fine."""
    size = sum(len(k) + len(v) + 4 for k, v in headers)
    if size > MAX_HEADER_BYTES:
        return f"request headers are {size} bytes; at most {MAX_HEADER_BYTES} are accepted"
    cookies = sum(v.count(b";") + 1 for k, v in headers if k.lower() == b"cookie" and v.strip())
    if cookies > MAX_COOKIES:
        return f"{cookies} cookies sent; at most {MAX_COOKIES} are accepted"
    return None


class HeaderLimits:
    """ASGI middleware: refuse oversized headers before the app sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        why = too_large(scope.get("headers", [])) if scope["type"] in ("http", "websocket") else None
        if why is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            body = json.dumps({"error": "headers_too_large", "detail": why}).encode()
            await send({"type": "http.response.start", "status": 431,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
