"""Intermittent DynamoDB timeouts: exactly N calls in every window of S seconds outlast the caller's timeout.

What the design's "5 failures within 10 s" rule is about: failures that come
and go. A toxic cannot time out *some* calls at a fixed rate whatever the load,
so this fault uses the DynamoDB stand-in's control API (``burst`` mode): the
first N calls of each window are held ``delay_ms`` (longer than the breaker's
timeout) and then answered normally, the rest pass at once. 3 per 10 s never
puts 5 failures in any 10 s window, so a sliding-window breaker must stay
closed; a breaker that only counts failures opens on the second window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.chaos.faults.dynamo_errors import StandinFault
from harness.durations import parse_duration


def parse_burst(text: str) -> tuple[int, float]:
    """``3/10s`` → (3, 10.0): N calls per window S."""
    count, sep, window = text.partition("/")
    if not sep or not count.strip().isdigit() or int(count) <= 0:
        raise ValueError(f"invalid --dynamo-timeouts {text!r}: use N/WINDOW, e.g. 3/10s")
    every = parse_duration(window.strip())
    if not 0 < every <= 3600:
        raise ValueError(f"invalid --dynamo-timeouts {text!r}: the window is above 0 and at most 1h")
    return int(count), every


@dataclass
class DynamoTimeoutsFault(StandinFault):
    """``count`` DynamoDB calls per ``every_s`` held ``delay_ms`` (past the 200 ms timeout), then answered."""

    count: int
    every_s: float
    delay_ms: int = 1000
    control_url: str | None = None

    def needs(self) -> str:
        return "intermittent DynamoDB timeouts"

    def body(self) -> dict[str, Any]:
        return {"burst": self.count, "every_s": self.every_s, "delay_ms": self.delay_ms}

    def describe(self) -> str:
        return f"dynamodb {self.count} calls per {self.every_s:g}s held {self.delay_ms}ms"

    def effect(self) -> dict[str, Any]:
        return {"timeouts_per_window": self.count, "window_s": self.every_s, "delay_ms": self.delay_ms}
