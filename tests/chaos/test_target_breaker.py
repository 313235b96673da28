"""A ``--target``'s breaker timings: read from its ``/debug/memory``, checked against ``--breaker``.

A tiny real HTTP server on a free loopback port plays the target. It answers
``/debug/memory`` with the reference service's shape (the breaker part built by
the service's own ``CircuitBreaker.snapshot()``) and 404 to anything else, and
logs every request, so a test can tell that nothing but the timings lookup
reached it: no preflight-passing run, no Locust.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.breaker_timings import DESIGN, QUICK, BreakerTimings
from harness.chaos.flags import ChaosFlags, UsageError, build_options
from harness.chaos.target import breaker_of_target
from reference_service.memory.breaker import BreakerConfig, CircuitBreaker

ADVERTISED = BreakerTimings(threshold=3, window_s=4.0, open_s=7.0, timeout_ms=150.0)
MATCHING_FLAG = "threshold=3,window=4s,open=7s,timeout=150ms"


def debug_memory(cfg: BreakerConfig) -> dict[str, Any]:
    """What reference_service's ``Service.debug_memory`` returns, for a breaker with ``cfg``."""
    snap = CircuitBreaker(config=cfg).snapshot()
    return {
        "variant": "hardened",
        "breaker": {"state": snap["state"], "config": snap["config"], "kind": snap["kind"],
                    "failures_in_window": snap["failures_in_window"], "transitions": snap["transitions"]},
        "degradation_counts": {"full": 0, "cache_only": 0, "stateless": 0, "fallback": 0},
        "outbox": {"pending": 0, "flushed": 0, "dead_letters": 0, "recent_dead_letters": []},
        "table_ready": True,
        "dynamodb_client": None,
    }


class FakeTarget(ThreadingHTTPServer):
    document: Any = None  # the /debug/memory body; None answers 404
    seen: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeTarget

    def log_message(self, *_: object) -> None:
        pass

    def _answer(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        if self.command == "GET" and self.path == "/debug/memory" and self.server.document is not None:
            code, raw = 200, json.dumps(self.server.document).encode()
        else:
            code, raw = 404, json.dumps({"error": "not_found", "detail": self.path}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer


@pytest.fixture
def target() -> Iterator[FakeTarget]:
    server = FakeTarget(("127.0.0.1", 0), _Handler)
    server.seen = []
    server.document = debug_memory(BreakerConfig(threshold=3, window_s=4.0, open_s=7.0, timeout_ms=150.0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_reference_services_shape_is_what_the_harness_reads(target: FakeTarget) -> None:
    assert target.document["breaker"]["config"] == ADVERTISED.to_json()


@pytest.mark.parametrize("quick", [False, True])
def test_timings_come_from_the_target_not_from_quick_or_the_design(target: FakeTarget, quick: bool) -> None:
    opts, _ = build_options(ChaosFlags(target=target.url, quick=quick))
    assert opts.breaker == ADVERTISED
    assert target.seen == ["GET /debug/memory"]


def test_a_breaker_flag_that_agrees_with_the_target_is_accepted(target: FakeTarget) -> None:
    opts, _ = build_options(ChaosFlags(target=target.url, quick=True, breaker=MATCHING_FLAG))
    assert opts.breaker == ADVERTISED


@pytest.mark.parametrize(("flag", "diff"), [
    ("threshold=5,window=10s,open=30s,timeout=200ms",
     "threshold 5 vs 3, window_s 10 vs 4, open_s 30 vs 7, timeout_ms 200 vs 150"),
    ("threshold=3,window=4s,open=8s,timeout=150ms", "open_s 8 vs 7"),
])
def test_a_contradicting_breaker_flag_is_a_usage_error(target: FakeTarget, flag: str, diff: str) -> None:
    with pytest.raises(UsageError) as exc:
        build_options(ChaosFlags(target=target.url, quick=True, breaker=flag))
    assert str(exc.value) == f"--breaker disagrees with {target.url}/debug/memory: {diff}"


def test_the_cli_refuses_a_contradicting_breaker_before_any_run(target: FakeTarget, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--target", target.url,
         "--breaker", "threshold=3,window=4s,open=30s,timeout=150ms",
         "--home", str(tmp_path / "home"), "--report-dir", str(reports)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "60", "HARNESS_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: --breaker disagrees with {target.url}/debug/memory: open_s 30 vs 7"]
    assert proc.stdout == ""
    # Nothing started: no run directory, no stack home, and the target saw only the lookup.
    assert not reports.exists() and not (tmp_path / "home").exists()
    assert target.seen == ["GET /debug/memory"]


def test_the_cli_hands_the_targets_timings_to_the_run(
    target: FakeTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with the run itself replaced by one that records its options and stops: no load starts."""
    from typer.testing import CliRunner

    import harness.chaos.runner
    from harness.cli import app

    given: list[Any] = []

    class Recorder:
        def __init__(self, opts: Any, _console: Any) -> None:
            given.append(opts)

        def execute(self) -> Any:
            raise RuntimeError("recorded; not running")

    monkeypatch.setattr(harness.chaos.runner, "ChaosRun", Recorder)
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["chaos", "--quick", "--target", target.url,
                                      "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 1 and "recorded; not running" in result.stderr, result.output
    [opts] = given
    assert opts.breaker == ADVERTISED and opts.target == target.url
    assert target.seen == ["GET /debug/memory"]


@pytest.mark.parametrize("document", [
    None,  # no /debug/memory at all (404)
    {"variant": "hardened"},  # no breaker
    {"breaker": {"state": "closed"}},  # no config
    {"breaker": {"config": {"threshold": 5, "window_s": 10.0, "open_s": 30.0}}},  # a key missing
    {"breaker": {"config": {"threshold": 5, "window_s": "ten", "open_s": 30.0, "timeout_ms": 200.0}}},
    ["not", "a", "mapping"],
])
def test_a_target_that_does_not_say_needs_the_flag(target: FakeTarget, document: Any) -> None:
    target.document = document
    with pytest.raises(UsageError) as exc:
        build_options(ChaosFlags(target=target.url, quick=True))
    assert str(exc.value) == (f"cannot learn the breaker's timings from {target.url}/debug/memory; pass "
                              "--breaker threshold=5,window=10s,open=30s,timeout=200ms")
    opts, _ = build_options(ChaosFlags(target=target.url, quick=True, breaker="threshold=4,window=6s,open=9s,"
                                                                              "timeout=250ms"))
    assert opts.breaker == BreakerTimings(threshold=4, window_s=6.0, open_s=9.0, timeout_ms=250.0)


def test_an_unreachable_target_keeps_the_flag_or_the_fallback() -> None:
    """Nothing answers: no timing will ever be judged (the preflight fails the run), so no usage error either."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert breaker_of_target(url, None, QUICK) == QUICK
        assert breaker_of_target(url, ADVERTISED, DESIGN) == ADVERTISED
        assert build_options(ChaosFlags(target=url, quick=True))[0].breaker == QUICK
        assert build_options(ChaosFlags(target=url))[0].breaker == DESIGN
    finally:
        sock.close()


def test_a_breaker_flag_without_a_target_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as exc:
        build_options(ChaosFlags(quick=True, breaker=MATCHING_FLAG))
    assert str(exc.value) == "--breaker describes a --target's breaker; the embedded stack's follows --quick"
