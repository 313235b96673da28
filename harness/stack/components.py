"""Which backend serves each component, and how to start and probe it.

The order is always the same: an explicit URL (flag or environment variable),
then a real server binary found on PATH, then an in-Python stand-in. The
choice is recorded as ``backend`` in the state file and in every report, because
a p99 measured against a stand-in is a different claim from one measured
against DynamoDB Local or real Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.breaker_timings import BreakerTimings
from harness.stack.net import can_connect, host_port

PY = sys.executable

ENV_URLS = {
    "dynamodb": "HARNESS_DYNAMODB_URL",
    "redis": "HARNESS_REDIS_URL",
    "llm": "HARNESS_LLM_URL",
    "toxiproxy": "HARNESS_TOXIPROXY_URL",
}


@dataclass
class Plan:
    """How one component will be served: by URL (nothing to start) or by a command."""

    name: str
    backend: str
    url: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    probe: Callable[[], bool] | None = None
    ready_timeout: float = 30.0

    @property
    def started_by_us(self) -> bool:
        return bool(self.argv)


def http_ok(url: str, timeout: float = 0.5) -> bool:
    """True when ``GET url`` answers with any HTTP status below 500."""
    req = urllib.request.Request(url, headers={"User-Agent": "memory-chaos-harness"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def dynamodb_ok(url: str, timeout: float = 1.0) -> bool:
    """True when the endpoint answers a DynamoDB ``ListTables`` call."""
    body = b"{}"
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=harness/20240101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return "TableNames" in json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def redis_ok(url: str, timeout: float = 0.5) -> bool:
    """True when the server answers ``PING`` with ``PONG``."""
    host, port = host_port(url, 6379)
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _which(name: str) -> str | None:
    """Find a server binary on PATH; ``HARNESS_NO_BINARIES=1`` forces the stand-ins."""
    if os.environ.get("HARNESS_NO_BINARIES") == "1":
        return None
    return shutil.which(name)


def plan_dynamodb(url: str | None, port: int) -> Plan:
    """DynamoDB: URL, else dynalite (Node), else moto with an indexed Query."""
    url = url or os.environ.get(ENV_URLS["dynamodb"])
    if url:
        return Plan("dynamodb", "url", url.rstrip("/"), probe=lambda: dynamodb_ok(url))
    own = f"http://127.0.0.1:{port}"
    binary = _which("dynalite")
    if binary:
        argv = [binary, "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0",
                "--deleteTableMs", "0", "--updateTableMs", "0"]
        return Plan("dynamodb", "dynalite", own, argv, probe=lambda: dynamodb_ok(own))
    argv = [PY, "-m", "harness.standins.dynamodb", "--host", "127.0.0.1", "--port", str(port)]
    return Plan("dynamodb", "moto-indexed", own, argv, probe=lambda: dynamodb_ok(own))


def plan_redis(url: str | None, port: int) -> Plan:
    """Redis: URL, else redis-server with no persistence, else fakeredis over TCP."""
    url = url or os.environ.get(ENV_URLS["redis"])
    if url:
        return Plan("redis", "url", url, probe=lambda: redis_ok(url))
    own = f"redis://127.0.0.1:{port}"
    binary = _which("redis-server")
    if binary:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--protected-mode", "no"]
        return Plan("redis", "redis-server", own, argv, probe=lambda: redis_ok(own))
    argv = [PY, "-m", "harness.standins.redis", "--host", "127.0.0.1", "--port", str(port)]
    return Plan("redis", "fakeredis", own, argv, probe=lambda: redis_ok(own))


def plan_toxiproxy(url: str | None, port: int) -> Plan:
    """Toxiproxy: URL, else toxiproxy-server, else our compatible server."""
    url = url or os.environ.get(ENV_URLS["toxiproxy"])
    if url:
        clean = url.rstrip("/")
        return Plan("toxiproxy", "url", clean, probe=lambda: http_ok(clean + "/version"))
    own = f"http://127.0.0.1:{port}"
    binary = _which("toxiproxy-server")
    if binary:
        argv = [binary, "-host", "127.0.0.1", "-port", str(port)]
        return Plan("toxiproxy", "toxiproxy-server", own, argv, probe=lambda: http_ok(own + "/version"))
    argv = [PY, "-m", "harness.toxiproxy", "--host", "127.0.0.1", "--port", str(port)]
    return Plan("toxiproxy", "harness-toxiproxy", own, argv, probe=lambda: http_ok(own + "/version"))


def plan_llm(url: str | None, real: bool, port: int) -> Plan:
    """LLM: URL, else the real Anthropic API when asked for (with a key), else the stand-in."""
    url = url or os.environ.get(ENV_URLS["llm"])
    if url:
        clean = url.rstrip("/")
        host, p = host_port(clean, 80)
        return Plan("llm", "url", clean, probe=lambda: can_connect(host, p))
    if real:
        return Plan("llm", "anthropic-api", "https://api.anthropic.com", probe=lambda: True)
    own = f"http://127.0.0.1:{port}"
    argv = [PY, "-m", "harness.standins.llm", "--host", "127.0.0.1", "--port", str(port)]
    return Plan("llm", "anthropic-standin", own, argv, probe=lambda: http_ok(own + "/healthz"))


def plan_service(
    port: int,
    variant: str,
    dynamodb_url: str,
    redis_url: str,
    llm_url: str,
    home: Path,
    breaker: BreakerTimings,
    llm_api_key: str | None,
) -> Plan:
    """The reference service, wired to the proxies rather than to the backends."""
    own = f"http://127.0.0.1:{port}"
    argv = [
        PY, "-m", "reference_service",
        "--host", "127.0.0.1", "--port", str(port),
        "--variant", variant,
        "--dynamodb-url", dynamodb_url,
        "--redis-url", redis_url,
        "--llm-url", llm_url,
        "--event-log", str(home / "events.jsonl"),
        "--outbox-path", str(home / "outbox.jsonl"),
        "--breaker-threshold", str(breaker.threshold),
        "--breaker-window-s", f"{breaker.window_s:g}",
        "--breaker-open-s", f"{breaker.open_s:g}",
        "--dynamo-timeout-ms", str(int(breaker.timeout_ms)),
    ]
    env = {"AWS_ACCESS_KEY_ID": "harness", "AWS_SECRET_ACCESS_KEY": "harness", "AWS_DEFAULT_REGION": "us-east-1"}
    if llm_api_key:
        env["ANTHROPIC_API_KEY"] = llm_api_key
    return Plan(
        "service", f"reference_service[{variant}]", own, argv, env=env,
        probe=lambda: http_ok(own + "/healthz"), ready_timeout=60.0,
    )
