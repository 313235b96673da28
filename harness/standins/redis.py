"""Redis stand-in (backend ``fakeredis``): fakeredis's RESP server with Nagle's algorithm off.

Why: when ``redis-server`` is not installed, the harness still needs a real TCP
Redis that Toxiproxy can sit in front of. ``fakeredis.TcpFakeServer`` is one,
but it writes each reply with Nagle's algorithm on, so a small reply waits for
the client's delayed ACK: about 40 ms per round trip, which would swamp the
sub-millisecond cache path the design relies on (and any latency fault we
inject). Setting ``TCP_NODELAY`` on every accepted socket brings a round trip
back to well under a millisecond. Everything else is fakeredis as shipped.

Run: ``python -m harness.standins.redis --host 127.0.0.1 --port 0``; prints
``redis listening on redis://HOST:PORT`` once it accepts connections, logs to
stderr, exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from typing import Any

from fakeredis import TcpFakeServer

from harness.standins import configure_logging, listen_arg_parser, parse_listen_args, serve_until_signal
from harness.standins.base import BackgroundServer

log = logging.getLogger("harness.standins.redis")

NAME = "redis"


class NoDelayFakeServer(BackgroundServer, TcpFakeServer):
    """``TcpFakeServer`` whose accepted connections have ``TCP_NODELAY`` set.

    Handler threads are daemonic so a client that keeps its connection open
    cannot hold up shutdown (fakeredis's handlers also notice the shutdown event
    within their 10 ms poll interval).
    """

    standin_name = NAME

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        super().__init__((host, port), **kwargs)
        self.daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"redis://{host!s}:{port}"

    def _serve(self) -> None:
        self.serve_forever(poll_interval=0.1)

    def _shutdown(self) -> None:
        """Stop accepting and end the handler loops (returns once ``serve_forever`` has)."""
        self.shutdown()

    def _close(self) -> None:
        self.server_close()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = listen_arg_parser(NAME, "Redis stand-in: fakeredis TCP server with TCP_NODELAY.")
    return parse_listen_args(p, argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m harness.standins.redis``."""
    args = _parse_args(argv)
    configure_logging()
    try:
        server = NoDelayFakeServer(args.host, args.port)
    except OSError as exc:
        print(f"redis: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    server.start()
    log.info("fakeredis TCP server with TCP_NODELAY")
    return serve_until_signal(NAME, server.url, server.stop)


if __name__ == "__main__":
    sys.exit(main())
