"""The Toxiproxy 2.12 HTTP API, hand-written on asyncio streams.

Why by hand: clients and the reference transcripts depend on Go's exact
answers — a 405 with no body or content type, JSON error bodies served as
``text/plain; charset=utf-8`` with a trailing newline (``/populate``'s as
``application/json`` without one), an ``X-Toxiproxy-Request-Id`` on every
routed answer, 403 for ``Mozilla/`` user agents.  A thin HTTP/1.1 layer with
an explicit router keeps each of those visible instead of letting a framework
"fix" them.  Bad input is a 400, never a 500 or a dropped connection; the only
500s are Go's own listen failures.  Mutations share one lock, because a toxic
change awaits every live connection's stub.  ``/harness/taps`` is our
extension (:mod:`harness.toxiproxy.tap`); a real Toxiproxy answers it 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from harness.toxiproxy import gojson
from harness.toxiproxy.gojson import GoJSONError
from harness.toxiproxy.proxy import (
    AlreadyStarted,
    Proxy,
    ProxyCollection,
    ProxyError,
    split_host_port,
)
from harness.toxiproxy.tap import Tap, TapWriter
from harness.toxiproxy.toxics import Toxic, lookup
from harness.toxiproxy.toxics.base import ToxicWrapper

log = logging.getLogger(__name__)

VERSION = "2.12.0-harness"
MAX_BODY = 8 << 20
# A name must fit in a request line to be addressed again: StreamReader refuses
# lines over 64 KiB, and /proxies/<proxy>/toxics/<toxic> carries two names. A
# longer one would be created and then be impossible to show or delete, so it is
# refused before it is stored.
MAX_NAME_URL_BYTES = 16 << 10
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}
POPULATE_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class Response:
    """Status, content type (``None`` = no header) and body bytes."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


def json_response(status: int, obj: Any) -> Response:
    return Response(status, gojson.dumps(obj).encode(), JSON)


def error_response(status: int, message: str) -> Response:
    body = gojson.dumps({"error": message, "status": status}) + "\n"
    return Response(status, body.encode(), TEXT)


def bad_body(exc: GoJSONError) -> Response:
    return error_response(400, f"bad request body: {exc}")


Handler = Callable[..., Awaitable[Response]]


class ApiServer:
    """Routes requests to the proxy collection; owns the API listener."""

    def __init__(self, collection: ProxyCollection | None = None) -> None:
        self.collection = collection or ProxyCollection()
        self.lock = asyncio.Lock()
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.taps: dict[str, Tap] = {}
        self.routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"^/reset$"), {"POST": self.reset}),
            (re.compile(r"^/proxies$"), {"GET": self.proxy_index, "POST": self.proxy_create}),
            (re.compile(r"^/populate$"), {"POST": self.populate}),
            (
                re.compile(r"^/proxies/([^/]+)$"),
                {
                    "GET": self.proxy_show,
                    "POST": self.proxy_update,
                    "PATCH": self.proxy_update,
                    "DELETE": self.proxy_delete,
                },
            ),
            (
                re.compile(r"^/proxies/([^/]+)/toxics$"),
                {"GET": self.toxic_index, "POST": self.toxic_create},
            ),
            (
                re.compile(r"^/proxies/([^/]+)/toxics/([^/]+)$"),
                {
                    "GET": self.toxic_show,
                    "POST": self.toxic_update,
                    "PATCH": self.toxic_update,
                    "DELETE": self.toxic_delete,
                },
            ),
            (re.compile(r"^/version$"), {"GET": self.version}),
            (re.compile(r"^/harness/taps$"), {"GET": self.tap_index, "POST": self.tap_create}),
            (re.compile(r"^/harness/taps/([^/]+)$"), {"DELETE": self.tap_delete}),
        ]

    # ------------------------------------------------------------------ lifecycle
    async def listen(self, host: str, port: int) -> int:
        """Bind the API listener; returns the real port."""
        self._server = await asyncio.start_server(self._serve_client, host, port, reuse_address=True)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        self.collection.clear()  # connections close first, so their last tap lines are written
        for tap in self.taps.values():
            tap.close()
        self.taps.clear()

    # ------------------------------------------------------------------ HTTP/1.1
    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                if isinstance(request, Response):
                    await self._write(writer, request, keep_alive=False)
                    break
                method, path, headers, body, keep_alive = request
                try:
                    resp = await self.dispatch(method, path, headers, body)
                except Exception:
                    log.exception("API handler failed for %s %s", method, path)
                    resp = error_response(500, "internal error")
                await self._write(writer, resp, keep_alive)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str], bytes, bool] | Response | None:
        """One request; a :class:`Response` (then close) when its framing is bad."""
        try:
            return await self._parse_request(reader)
        except ValueError:  # over-long line (StreamReader), bad Content-Length or chunk size
            return Response(400, b"400 Bad Request", TEXT)

    async def _parse_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str], bytes, bool] | Response | None:
        line = await reader.readline()
        if not line:
            return None
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return Response(400, b"400 Bad Request", TEXT)
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            hline = await reader.readline()
            if hline in (b"\r\n", b"\n", b""):
                break
            name, sep, value = hline.decode("latin-1").partition(":")
            if not sep:
                return Response(400, b"400 Bad Request: malformed header", TEXT)
            headers[name.strip().lower()] = value.strip()
        body: bytes | Response = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length < 0:
                return Response(400, b"400 Bad Request: bad content-length", TEXT)
            if length > MAX_BODY:
                return Response(413, b"request body too large\n", TEXT)
            body = await reader.readexactly(length)
        if isinstance(body, Response):
            return body
        conn_hdr = headers.get("connection", "").lower()
        keep_alive = conn_hdr != "close" if version == "HTTP/1.1" else conn_hdr == "keep-alive"
        path = target.split("?", 1)[0]
        if path.startswith("http://") or path.startswith("https://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        return method.upper(), path, headers, body, keep_alive

    async def _write(self, writer: asyncio.StreamWriter, resp: Response, keep_alive: bool) -> None:
        lines = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}"]
        if resp.content_type is not None:
            lines.append(f"Content-Type: {resp.content_type}")
        lines.append(f"X-Toxiproxy-Request-Id: {secrets.token_hex(10)}")
        lines.append(f"Date: {formatdate(time.time(), usegmt=True)}")
        if resp.status != 204:
            lines.append(f"Content-Length: {len(resp.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body)
        await writer.drain()

    # ------------------------------------------------------------------ routing
    async def dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request (public so tests and the CLI can call it without sockets)."""
        if headers.get("user-agent", "").startswith("Mozilla/"):
            return Response(403, b"User agent not allowed\n", TEXT)
        for pattern, methods in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(method)
            if handler is None:
                return Response(405)
            args = [unquote(g) for g in match.groups()]
            try:
                if method == "GET":
                    return await handler(*args, body=body)
                async with self.lock:
                    return await handler(*args, body=body)
            except ProxyError as exc:  # every handler's "proxy not found", "already exists", listen failures
                return error_response(exc.status, exc.message)
        return Response(404, b"404 page not found\n", TEXT)

    # ------------------------------------------------------------------ handlers
    async def version(self, *, body: bytes) -> Response:
        return Response(200, (gojson.dumps({"version": VERSION}).replace(":", ": ", 1) + "\n").encode(),
                        "application/json;charset=utf-8")

    async def reset(self, *, body: bytes) -> Response:
        for proxy in list(self.collection.proxies.values()):
            with contextlib.suppress(AlreadyStarted):
                await proxy.start()
            await proxy.toxics.reset()
        return Response(204)

    async def proxy_index(self, *, body: bytes) -> Response:
        proxies = self.collection.proxies
        return json_response(200, {name: proxies[name].to_json() for name in sorted(proxies)})

    async def proxy_create(self, *, body: bytes) -> Response:
        try:
            fields = _decode_proxy(body, {"name": "", "listen": "", "upstream": "", "enabled": True})
        except GoJSONError as exc:
            return bad_body(exc)
        if not fields["name"]:
            return error_response(400, "missing required field: name")
        if not fields["upstream"]:
            return error_response(400, "missing required field: upstream")
        if (too_long := _unaddressable(fields["name"], "proxy")) is not None:
            return error_response(400, too_long)
        proxy = Proxy(fields["name"], fields["listen"], fields["upstream"])
        await self.collection.add(proxy, bool(fields["enabled"]))
        return json_response(201, proxy.to_json())

    async def populate(self, *, body: bytes) -> Response:
        def fail(status: int, message: str, proxies: list[Proxy] | None) -> Response:
            payload = {
                "error": message,
                "status": status,
                "proxies": [p.to_json() for p in proxies] if proxies else None,
            }
            return json_response(status, payload)

        try:
            entries = _decode_populate(body)
        except GoJSONError as exc:
            return fail(400, f"bad request body: {exc}", None)
        for i, entry in enumerate(entries, start=1):
            if not entry["name"]:
                return fail(400, f"missing required field: name at proxy {i}", None)
            if not entry["upstream"]:
                return fail(400, f"missing required field: upstream at proxy {i}", None)
            if (too_long := _unaddressable(entry["name"], "proxy")) is not None:
                return fail(400, f"{too_long} at proxy {i}", None)
        created: list[Proxy] = []
        for entry in entries:
            proxy = Proxy(entry["name"], entry["listen"], entry["upstream"])
            try:
                created.append(await self.collection.add_or_replace(proxy, bool(entry["enabled"])))
            except ProxyError as exc:
                return fail(exc.status, exc.message, created)
        return json_response(201, {"proxies": [p.to_json() for p in created] if created else None})

    async def proxy_show(self, name: str, *, body: bytes) -> Response:
        return json_response(200, self.collection.get(name).to_json())

    async def proxy_update(self, name: str, *, body: bytes) -> Response:
        proxy = self.collection.get(name)
        try:
            fields = _decode_proxy(
                body,
                {"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream, "enabled": proxy.enabled},
            )
        except GoJSONError as exc:
            return bad_body(exc)
        listen, upstream, enabled = fields["listen"], fields["upstream"], bool(fields["enabled"])
        if listen != proxy.listen:
            try:
                split_host_port(listen)
            except ValueError as exc:
                return error_response(500, str(exc))
        if listen != proxy.listen or upstream != proxy.upstream:
            # Go: stop, take the new addresses, start again if (still) enabled.
            proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
            if enabled:
                await proxy.start()
        elif enabled != proxy.enabled:
            if enabled:
                await proxy.start()
            else:
                proxy.stop()
        return json_response(200, proxy.to_json())

    async def proxy_delete(self, name: str, *, body: bytes) -> Response:
        self.collection.remove(name)
        tap = self.taps.pop(name, None)
        if tap is not None:  # the proxy's connections are closed now: their lines are in
            tap.close()
        return Response(204)

    async def toxic_index(self, name: str, *, body: bytes) -> Response:
        proxy = self.collection.get(name)
        return json_response(200, [w.to_json() for w in proxy.toxics.all()])

    async def toxic_create(self, name: str, *, body: bytes) -> Response:
        proxy = self.collection.get(name)
        try:
            raw = _decode(body)
            if not isinstance(raw, dict):
                raise gojson.value_type_error(raw, "toxics.ToxicWrapper")
            name_v = _typed(raw, "name", str, "ToxicWrapper.name", "string", "")
            type_v = _typed(raw, "type", str, "ToxicWrapper.type", "string", "")
            stream_v = _typed(raw, "stream", str, "ToxicWrapper.stream", "string", "downstream")
            toxicity = _typed_number(raw, "toxicity", "ToxicWrapper.toxicity", 1.0)
            attrs_raw = raw.get("attributes")
            if attrs_raw is not None and not isinstance(attrs_raw, dict):
                raise gojson.field_type_error(attrs_raw, "ToxicWrapper.attributes", "toxics.NoopToxic")
        except GoJSONError as exc:
            return bad_body(exc)
        if stream_v.lower() not in ("upstream", "downstream"):
            return error_response(400, "stream was invalid, can be either upstream or downstream")
        if not name_v:
            name_v = f"{type_v}_{stream_v}"
        if (too_long := _unaddressable(name_v, "toxic")) is not None:
            return error_response(400, too_long)
        cls = lookup(type_v)
        if cls is None:
            return error_response(400, "invalid toxic type")
        if proxy.toxics.find(name_v) is not None:
            return error_response(409, "toxic already exists")
        try:
            attributes = _in_range(cls, cls.validate(attrs_raw))
        except GoJSONError as exc:
            return bad_body(exc)
        wrapper = ToxicWrapper(name_v, type_v, stream_v, toxicity, cls(attributes))
        proxy.toxics.add(wrapper)
        return json_response(200, wrapper.to_json())

    # ------------------------------------------------------------------ wire taps (ours, not Toxiproxy's)
    async def tap_index(self, *, body: bytes) -> Response:
        return json_response(200, [self.taps[name].to_json() for name in sorted(self.taps)])

    async def tap_create(self, *, body: bytes) -> Response:
        try:
            raw = _decode(body)
        except GoJSONError as exc:
            return bad_body(exc)
        problem = _tap_body_problem(raw)
        if problem:
            return error_response(400, problem)
        name, path, http = raw["proxy"], Path(raw["path"]), raw.get("http") is True
        proxy = self.collection.get(name)
        if name in self.taps:
            return error_response(409, f"proxy {name} is already tapped")
        try:
            if not path.parent.is_dir():
                return error_response(400, f"directory of path does not exist: {path.parent}")
            if path.is_dir():
                return error_response(400, f"path is a directory: {path}")
            writer = TapWriter(path)
        except (OSError, ValueError) as exc:
            return error_response(400, f"cannot open path {raw['path']}: {getattr(exc, 'strerror', None) or exc}")
        tap = Tap(name, path, http, writer)
        self.taps[name] = tap
        proxy.set_tap(tap)
        return json_response(201, tap.to_json())

    async def tap_delete(self, name: str, *, body: bytes) -> Response:
        tap = self.taps.pop(name, None)
        if tap is None:
            return error_response(404, "tap not found")
        proxy = self.collection.proxies.get(name)
        if proxy is not None and proxy.tap is tap:
            proxy.set_tap(None)
        tap.close()
        return Response(204)

    def _find_toxic(self, name: str, toxic: str) -> ToxicWrapper:
        proxy = self.collection.get(name)
        wrapper = proxy.toxics.find(toxic)
        if wrapper is None:
            raise ProxyError(404, "toxic not found")
        return wrapper

    async def toxic_show(self, name: str, toxic: str, *, body: bytes) -> Response:
        return json_response(200, self._find_toxic(name, toxic).to_json())

    async def toxic_update(self, name: str, toxic: str, *, body: bytes) -> Response:
        wrapper = self._find_toxic(name, toxic)
        cls = type(wrapper.toxic)
        try:
            raw = _decode(body)
            if not isinstance(raw, dict):
                raise gojson.value_type_error(raw, "struct { Attributes interface {}; Toxicity float32 }")
            attributes = _in_range(cls, cls.validate(raw.get("attributes"), wrapper.toxic.attributes))
            toxicity = _typed_number(raw, "toxicity", ".toxicity", wrapper.toxicity)
        except GoJSONError as exc:
            return bad_body(exc)
        await self.collection.get(name).toxics.update(wrapper, cls(attributes), toxicity)
        return json_response(200, wrapper.to_json())

    async def toxic_delete(self, name: str, toxic: str, *, body: bytes) -> Response:
        wrapper = self._find_toxic(name, toxic)
        await self.collection.get(name).toxics.remove(wrapper)
        return Response(204)


# ---------------------------------------------------------------------- body decoding


def _typed(raw: dict[str, Any], key: str, kind: type, field: str, go_type: str, default: Any) -> Any:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise gojson.field_type_error(value, field, go_type)
    return value


def _typed_number(raw: dict[str, Any], key: str, field: str, default: float) -> float:
    """A float32 field (toxicity): a number that fits, as Go's decoder requires."""
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise gojson.field_type_error(value, field, "float32")
    try:
        number = float(value)
        if not math.isfinite(number):
            raise OverflowError
        struct.pack("<f", number)
    except OverflowError:
        raise _range_error(value, field, "float32") from None
    return number


def _range_error(value: Any, field: str, go_type: str) -> GoJSONError:
    shown = f" {value}" if isinstance(value, int) or math.isfinite(value) else ""
    return GoJSONError(f"json: cannot unmarshal number{shown} into Go struct field {field} of type {go_type}")


INT64 = (-(1 << 63), (1 << 63) - 1)


def _in_range(cls: type[Toxic], attributes: dict[str, int | float]) -> dict[str, int | float]:
    """Reject attribute values Go could not hold (int64 / int on 64-bit, finite float64)."""
    for name, kind in cls.schema.items():
        value = attributes.get(name, 0)
        field = f"{cls.go_struct}.attributes.{name}"
        if kind is int and not INT64[0] <= value <= INT64[1]:
            raise _range_error(value, field, cls.go_int_type)
        if kind is float and not math.isfinite(value):
            raise _range_error(value, field, "float64")
    return attributes


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode(body: bytes) -> Any:
    """:func:`gojson.decode`, plus Go's limits: nesting too deep is an error, lone surrogates become U+FFFD."""
    try:
        value = gojson.decode(body)
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None
    if _SURROGATE_ESCAPE.search(body):
        value = _scrub(value)
    return value


def _scrub(root: Any) -> Any:
    """Replace lone surrogates in every string (keys too), iteratively (no recursion limit)."""
    def fix(v: Any) -> Any:
        if isinstance(v, str):
            return _SURROGATE.sub("\ufffd", v)
        if isinstance(v, dict | list):
            stack.append(v)
        return v

    stack: list[Any] = []
    root = fix(root)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            node[:] = [fix(v) for v in node]
        else:
            items = list(node.items())
            node.clear()
            node.update((fix(k), fix(v)) for k, v in items)
    return root


def _tap_body_problem(raw: Any) -> str | None:
    """Why a ``POST /harness/taps`` body is unusable, or ``None``."""
    if not isinstance(raw, dict):
        return 'body must be a JSON object {"proxy": name, "path": file, "http": bool}'
    for key in ("proxy", "path"):
        value = raw.get(key)
        if value is None:
            return f"missing required field: {key}"
        if not isinstance(value, str):
            return f"{key} must be a string, not {gojson.json_kind(value)}"
        if not value.strip():
            return f"{key} must not be blank"
    http = raw.get("http")
    if http is not None and not isinstance(http, bool):
        return f"http must be true or false, not {gojson.json_kind(http)}"
    return None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes | Response:
    """A chunked request body (extensions and trailers skipped); 413 past MAX_BODY."""
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            return Response(413, b"request body too large\n", TEXT)
        chunks.append(await reader.readexactly(size))
        await reader.readline()


def _proxy_fields(raw: dict[str, Any], defaults: dict[str, Any], struct: str) -> dict[str, Any]:
    out = dict(defaults)
    for key in ("name", "listen", "upstream"):
        out[key] = _typed(raw, key, str, f"{struct}.{key}", "string", defaults[key])
    out["enabled"] = _typed(raw, "enabled", bool, f"{struct}.enabled", "bool", defaults["enabled"])
    return out


def _unaddressable(name: str, what: str) -> str | None:
    """Why ``name`` could never be put in a URL of this API again (None: it can)."""
    size = len(quote(name, safe=""))
    if size > MAX_NAME_URL_BYTES:
        return f"{what} name too long: {size} bytes URL-encoded, at most {MAX_NAME_URL_BYTES}"
    return None


def _decode_proxy(body: bytes, defaults: dict[str, Any]) -> dict[str, Any]:
    raw = _decode(body)
    if not isinstance(raw, dict):
        raise gojson.value_type_error(raw, "toxiproxy.Proxy")
    return _proxy_fields(raw, defaults, "Proxy")


def _decode_populate(body: bytes) -> list[dict[str, Any]]:
    raw = _decode(body)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise gojson.value_type_error(raw, POPULATE_TYPE)
    entries = []
    for item in raw:
        if item is None:
            item = {}
        if not isinstance(item, dict):
            raise gojson.value_type_error(item, POPULATE_TYPE[2:])
        entries.append(_proxy_fields(item, {"name": "", "listen": "", "upstream": "", "enabled": True}, "Proxy"))
    return entries
