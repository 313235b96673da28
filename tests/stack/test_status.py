"""``harness status`` against a Toxiproxy API we control: what it reports, and when it fails.

No stack is started: a state file names a tiny HTTP server on a free loopback
port as the stack's Toxiproxy (and service), so each test decides what the API
answers. The CLI runs as a subprocess, exactly as a user would run it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.breaker_timings import QUICK
from harness.stack.lifecycle import StackStatus, status
from harness.state import Component, StackState, save_state
from tests.stack.test_lifecycle import harness

PROXIES = {
    "dynamodb": {"name": "dynamodb", "enabled": True, "listen": "127.0.0.1:41001", "upstream": "127.0.0.1:41002",
                 "toxics": [{"name": "latency_downstream", "type": "latency", "stream": "downstream",
                             "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 0}}]},
    "redis": {"name": "redis", "enabled": False, "listen": "127.0.0.1:41003", "upstream": "127.0.0.1:41004",
              "toxics": []},
}


class FakeToxiproxy(ThreadingHTTPServer):
    """Answers ``GET /version`` and ``/healthz``; ``GET /proxies`` with :data:`PROXIES` or ``proxies_status``."""

    proxies_status = 200


class _Handler(BaseHTTPRequestHandler):
    server: FakeToxiproxy

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        body: object
        if self.path == "/proxies" and self.server.proxies_status != 200:
            code, body = self.server.proxies_status, {"error": "proxies are on fire", "status": 500}
        elif self.path == "/proxies":
            code, body = 200, PROXIES
        elif self.path == "/version":
            code, body = 200, {"version": "2.12.0"}
        elif self.path == "/healthz":
            code, body = 200, {"status": "ok"}
        else:
            code, body = 404, {"error": "not found"}
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def api() -> Iterator[FakeToxiproxy]:
    server = FakeToxiproxy(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def home(tmp_path: Path, api: FakeToxiproxy) -> Path:
    url = f"http://127.0.0.1:{api.server_address[1]}"
    path = tmp_path / "stack"
    save_state(StackState(variant="seed", home=str(path), created_at=1764262800.0, breaker=QUICK, components={
        "toxiproxy": Component(backend="toxiproxy-server", url=url),
        "service": Component(backend="reference_service[seed]", url=url, event_log=str(path / "events.jsonl")),
    }), path)
    return path


def test_status_json_keeps_its_shape(home: Path) -> None:
    result = harness("status", "--json", home=home, timeout=30)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert list(info) == ["running", "home", "variant", "created_at", "breaker", "event_log", "components", "proxies"]
    assert (info["running"], info["home"], info["variant"]) == (True, str(home), "seed")
    assert info["breaker"] == QUICK.to_json() and info["event_log"] == str(home / "events.jsonl")
    toxi = info["components"]["toxiproxy"]
    assert toxi == {"backend": "toxiproxy-server", "url": toxi["url"], "proxy_url": None, "pid": None, "log": None,
                    "started_by_us": False, "alive": False, "healthy": True}
    assert list(info["components"]["service"]) == ["backend", "url", "proxy_url", "pid", "log", "started_by_us",
                                                   "event_log", "alive", "healthy"]
    assert info["proxies"] == {name: {k: p[k] for k in ("enabled", "listen", "upstream", "toxics")}
                               for name, p in PROXIES.items()}
    assert list(info["proxies"]["dynamodb"]) == ["enabled", "listen", "upstream", "toxics"]


def test_no_stack_is_exit_1_with_the_short_shape(tmp_path: Path) -> None:
    assert status(tmp_path).to_json() == {"running": False, "home": str(tmp_path), "components": {}, "proxies": {}}
    result = harness("status", "--json", home=tmp_path, timeout=30)
    assert result.returncode == 1 and json.loads(result.stdout)["running"] is False


def test_a_toxiproxy_that_fails_to_list_its_proxies_is_not_healthy(home: Path, api: FakeToxiproxy) -> None:
    """``/version`` answers, ``/proxies`` is a 500: the active toxics are unknown, so status fails."""
    api.proxies_status = 500
    info: StackStatus = status(home)
    toxi = info.components["toxiproxy"]
    assert not toxi.healthy and toxi.reason is not None and "HTTP 500" in toxi.reason
    assert "proxies are on fire" in toxi.reason and info.proxies_error == toxi.reason
    assert info.components["service"].healthy and info.exit_code == 1

    result = harness("status", "--json", home=home, timeout=30)
    assert result.returncode == 1, result.stdout
    data = json.loads(result.stdout)
    assert data["running"] is True and data["proxies"] == {"error": toxi.reason}
    assert data["components"]["toxiproxy"]["healthy"] is False
    assert data["components"]["toxiproxy"]["reason"] == toxi.reason

    human = harness("status", home=home, timeout=30)
    assert human.returncode == 1
    assert "down" in human.stdout and "HTTP 500" in human.stdout and "Traceback" not in human.stderr
