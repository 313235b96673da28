"""Wire tap: log what crosses a proxy as JSON lines (``POST /harness/taps``).

The service's event log says what it *believes* it did; the analyzers want
the DynamoDB calls it actually made, which only the proxy in front of DynamoDB
sees.  Real Toxiproxy has no tap (it answers ``/harness/taps`` 404 and the
harness falls back to the event log).  The tap watches the client side of the
proxy — requests as read from the client, before any upstream toxic; responses
as written to it, after every downstream toxic — so a line records what the
service sent and received, and when, injected latency included.  It sits on
the data path, so it never alters, delays or breaks anything: it sees each
chunk after forwarding, bytes it cannot parse end parsing (not forwarding) for
that connection, and an untapped proxy pays two ``is None`` tests per chunk.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import IO, Any

from harness.records import WIRE_COLUMNS

log = logging.getLogger(__name__)

WIRE_KEYS = tuple(WIRE_COLUMNS)
FLUSH_S = 0.5
FLUSH_LINES = 2000
MAX_HEAD = 64 << 10
MAX_START = 8 << 10
MAX_LINE = 8 << 10
UNANSWERED = "connection closed before response"
INCOMPLETE = "connection closed before the response was complete"
LIVE = "tap attached to an already open connection"

# Body framing returned by a head handler: >= 0 is a Content-Length.
CHUNKED = -1
UNTIL_CLOSE = -2
TUNNEL = -3

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*")
_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERSIONS = frozenset({"HTTP/1.1", "HTTP/1.0"})
_TOKEN_STR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_WANTED = re.compile(r"\r\n(content-length|transfer-encoding|x-amz-target):([^\r\n]*)", re.IGNORECASE)
_BAD_HEADER = re.compile(r"\r\n(?![!#$%&'*+.^_`|~0-9A-Za-z-]+:)")
_STATUS = re.compile(r"[1-5][0-9][0-9]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_REQUEST_START = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} [^\x00-\x20\x7f]+ HTTP/1\.[01]\r\n")
_conn_ids = itertools.count(1)


class ParseError(ValueError):
    """The bytes are not (or no longer) an HTTP/1.x message stream."""


def _show(data: bytes | bytearray) -> str:
    return repr(bytes(data[:24]))


# --------------------------------------------------------------------------- HTTP/1.x heads


@dataclass(slots=True)
class Head:
    """A parsed request or status line (``parts``) and the few headers the tap uses.

    Only Content-Length, Transfer-Encoding and X-Amz-Target matter, so one
    regex pass over the lower-cased head picks them out instead of building a
    dict of every header per message (repeated fields are joined with ``", "``).
    """

    parts: tuple[str, str, str]
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (one of :data:`_WANTED`, lower case)."""
        return self.headers.get(name)


def parse_start_line(line: str, is_request: bool) -> tuple[str, str, str]:
    """Validate a request line (``METHOD target HTTP/1.x``) or status line (``HTTP/1.x NNN reason``)."""
    if is_request:
        parts = line.split(" ")
        if len(parts) == 3 and parts[2] in _VERSIONS and parts[1] and _TOKEN_STR.fullmatch(parts[0]):
            return parts[0], parts[1], parts[2]
        raise ParseError(f"not an HTTP/1.x request line: {line[:40]!r}")
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[0] in _VERSIONS and _STATUS.fullmatch(parts[1]):
        return parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    raise ParseError(f"not an HTTP/1.x status line: {line[:40]!r}")


def parse_head(content: bytes, is_request: bool) -> Head | None:
    """Parse a message head (without the blank line); ``None`` for stray empty lines."""
    text = content.decode("latin-1").lstrip("\r\n")
    if not text:
        return None
    end = text.find("\r\n")
    parts = parse_start_line(text if end < 0 else text[:end], is_request)
    if end >= 0:
        bad = _BAD_HEADER.search(text, end)
        if bad is not None:
            raise ParseError(f"malformed header line: {text[bad.end():bad.end() + 40]!r}")
    headers: dict[str, str] = {}
    for name, value in _WANTED.findall(text):
        name = name.lower()
        value = value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Head(parts, headers)


def _content_length(value: str) -> int:
    if value.isdigit() and value.isascii():
        return int(value)
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise ParseError(f"conflicting Content-Length: {value[:40]!r}")
    text = values.pop()
    if not text.isdigit() or not text.isascii():
        raise ParseError(f"bad Content-Length: {text[:40]!r}")
    return int(text)


def _is_chunked(head: Head) -> bool | None:
    """``True`` chunked, ``False`` other transfer coding, ``None`` no Transfer-Encoding."""
    te = head.header("transfer-encoding")
    if te is None:
        return None
    return te.rsplit(",", 1)[-1].strip().lower() == "chunked"


def request_framing(head: Head) -> int:
    """Body framing of a request (RFC 9112 §6.3): chunked, Content-Length, else none."""
    chunked = _is_chunked(head)
    if chunked is False:
        raise ParseError("request with a transfer coding other than chunked")
    if chunked:
        return CHUNKED
    length = head.header("content-length")
    return 0 if length is None else _content_length(length)


def response_framing(head: Head, status: int, method: str) -> int:
    """Body framing of a response to ``method`` (RFC 9112 §6.3)."""
    if status == 101 or (method == "CONNECT" and 200 <= status < 300):
        return TUNNEL
    if method == "HEAD" or status < 200 or status in (204, 304):
        return 0
    chunked = _is_chunked(head)
    if chunked:
        return CHUNKED
    length = head.header("content-length")
    if chunked is None and length is not None:
        return _content_length(length)
    return UNTIL_CLOSE


# --------------------------------------------------------------------------- framer

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _TUNNEL = range(8)


class HttpFramer:
    """Splits one direction's byte stream into HTTP/1.x messages, incrementally.

    ``on_head(head)`` is called when a message head is complete and returns
    its body framing; ``on_end()`` when the message (body included) is.  Body
    bytes are only counted, never copied.  Raises :class:`ParseError`.
    """

    __slots__ = ("_buf", "_left", "_on_end", "_on_head", "_state", "_steps", "in_message", "is_request")

    def __init__(self, is_request: bool, on_head: Callable[[Head], int], on_end: Callable[[], None]) -> None:
        self.is_request = is_request
        self.in_message = False
        self._on_head = on_head
        self._on_end = on_end
        self._buf = bytearray()
        self._state = _HEAD
        self._left = 0
        self._steps: tuple[Callable[[bytes, int], int], ...] = (
            self._head, self._body, self._chunk_size, self._body, self._chunk_end, self._trailer,
            self._rest, self._rest,
        )

    @property
    def until_close(self) -> bool:
        """The current message's body runs to the end of the connection."""
        return self._state == _UNTIL_CLOSE

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        steps = self._steps
        while pos < n:
            pos = steps[self._state](data, pos)

    # ------------------------------------------------------------ helpers
    def _until(self, data: bytes, pos: int, sep: bytes, limit: int) -> tuple[bytes | None, int]:
        """Bytes up to ``sep`` (consumed), buffering across chunks; ``None`` if not there yet."""
        buf = self._buf
        if not buf:
            idx = data.find(sep, pos)
            if idx >= 0:
                if idx - pos > limit:
                    raise ParseError(f"line or head longer than {limit} bytes")
                return data[pos:idx], idx + len(sep)
            buf += data[pos:] if pos else data
        else:
            old = len(buf)
            buf += data[pos:] if pos else data
            idx = buf.find(sep, max(0, old - len(sep) + 1))
            if idx >= 0:
                content = bytes(buf[:idx])
                buf.clear()
                return content, pos + idx + len(sep) - old
        if len(buf) > limit:
            raise ParseError(f"line or head longer than {limit} bytes")
        return None, len(data)

    def _check_partial_head(self) -> None:
        """Reject garbage early instead of buffering up to MAX_HEAD of it."""
        buf = self._buf.lstrip(b"\r\n")
        end = buf.find(b"\r\n")
        if end >= 0:
            parse_start_line(bytes(buf[:end]).decode("latin-1"), self.is_request)
            return
        if len(buf) > MAX_START or _CTL.search(buf[:-1] if buf.endswith(b"\r") else buf):
            raise ParseError(f"not HTTP/1.x: {_show(buf)}")
        if self.is_request:
            method = buf.split(b" ", 1)[0]
            if len(method) > 32 or not _TOKEN.fullmatch(method):
                raise ParseError(f"not an HTTP/1.x request: {_show(buf)}")
        elif b"HTTP/1."[: len(buf)] != buf[:7]:
            raise ParseError(f"not an HTTP/1.x response: {_show(buf)}")

    def _end(self) -> None:
        self._state = _HEAD
        self.in_message = False
        self._on_end()

    # ------------------------------------------------------------ states
    def _head(self, data: bytes, pos: int) -> int:
        content, pos = self._until(data, pos, b"\r\n\r\n", MAX_HEAD)
        if content is None:
            self._check_partial_head()
            return pos
        head = parse_head(content, self.is_request)
        if head is None:
            return pos
        framing = self._on_head(head)
        self.in_message = True
        if framing > 0:
            self._state, self._left = _BODY, framing
        elif framing == 0:
            self._end()
        else:
            self._state = {CHUNKED: _CHUNK_SIZE, UNTIL_CLOSE: _UNTIL_CLOSE}.get(framing, _TUNNEL)
        return pos

    def _body(self, data: bytes, pos: int) -> int:
        take = min(self._left, len(data) - pos)
        self._left -= take
        if self._left == 0:
            if self._state == _CHUNK_DATA:
                self._state = _CHUNK_END
            else:
                self._end()
        return pos + take

    def _chunk_size(self, data: bytes, pos: int) -> int:
        line, pos = self._until(data, pos, b"\r\n", MAX_LINE)
        if line is None:
            return pos
        size = line.split(b";", 1)[0].strip(b" \t")
        if not _HEX.fullmatch(size):
            raise ParseError(f"bad chunk size line: {_show(line)}")
        self._left = int(size, 16)
        self._state = _CHUNK_DATA if self._left else _TRAILER
        return pos

    def _chunk_end(self, data: bytes, pos: int) -> int:
        line, pos = self._until(data, pos, b"\r\n", 2)
        if line is None:
            return pos
        if line:
            raise ParseError(f"chunk not followed by CRLF: {_show(line)}")
        self._state = _CHUNK_SIZE
        return pos

    def _trailer(self, data: bytes, pos: int) -> int:
        line, pos = self._until(data, pos, b"\r\n", MAX_LINE)
        if line == b"":
            self._end()
        return pos

    def _rest(self, data: bytes, pos: int) -> int:
        return len(data)


# --------------------------------------------------------------------------- output


class TapWriter:
    """Buffered JSON-lines appender, flushed every :data:`FLUSH_S` s, when large, and on close.

    Write errors (disk full, file removed) never reach the data path: they are
    logged once, kept in :attr:`error`, and the lines are dropped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lines: list[str] = []
        self.written = 0
        self.error: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._arm()

    def _arm(self) -> None:
        self._timer = self._loop.call_later(FLUSH_S, self._tick)

    def _tick(self) -> None:
        self.flush()
        if self._file is not None:
            self._arm()

    @property
    def queued(self) -> int:
        """Lines not yet written."""
        return len(self._lines)

    def write(self, line: str) -> None:
        """Queue one JSON text (without the newline)."""
        if self._file is None:
            return
        self._lines.append(line)
        if len(self._lines) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if not lines or self._file is None:
            return
        try:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
            self.written += len(lines)
        except (OSError, ValueError) as exc:
            if self.error is None:
                log.warning("tap %s: cannot write: %s", self.path, exc)
            self.error = str(exc)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self.error = str(exc)
            self._file = None


# --------------------------------------------------------------------------- taps


@dataclass(slots=True)
class Pending:
    """A request seen on the wire, waiting for its response."""

    seq: int
    method: str
    path: str
    target: str | None
    request_ts: float
    json: str = ""  # '"seq":..,"method":..,"path":..,"target":..' for its lines, encoded once

    def __post_init__(self) -> None:
        self.json = (f'"seq":{self.seq},"method":{_str(self.method)},"path":{_str(self.path)},'
                     f'"target":{_str(self.target)}')


@dataclass
class Tap:
    """One proxy's tap: where lines go and whether HTTP is parsed.

    Each line has exactly the keys of :data:`WIRE_KEYS` (the analyzers read them
    as ``harness.records.WIRE_COLUMNS``). How requests and responses pair, and
    what a connection that ends early logs, is in docs/contracts.md under the
    run directory's ``taps/dynamodb.jsonl``.
    """

    proxy: str
    path: Path
    http: bool
    writer: TapWriter
    started_at: float = field(default_factory=time.time)
    connections: int = 0
    _proxy_json: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._proxy_json = _str(self.proxy)

    def to_json(self) -> dict[str, Any]:
        return {
            "proxy": self.proxy, "path": str(self.path), "http": self.http, "started_at": self.started_at,
            "connections": self.connections, "lines": self.writer.written + self.writer.queued,
            "error": self.writer.error,
        }

    def open_connection(self, live: bool = False) -> ConnTap:
        """A tap for one (new, or ``live`` = already open) proxied connection; logs its ``open``."""
        self.connections += 1
        conn = ConnTap(self, next(_conn_ids), live)
        self.line(conn.id, "open", error=LIVE if live else None)
        return conn

    def line(self, conn: int, event: str, req: Pending | None = None, *, seq: int | None = None,
             ts: float | None = None, status: int | None = None, error: str | None = None) -> None:
        """Queue one line; ``req`` fills seq/method/path/target/request_ts (and duration for responses).

        Formatted by hand (keys in :data:`WIRE_KEYS` order, strings through the
        C-accelerated JSON string encoder): several times cheaper per line than
        ``json.dumps`` of a dict, and this runs twice per tapped request.
        """
        now = time.time() if ts is None else ts
        if req is None:
            mid = (f'"seq":{_num(seq)},"method":null,"path":null,"target":null,"status":{_num(status)},'
                   '"request_ts":null,"duration_ms":null')
        else:
            duration = round((now - req.request_ts) * 1000.0, 3) if event == "response" else None
            mid = f'{req.json},"status":{_num(status)},"request_ts":{req.request_ts!r},"duration_ms":{_num(duration)}'
        self.writer.write(f'{{"ts":{now!r},"proxy":{self._proxy_json},"conn":{conn},"event":"{event}",{mid},'
                          f'"error":{"null" if error is None else _str(error)}}}')

    def close(self) -> None:
        self.writer.close()


class ConnTap:
    """Per-connection parser state: requests from the client, responses to it, paired in order."""

    __slots__ = ("_closed", "_interim", "_requests", "_responses", "_status", "dead", "id", "pending", "seq",
                 "synced", "tap")

    def __init__(self, tap: Tap, conn_id: int, live: bool) -> None:
        self.tap = tap
        self.id = conn_id
        self.pending: deque[Pending] = deque()
        self.seq = 0
        self.synced = not live
        self.dead = not tap.http
        self._closed = False
        self._status: int | None = None
        self._interim = False
        self._requests = HttpFramer(True, self._on_request, _nothing)
        self._responses = HttpFramer(False, self._on_response_head, self._on_response_end)

    @property
    def parsing(self) -> bool:
        """Whether the links should hand this tap their bytes at all."""
        return self.tap.http

    # ------------------------------------------------------------ link hooks
    def sent(self, data: bytes) -> None:
        """Bytes read from the client (client -> upstream)."""
        if self.dead:
            return
        if not self.synced:
            if not _REQUEST_START.match(data):
                return
            self.synced = True
        try:
            self._requests.feed(data)
        except Exception as exc:
            self._fail(True, exc)

    def received(self, data: bytes) -> None:
        """Bytes written to the client (upstream -> client)."""
        if self.dead or not self.synced:
            return
        try:
            self._responses.feed(data)
        except Exception as exc:
            self._fail(False, exc)

    def client_eof(self) -> None:
        """The client closed its side: whatever it is still owed, it will not read.

        HTTP/1.1 clients do not half-close; a FIN from one means it gave up
        (a timeout) or is done, so responses the proxy would deliver later
        (e.g. held by a latency toxic) count as unanswered.
        """
        self._settle()

    def closed(self) -> None:
        """The connection is gone: settle pending requests, log ``close``."""
        if self._closed:
            return
        self._closed = True
        self._settle()
        self.tap.line(self.id, "close")

    def _settle(self) -> None:
        """Log every pending request as answered-in-part or unanswered; stop parsing."""
        if not self.dead:
            if self._responses.in_message and self._status is not None and self.pending:
                error = None if self._responses.until_close else INCOMPLETE
                self.tap.line(self.id, "response", self.pending.popleft(), status=self._status, error=error)
            while self.pending:
                self.tap.line(self.id, "response", self.pending.popleft(), error=UNANSWERED)
        self.dead = True

    # ------------------------------------------------------------ parser callbacks
    def _on_request(self, head: Head) -> int:
        method, target, _version = head.parts
        framing = request_framing(head)
        req = Pending(self.seq, method, target.split("?", 1)[0], head.header("x-amz-target"), time.time())
        self.seq += 1
        self.pending.append(req)
        self.tap.line(self.id, "request", req, ts=req.request_ts)
        return framing

    def _on_response_head(self, head: Head) -> int:
        if not self.pending:
            raise ParseError(f"response {head.parts[1]} without a request")
        status = int(head.parts[1])
        if 100 <= status < 200 and status != 101:
            self._interim = True
            return 0
        framing = response_framing(head, status, self.pending[0].method)
        self._status = status
        if framing == TUNNEL:  # the connection is no longer HTTP: log the answer, stop parsing
            self.tap.line(self.id, "response", self.pending.popleft(), status=status)
            self.dead = True
        return framing

    def _on_response_end(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self.dead or not self.pending:
            return
        self.tap.line(self.id, "response", self.pending.popleft(), status=self._status)
        self._status = None

    def _fail(self, request_side: bool, exc: Exception) -> None:
        """One line saying why, then no more parsing on this connection (bytes still flow)."""
        self.dead = True
        if not isinstance(exc, ParseError):
            log.error("tap %s: parser failed on connection %d", self.tap.proxy, self.id, exc_info=exc)
        if request_side:
            self.tap.line(self.id, "request", seq=self.seq,
                          error=f"unparseable request bytes: {exc}; tap stopped parsing this connection")
            return
        self.tap.line(self.id, "response", self.pending[0] if self.pending else None,
                      error=f"unparseable response bytes: {exc}; tap stopped parsing this connection")


def _nothing() -> None:
    return None


def _str(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _num(value: float | None) -> str:
    return "null" if value is None else repr(value)
