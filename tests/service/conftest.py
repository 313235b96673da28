"""Session-wide real dependencies for the service tests: redis-server, moto's DynamoDB server, an LLM."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from reference_service.config import ServiceConfig

from .helpers import FakeLLM, ServerThread, TcpProxy, redis_server


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    with redis_server() as port:
        yield port


@pytest.fixture(scope="session")
def moto_port() -> Iterator[int]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield int(server.get_host_and_port()[1])
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llm() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    thread = ServerThread(fake.app).start()
    try:
        yield fake, thread.url
    finally:
        thread.stop()


@pytest.fixture()
def dynamo_proxy(moto_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", moto_port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture()
def redis_proxy(redis_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", redis_port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture()
def make_config(
    dynamo_proxy: TcpProxy, redis_proxy: TcpProxy, llm: tuple[FakeLLM, str], tmp_path: Path
):  # type: ignore[no-untyped-def]
    """A config through both proxies with a fresh table and compressed breaker timings."""
    fake, llm_url = llm
    fake.fail_status = None
    fake.reply = None

    def build(**overrides: object) -> ServiceConfig:
        values: dict[str, object] = {
            "dynamodb_url": f"http://127.0.0.1:{dynamo_proxy.port}",
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "llm_url": llm_url,
            "table_name": f"ChatSessions-{uuid.uuid4().hex[:8]}",
            "llm_max_retries": 0,
            "llm_timeout_s": 5.0,
            "dynamo_timeout_ms": 150.0,
            "redis_timeout_ms": 150.0,
            "breaker_threshold": 3,
            "breaker_window_s": 5.0,
            "breaker_open_s": 0.5,
            "outbox_retry_s": 0.1,
            "cookie_secret": "test-secret",
        }
        values.update(overrides)
        return ServiceConfig(**values)  # type: ignore[arg-type]

    return build
