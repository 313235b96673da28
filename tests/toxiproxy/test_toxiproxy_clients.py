"""The real client libraries drive our server unchanged: toxiproxy-python and chaostoolkit-toxiproxy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from toxi_helpers import EchoServer, connect, recv_exact

from harness.toxiproxy import RunningServer


@pytest.fixture
def client_lib(toxi: RunningServer) -> Iterator[object]:
    import toxiproxy
    from toxiproxy.api import APIConsumer

    saved = (APIConsumer.host, APIConsumer.port)
    APIConsumer.host, APIConsumer.port = "127.0.0.1", toxi.port
    try:
        yield toxiproxy
    finally:
        APIConsumer.host, APIConsumer.port = saved


def _rt(port: int) -> float:
    with connect(port) as s:
        t0 = time.monotonic()
        s.sendall(b"hi")
        assert recv_exact(s, 2) == b"hi"
        return time.monotonic() - t0


def test_toxiproxy_python_full_cycle(client_lib: object, echo: EchoServer) -> None:
    from toxiproxy import Toxiproxy
    from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

    server = Toxiproxy()
    assert server.running()
    assert b"2.12.0" in server.version()
    proxy = server.create(upstream=echo.addr, name="redis", listen="127.0.0.1:0")
    port = int(proxy.listen.rsplit(":", 1)[1])
    assert port != 0 and "redis" in server.proxies()
    with pytest.raises(ProxyExists):
        server.create(upstream=echo.addr, name="redis")
    proxy.add_toxic(type="latency", attributes={"latency": 150})
    assert [t.name for t in proxy.toxics().values()] == ["latency_downstream"]
    assert 0.15 <= _rt(port) < 0.5
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="nosuch")
    proxy.destroy_toxic("latency_downstream")
    assert _rt(port) < 0.15
    proxy.disable()
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    proxy.enable()
    assert _rt(port) < 0.15
    assert server.reset()
    assert server.destroy(proxy)
    assert server.get_proxy("redis") is None
    from toxiproxy.api import APIConsumer

    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/redis")


def test_chaostoolkit_actions(toxi: RunningServer, echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaostoxi.proxy.actions import create_proxy, delete_proxy, disable_proxy, enable_proxy
    from chaostoxi.toxic.actions import create_latency_toxic, create_toxic, delete_toxic

    cfg: dict[str, object] = {"toxiproxy_url": toxi.url}
    monkeypatch.delenv("llm_PORT", raising=False)
    assert create_proxy(
        proxy_name="llm", upstream_host="127.0.0.1", upstream_port=echo.port,
        listen_host="127.0.0.1", listen_port=0, configuration=cfg,
    )
    port = int(str(cfg["llm_PORT"]))
    monkeypatch.delenv("llm_PORT", raising=False)
    # chaostoolkit may send "attributes": null; the server must accept it
    create_toxic(for_proxy="llm", toxic_name="nothing", toxic_type="noop", attributes=None, configuration=cfg)
    delete_toxic(for_proxy="llm", toxic_name="nothing", configuration=cfg)
    create_latency_toxic(for_proxy="llm", toxic_name="slow", latency=200, jitter=0, configuration=cfg)
    assert 0.2 <= _rt(port) < 0.6
    delete_toxic(for_proxy="llm", toxic_name="slow", configuration=cfg)
    assert _rt(port) < 0.2
    disable_proxy(proxy_name="llm", configuration=cfg)
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    enable_proxy(proxy_name="llm", configuration=cfg)
    assert _rt(port) < 0.2
    delete_proxy(proxy_name="llm", configuration=cfg)
    assert toxi.call(lambda: list(toxi.api.collection.proxies)) == []
