"""Breaker checks from the wire: what the service actually sent to DynamoDB.

Why: the service's own log says when its breaker opened and how many probes it
let through, and a broken breaker can log a perfect state machine. The wire tap
on the ``dynamodb`` proxy records every call the service made, so three claims
are checked against calls it cannot hide:

* while the breaker is open, the service sends DynamoDB nothing;
* each half-open episode lets exactly one call through (the probe);
* each opening follows at least ``threshold`` failed calls within ``window_s``.

A call failed if the connection ended without an answer (the service gave up,
e.g. its 200 ms timeout), the answer was not 200, or it took longer than the
call timeout. ``GRACE_S`` absorbs the few milliseconds between the service's
decision to call and the request's first byte reaching the proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult, fmt_ts

GRACE_S = 0.1


@dataclass(frozen=True)
class Episode:
    """One stretch of breaker state from the service's log: [start, end) and where it went next."""

    state: str
    start: float
    end: float | None
    exit_to: str | None


def failed_calls(calls: pd.DataFrame, timeout_ms: float) -> pd.DataFrame:
    """Calls that failed from the service's point of view, with ``failed_at`` (when it knew)."""
    slow = calls["latency_ms"] > timeout_ms
    bad = ~calls["ok"] | slow
    out = calls[bad].copy()
    out["failed_at"] = out["start"] + np.minimum(out["latency_ms"], timeout_ms) / 1000.0
    return out


def _ops(df: pd.DataFrame) -> str:
    counts = df["op"].value_counts()
    return ", ".join(f"{op} {n}" for op, n in counts.items())


def check_silent_while_open(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float,
                            run_end: float) -> None:
    opens = [e for e in episodes if e.state == "open"]
    if not opens:
        return
    bad: list[str] = []
    total = 0
    for e in opens:
        end = e.end if e.end is not None else run_end
        inside = calls[(calls["start"] > e.start + GRACE_S) & (calls["start"] < end)]
        if len(inside):
            total += len(inside)
            bad.append(f"{len(inside)} calls ({_ops(inside)}) while open from {fmt_ts(e.start, t0)}")
    res.check("wire_silent_while_open", not bad, total, "no DynamoDB calls while the breaker is open",
              "; ".join(bad[:4]) or f"{len(opens)} open episodes, no call on the wire during any")


def check_one_probe(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float) -> list[int]:
    halves = [e for e in episodes if e.state == "half_open"]
    counts: list[int] = []
    bad: list[str] = []
    for e in halves:
        end = e.end if e.end is not None else None
        mask = calls["start"] >= e.start - GRACE_S
        if end is not None:
            mask &= calls["start"] <= end
        n = int(mask.sum())
        counts.append(n)
        if end is None and n == 0:
            continue  # the run ended while half-open, before any request came
        if n != 1:
            bad.append(f"{n} calls ({_ops(calls[mask])}) in half-open from {fmt_ts(e.start, t0)}")
    if halves:
        res.check("wire_one_probe_per_half_open", not bad, len(bad), "exactly 1 DynamoDB call per half-open episode",
                  "; ".join(bad[:4]) or f"{len(halves)} half-open episodes, one call on the wire each")
    return counts


def check_threshold(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float,
                    threshold: int, window_s: float, timeout_ms: float) -> None:
    opens = [e for e in episodes if e.state == "open"]
    first_opens = [e for i, e in enumerate(episodes) if e.state == "open" and (i == 0 or episodes[i - 1].state
                                                                              == "closed")]
    if not opens:
        return
    failed = failed_calls(calls, timeout_ms)
    at = failed["failed_at"].to_numpy(dtype=float)
    bad: list[str] = []
    seen: list[int] = []
    for e in first_opens:
        n = int(((at >= e.start - window_s) & (at <= e.start + GRACE_S)).sum())
        seen.append(n)
        if n < threshold:
            bad.append(f"opened at {fmt_ts(e.start, t0)} after {n} failed calls in the {window_s:g} s before")
    if first_opens:
        res.check("wire_threshold_before_open", not bad, min(seen), f">= {threshold} failed calls within "
                  f"{window_s:g} s before each opening", "; ".join(bad[:4]) or
                  f"{len(first_opens)} openings, each after >= {threshold} failed calls on the wire ({seen})")
