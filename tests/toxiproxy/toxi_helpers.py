"""Helpers for the fault-proxy tests: a real threaded echo server, an API client, socket readers.

(The test directory is deliberately not a package: as a package named
``toxiproxy`` it would shadow the ``toxiproxy-python`` client under test.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from typing import Any


class EchoServer:
    """Echoes every byte back; closes its side when the client half-closes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _echo(self, conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._accept.join(2)
        self.sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        for t in self._threads:
            t.join(2)


class Api:
    """Minimal HTTP client for the API returning (status, content-type, body, headers)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def raw(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str | None, bytes, http.client.HTTPMessage]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("Content-Type"), data, resp.msg
        finally:
            conn.close()

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, _ct, data, _h = self.raw(method, path, body)
        return status, (json.loads(data) if data else None)


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_outcome(s: socket.socket, timeout: float) -> tuple[str, bytes, float]:
    """Read until EOF/RST/timeout: ('EOF'|'RST'|'timeout', data, elapsed)."""
    s.settimeout(timeout)
    t0 = time.monotonic()
    data = bytearray()
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return "EOF", bytes(data), time.monotonic() - t0
            data += chunk
    except ConnectionResetError:
        return "RST", bytes(data), time.monotonic() - t0
    except TimeoutError:
        return "timeout", bytes(data), time.monotonic() - t0


def listen_port(proxy_json: dict[str, Any]) -> int:
    return int(proxy_json["listen"].rsplit(":", 1)[1])
