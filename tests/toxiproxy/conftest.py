"""Fixtures: a real TCP echo server and the fault proxy running in a background thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toxi_helpers import Api, EchoServer

from harness.toxiproxy import RunningServer, run_in_thread


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def toxi() -> Iterator[RunningServer]:
    server = run_in_thread("127.0.0.1", 0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(toxi: RunningServer) -> Api:
    return Api(toxi.port)
