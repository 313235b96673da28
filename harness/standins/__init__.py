"""In-Python stand-ins for DynamoDB, Redis and the Anthropic Messages API.

Why: the harness must run on a CI box with no Docker, no AWS account and no API
key, yet still put *real* network hops (that Toxiproxy can break) between the
service and its dependencies. Each stand-in is a real server on loopback TCP:

* ``python -m harness.standins.dynamodb`` — moto with an indexed Query (``moto-indexed``),
* ``python -m harness.standins.redis`` — fakeredis's RESP server with TCP_NODELAY (``fakeredis``),
* ``python -m harness.standins.llm`` — Anthropic Messages API (``anthropic-standin``).

All take ``--host``/``--port`` (port 0 = any free port), print exactly one
ready line ``<name> listening on <url>`` once they accept connections, log to
stderr and exit 0 on SIGTERM/SIGINT. This module holds that shared plumbing and
imports nothing heavy, so each stand-in starts only what it needs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["configure_logging", "listen_arg_parser", "parse_listen_args", "serve_until_signal"]


def listen_arg_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--host``/``--port`` options every stand-in takes."""
    p = argparse.ArgumentParser(prog=f"python -m harness.standins.{name}", description=description)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="listen port, 0 = any free port")
    return p


def parse_listen_args(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse and validate (bad values exit 2 with a usage message, never a traceback)."""
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error("--port must be between 0 and 65535")
    return args


def configure_logging() -> None:
    """Log to stderr (``harness up`` redirects it to the component's log file)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


def serve_until_signal(name: str, url: str, stop: Callable[[], None]) -> int:
    """Print the ready line, block until SIGTERM/SIGINT, then call ``stop`` and return 0.

    Call only once the server already accepts connections: whoever starts us
    treats the ready line as "connect now".
    """
    done = threading.Event()
    log = logging.getLogger(f"harness.standins.{name}")

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"{name} listening on {url}", flush=True)
    while not done.wait(0.5):
        pass
    stop()
    log.info("stopped")
    return 0
