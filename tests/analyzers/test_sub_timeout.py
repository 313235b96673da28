"""A DynamoDB latency under the breaker's timeout is called out: the users pay it, the breaker never sees it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.analyzers import analyze_run
from harness.report.summary_md import build_summary


def test_sub_timeout_latency_is_called_out(make_run: Callable[..., Path]) -> None:
    verdict = analyze_run(make_run(fault_value="150ms"))
    data = verdict.results["latency"].data
    assert data["sub_timeout"]["latency_ms"] == 150.0 and data["sub_timeout"]["timeout_ms"] == 200.0
    assert "under the breaker's 200 ms timeout" in build_summary(verdict)


def test_a_latency_above_the_timeout_is_the_breakers_business(make_run: Callable[..., Path]) -> None:
    verdict = analyze_run(make_run(fault_value="2s"))
    assert "sub_timeout" not in verdict.results["latency"].data
