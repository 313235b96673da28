"""Proxies: listeners, proxied connections and the toxic collection of each proxy.

Why: this is the object model behind the HTTP API, kept apart from HTTP so
it can be driven directly (config loading, tests).  It keeps Toxiproxy's
rules: a proxy that is enabled owns a bound listener (``listen`` then holds
the *resolved* address, e.g. ``localhost:0`` -> ``127.0.0.1:41673``); a
disabled proxy binds nothing and keeps ``listen`` as given; disabling or
deleting closes the listener and every open connection; the upstream is
dialled only when a client connects, and if that fails the client's connect
has already succeeded and it simply reads EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import socket
import struct
from typing import TYPE_CHECKING, Any, cast

from harness.toxiproxy.link import Link
from harness.toxiproxy.toxics.base import Toxic, ToxicWrapper

if TYPE_CHECKING:
    from harness.toxiproxy.tap import ConnTap, Tap

log = logging.getLogger(__name__)

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
WRITE_HIGH = 1 << 20
WRITE_LOW = 256 << 10


class ProxyError(Exception):
    """An error the API reports with a status code and Go's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AlreadyStarted(Exception):
    """``start()`` on a running proxy (ignored by reset, as in Go)."""


# --------------------------------------------------------------------------- addresses


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``; raises ValueError with Go's wording."""
    if "]" in addr or addr.startswith("["):
        if not addr.startswith("["):
            raise ValueError(f"address {addr}: unexpected ']' in address")
        end = addr.find("]")
        if end < 0:
            raise ValueError(f"address {addr}: missing ']' in address")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest:
            raise ValueError(f"address {addr}: missing port in address")
        if not rest.startswith(":"):
            raise ValueError(f"address {addr}: missing port in address")
        return host, rest[1:]
    idx = addr.rfind(":")
    if idx < 0:
        raise ValueError(f"address {addr}: missing port in address")
    host, port = addr[:idx], addr[idx + 1 :]
    if ":" in host:
        raise ValueError(f"address {addr}: too many colons in address")
    return host, port


def _parse_port(port: str, addr: str) -> int:
    if port == "":
        return 0
    if port.isdigit():
        value = int(port)
        if value > 65535:
            raise ValueError(f"address {addr}: invalid port")
        return value
    try:
        return socket.getservbyname(port, "tcp")
    except (OSError, ValueError):  # ValueError: NUL bytes, surrogates
        raise ValueError(f"lookup tcp/{port}: unknown port") from None


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _go_strerror(err: OSError) -> str:
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


async def bind_listener(listen: str) -> tuple[socket.socket, str]:
    """Bind a listening socket for ``listen``; return it and the resolved address.

    Errors are :class:`ProxyError` (500) carrying Go's ``net.Listen`` messages.
    """
    try:
        host, port_s = split_host_port(listen)
        port = _parse_port(port_s, listen)
    except ValueError as exc:
        raise ProxyError(500, f"listen tcp: {exc}") from None
    loop = asyncio.get_running_loop()
    family = socket.AF_INET
    ip: str
    wildcard = False
    if host in ("", "0.0.0.0", "::"):
        wildcard = True
        family, ip = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")
    else:
        try:
            parsed = ipaddress.ip_address(host)
            ip = str(parsed)
            family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
        except ValueError:
            try:
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except (OSError, ValueError):  # ValueError: names IDNA cannot encode (too long, empty label)
                raise ProxyError(500, f"listen tcp: lookup {host}: no such host") from None
            infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
            family = infos[0][0]
            ip = str(infos[0][4][0])
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if wildcard and family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            if wildcard and family == socket.AF_INET6 and exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                sock.close()
                family, ip = socket.AF_INET, "0.0.0.0"
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((ip, port))
            else:
                raise
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ProxyError(500, f"listen tcp {join_host_port(ip, port)}: bind: {_go_strerror(exc)}") from None
    bound_port = sock.getsockname()[1]
    shown = "[::]" if wildcard and family == socket.AF_INET6 else ip
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return sock, f"{shown}:{bound_port}"


# --------------------------------------------------------------------------- toxics


class ToxicCollection:
    """The toxics of one proxy, per direction in insertion order, applied to live links."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.chains: dict[str, list[ToxicWrapper]] = {UPSTREAM: [], DOWNSTREAM: []}

    def all(self) -> list[ToxicWrapper]:
        return [*self.chains[UPSTREAM], *self.chains[DOWNSTREAM]]

    def find(self, name: str) -> ToxicWrapper | None:
        for wrapper in self.all():
            if wrapper.name == name:
                return wrapper
        return None

    def _links(self, direction: str) -> list[Link]:
        links = []
        for conn in list(self.proxy.conns):
            link = conn.up if direction == UPSTREAM else conn.down
            if link is not None:
                links.append(link)
        return links

    def add(self, wrapper: ToxicWrapper) -> None:
        self.chains[wrapper.direction].append(wrapper)
        for link in self._links(wrapper.direction):
            link.add_toxic(wrapper)

    async def update(self, wrapper: ToxicWrapper, toxic: Toxic, toxicity: float) -> None:
        wrapper.toxic = toxic
        wrapper.toxicity = toxicity
        for link in self._links(wrapper.direction):
            await link.update_toxic(wrapper)

    async def remove(self, wrapper: ToxicWrapper) -> None:
        chain = self.chains[wrapper.direction]
        if wrapper in chain:
            chain.remove(wrapper)
        for link in self._links(wrapper.direction):
            await link.remove_toxic(wrapper)

    async def reset(self) -> None:
        for wrapper in self.all():
            await self.remove(wrapper)


# --------------------------------------------------------------------------- connections


class _Side(asyncio.Protocol):
    """Protocol for one socket of a proxied connection (client or upstream)."""

    __slots__ = ("conn", "pending", "pending_eof", "reader", "transport", "writer")

    def __init__(self, conn: Connection | None = None) -> None:
        self.conn = conn
        self.reader: Link | None = None  # link that reads this socket
        self.writer: Link | None = None  # link that writes this socket
        self.transport: asyncio.Transport | None = None
        # Bytes that arrive before the links exist (uvloop may start reading
        # after connection_made even though we paused there).
        self.pending: list[bytes] = []
        self.pending_eof = False

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if reader is not None:
            reader.feed(data)
            return
        self.pending.append(data)
        if self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        if self.reader is not None:
            self.reader.feed_eof()
        else:
            self.pending_eof = True
        return True

    def flush_pending(self) -> None:
        """Hand bytes that arrived before the links existed to the reading link."""
        reader = self.reader
        assert reader is not None
        pending, self.pending = self.pending, []
        for data in pending:
            reader.feed(data)
        if self.pending_eof:
            reader.feed_eof()

    def pause_writing(self) -> None:
        if self.writer is not None:
            self.writer.set_dst_paused(True)

    def resume_writing(self) -> None:
        if self.writer is not None:
            self.writer.set_dst_paused(False)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.conn.side_lost(self)


class _ClientSide(_Side):
    __slots__ = ("proxy",)

    def __init__(self, proxy: Proxy) -> None:
        super().__init__()
        self.proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tr = cast(asyncio.Transport, transport)  # uvloop transports don't subclass asyncio's
        tr.pause_reading()
        self.transport = tr
        self.conn = Connection(self.proxy, self)

    def eof_received(self) -> bool:
        conn = self.conn
        if conn is not None and conn.tap is not None:
            conn.tap.client_eof()
        return super().eof_received()


class _UpstreamSide(_Side):
    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)


class Connection:
    """A client connection, its upstream connection, and the two links between them."""

    def __init__(self, proxy: Proxy, client: _ClientSide) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: _UpstreamSide | None = None
        self.up: Link | None = None
        self.down: Link | None = None
        self.linger0 = False
        self.closed = False
        self.tap: ConnTap | None = proxy.tap.open_connection() if proxy.tap is not None else None
        assert client.transport is not None
        client.transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        proxy.conns.add(self)
        self._dial_task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(self._dial())

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        client_t = self.client.transport
        assert client_t is not None
        try:
            host, port_s = split_host_port(self.proxy.upstream)
            port = _parse_port(port_s, self.proxy.upstream)
            _t, side = await loop.create_connection(lambda: _UpstreamSide(self), host or "127.0.0.1", port)
        except (OSError, ValueError) as exc:
            log.info("proxy %s: upstream %s unreachable: %s", self.proxy.name, self.proxy.upstream, exc)
            self._dial_task = None
            self.close_now()
            return
        except asyncio.CancelledError:
            self._dial_task = None
            self.close_now()
            raise
        self._dial_task = None
        up_t = side.transport
        assert up_t is not None
        if self.closed or client_t.is_closing():
            up_t.close()
            self.close_now()
            return
        self.upstream = side
        up_t.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        toxics = self.proxy.toxics
        up_chain = list(toxics.chains[UPSTREAM])
        down_chain = list(toxics.chains[DOWNSTREAM])
        if any(w.type == "reset_peer" for w in (*up_chain, *down_chain)):
            self.linger0 = True
            for t in (client_t, up_t):
                sock = t.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.up = Link(self, UPSTREAM, client_t, up_t, up_chain)
        self.down = Link(self, DOWNSTREAM, up_t, client_t, down_chain)
        self.up.other = self.down
        self.down.other = self.up
        self.client.reader = self.up
        self.client.writer = self.down
        side.reader = self.down
        side.writer = self.up
        if self.tap is not None:
            self._hook_tap()
        self.up.start()
        self.down.start()
        self.client.flush_pending()
        side.flush_pending()

    def attach_tap(self, tap: Tap | None) -> None:
        """Start (or with ``None`` stop) tapping this connection, which may already carry traffic."""
        if self.closed:
            return
        self.tap = tap.open_connection(live=self.up is not None) if tap is not None else None
        self._hook_tap()

    def _hook_tap(self) -> None:
        tap = self.tap if self.tap is not None and self.tap.parsing else None
        if self.up is not None:
            self.up.on_read = tap.sent if tap is not None else None
        if self.down is not None:
            self.down.on_write = tap.received if tap is not None else None

    def close_transport(self, transport: asyncio.Transport) -> None:
        """Close one socket: RST if the connection started with reset_peer, else FIN after flush."""
        if transport.is_closing() and not self.linger0:
            return
        if self.linger0:
            transport.abort()
        else:
            transport.close()

    def link_finished(self) -> None:
        if self.up is not None and self.down is not None and self.up.finished and self.down.finished:
            self._cleanup()

    def side_lost(self, side: _Side) -> None:
        if side.reader is not None:
            side.reader.feed_eof()
        elif self.up is None:
            self.close_now()

    def close_now(self) -> None:
        """Drop the connection at once (proxy disabled/deleted, upstream unreachable)."""
        if self.closed:
            return
        self.closed = True
        if self._dial_task is not None:
            self._dial_task.cancel()
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None:
                self.close_transport(side.transport)
        for link in (self.up, self.down):
            if link is not None:
                link.finished = True
        self._cleanup()

    def _cleanup(self) -> None:
        self.closed = True
        for link in (self.up, self.down):
            if link is not None:
                link.cancel_stubs()
        self.proxy.conns.discard(self)
        tap, self.tap = self.tap, None
        if tap is not None:
            tap.closed()


# --------------------------------------------------------------------------- proxies


class Proxy:
    """A named listener forwarding to ``upstream`` through its toxics."""

    def __init__(self, name: str, listen: str, upstream: str) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicCollection(self)
        self.conns: set[Connection] = set()
        self.tap: Tap | None = None
        self._server: asyncio.AbstractServer | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [w.to_json() for w in self.toxics.all()],
        }

    async def start(self) -> None:
        if self.enabled:
            raise AlreadyStarted()
        sock, resolved = await bind_listener(self.listen)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _ClientSide(self), sock=sock)
        except OSError as exc:
            sock.close()
            raise ProxyError(500, f"listen tcp {resolved}: {_go_strerror(exc)}") from None
        self.listen = resolved
        self.enabled = True

    def set_tap(self, tap: Tap | None) -> None:
        """Tap new and open connections (``None``: stop tapping; the caller closes the tap)."""
        self.tap = tap
        for conn in list(self.conns):
            conn.attach_tap(tap)

    def stop(self) -> None:
        """Close the listener and every connection; the proxy keeps its settings."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.conns):
            conn.close_now()
        self.enabled = False


class ProxyCollection:
    """All proxies by name (the server's state)."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ProxyError(404, "proxy not found")
        return proxy

    async def add(self, proxy: Proxy, start: bool) -> None:
        if proxy.name in self.proxies:
            raise ProxyError(409, "proxy already exists")
        if start:
            await proxy.start()
        self.proxies[proxy.name] = proxy

    async def add_or_replace(self, proxy: Proxy, start: bool) -> Proxy:
        existing = self.proxies.get(proxy.name)
        if existing is not None:
            if existing.upstream == proxy.upstream and await _same_listen(existing.listen, proxy.listen):
                return existing
            existing.stop()
            proxy.tap, existing.tap = existing.tap, None  # a tap belongs to the proxy's name
            del self.proxies[proxy.name]
        if start:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    def remove(self, name: str) -> None:
        proxy = self.get(name)
        proxy.stop()
        del self.proxies[name]

    def clear(self) -> None:
        for proxy in list(self.proxies.values()):
            proxy.stop()
        self.proxies.clear()


async def _same_listen(current: str, wanted: str) -> bool:
    """Whether ``wanted`` names the address ``current`` already has (``localhost:P`` == ``127.0.0.1:P``)."""
    if current == wanted:
        return True
    try:
        ch, cp = split_host_port(current)
        wh, wp = split_host_port(wanted)
    except ValueError:
        return False
    if cp != wp or wp in ("", "0"):
        return False
    if wh in ("", "0.0.0.0", "::") and ch in ("[::]", "::", "0.0.0.0", ""):
        return True
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(wh, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(str(i[4][0]) == ch for i in infos)
