"""docker/toxiproxy.json, loaded into a real Toxiproxy-compatible server.

Why: Shopify's server reads the same JSON array with ``-config`` in compose.
Loading it into the project's own server (listen addresses rewritten to
127.0.0.1:0, since compose's 0.0.0.0 ports are only free inside the
container) proves the file is well-formed, that the proxies come up under the
names the harness injects faults into, and that those faults apply to them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.delivery import helpers as h

READY = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


def _reader(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture
def toxiproxy_from_config(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, object]]]]:
    if importlib.util.find_spec("harness.toxiproxy.__main__") is None:
        pytest.skip("python -m harness.toxiproxy does not exist yet")
    proxies = h.toxiproxy_config()
    local = [{**p, "listen": "127.0.0.1:0"} for p in proxies]
    config = tmp_path / "toxiproxy.json"
    config.write_text(json.dumps(local))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.toxiproxy", "--host", "127.0.0.1", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=h.REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        seen: list[str] = []
        url = None
        while url is None:
            try:
                line = lines.get(timeout=20)
            except queue.Empty:
                pytest.fail(f"toxiproxy server did not say it was listening within 20 s: {seen}")
            seen.append(line)
            match = READY.search(line)
            if match:
                url = match.group(1)
            elif proc.poll() is not None and lines.empty():
                pytest.fail(f"toxiproxy server exited {proc.returncode}: {seen}")
        yield url, proxies
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.timeout(60)
def test_config_loads_with_the_proxy_names_the_harness_uses(
    toxiproxy_from_config: tuple[str, list[dict[str, object]]],
) -> None:
    from harness.chaos.faults import DownFault, LatencyFault
    from harness.toxiclient import ToxiproxyClient

    url, proxies = toxiproxy_from_config
    with ToxiproxyClient(url) as client:
        loaded = client.proxies()
        assert set(loaded) == {"dynamodb", "redis", "llm"}
        for proxy in proxies:
            got = loaded[str(proxy["name"])]
            assert got["upstream"] == proxy["upstream"]
            assert got["enabled"] is True
            host, _, port = str(got["listen"]).rpartition(":")
            assert host == "127.0.0.1" and int(port) > 0
        # The faults `harness chaos --toxiproxy URL` applies, against these proxies.
        latency = LatencyFault("dynamodb", 2000)
        latency.apply(client)
        assert [t["name"] for t in client.toxics("dynamodb")] == [latency.toxic_name]
        latency.rollback(client)
        assert client.toxics("dynamodb") == []
        down = DownFault("redis")
        down.apply(client)
        assert client.proxy("redis")["enabled"] is False
        down.rollback(client)
        assert client.proxy("redis")["enabled"] is True
