"""Breaker checks from the wire: what the service actually sent to DynamoDB.

Why: a broken breaker can log a perfect state machine, so the wire tap on the
``dynamodb`` proxy, which records every call the service made, is the evidence
for three claims: while open, nothing is sent; each half-open episode lets
exactly one call through; each opening follows at least ``threshold`` failed
calls (no answer, not 200, or slower than the call timeout) within ``window_s``.

The wire lags the service's decisions (a call admitted just before opening can
reach the proxy up to one call timeout later), so each edge gets the call
timeout plus ``GRACE_S`` of grace, and a 200 that took at least half the
timeout may have timed out at the service: such a call completes a short
count only when the service's log holds a failure from while it was in
flight; otherwise it makes the count *inconclusive*, never a pass or a fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult, fmt_ts

GRACE_S = 0.05
AMBIGUOUS_SHARE = 0.5
COUNT_GRACE_S = 0.01
"""A failure counts towards an opening only if the wire saw it by 10 ms after the edge.

The wire sees a failure no earlier than the service does (its close follows the
service's cancel; its slow answer follows the service's timer), so a generous
grace here would only let calls that failed *after* a hair-trigger opening pad
the count."""


def grace_s(timeout_ms: float) -> float:
    """How late a call admitted before an edge may reach the wire: one call timeout, plus a little."""
    return timeout_ms / 1000.0 + GRACE_S


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


def logged_dynamo_failures(events: pd.DataFrame) -> np.ndarray:
    """When the service says a DynamoDB call failed (timeouts and errors; refusals by an open breaker excluded)."""
    need = {"event", "store", "outcome", "ts"}
    if events is None or not len(events) or not need <= set(events.columns):
        return np.asarray([], dtype=float)
    mem = events[events["event"].isin(["memory_read", "memory_write"]) & (events["store"] == "dynamodb")]
    bad = mem[~mem["outcome"].isin(["ok", "circuit_open", "conflict", "hit", "miss"])]
    return pd.to_numeric(bad["ts"], errors="coerce").dropna().to_numpy(dtype=float)


def _ops(df: pd.DataFrame) -> str:
    counts = df["op"].value_counts()
    return ", ".join(f"{op} {n}" for op, n in counts.items())


def check_silent_while_open(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float,
                            run_end: float, timeout_ms: float) -> None:
    opens = [e for e in episodes if e.state == "open"]
    if not opens:
        return
    bad: list[str] = []
    total = 0
    grace = grace_s(timeout_ms)
    for e in opens:
        end = e.end if e.end is not None else run_end
        inside = calls[(calls["start"] > e.start + grace) & (calls["start"] < end)]
        if len(inside):
            total += len(inside)
            bad.append(f"{len(inside)} calls ({_ops(inside)}) while open from {fmt_ts(e.start, t0)}")
    res.check("wire_silent_while_open", not bad, total, "no DynamoDB calls while the breaker is open",
              "; ".join(bad[:4]) or f"{len(opens)} open episodes, no call on the wire during any")


def refused_windows(timeline: list[dict[str, Any]], proxy: str = "dynamodb") -> list[tuple[float, float]]:
    """When ``proxy`` was disabled: its listener was gone, so calls could not reach the tap at all."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for e in timeline:
        if e.get("proxy") != proxy or not isinstance(e.get("detail"), dict):
            continue
        enabled = e["detail"].get("enabled")
        ts = e.get("ts")
        if not isinstance(ts, (int, float)):
            continue
        if enabled is False and start is None:
            start = float(ts)
        elif enabled is True and start is not None:
            out.append((start, float(ts)))
            start = None
    if start is not None:
        out.append((start, float("inf")))
    return out


def check_one_probe(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float,
                    timeout_ms: float, refused: list[tuple[float, float]] | None = None) -> list[int]:
    halves = [e for e in episodes if e.state == "half_open"]
    counts: list[int] = []
    bad: list[str] = []
    unseen: list[str] = []
    for e in halves:
        end = e.end if e.end is not None else None
        # The episode before a half-open one is open (silent), so no admitted call lags into it.
        mask = calls["start"] >= e.start - GRACE_S
        if end is not None:
            mask &= calls["start"] <= end
        n = int(mask.sum())
        counts.append(n)
        if n > 1:
            bad.append(f"{n} calls ({_ops(calls[mask])}) in half-open from {fmt_ts(e.start, t0)}")
        elif n == 0 and end is not None and not any(a <= end and e.start <= b for a, b in refused or []):
            # The episode ended, so the service decided on a probe, yet nothing
            # reached a listening proxy: either no probe was made, or a starved
            # event loop timed it out before its bytes left. The wire cannot tell.
            unseen.append(f"no call in half-open from {fmt_ts(e.start, t0)}")
    if not halves:
        return counts
    target = "exactly 1 DynamoDB call per half-open episode (none needed while the proxy refuses connections)"
    if unseen and not bad:
        res.inconclusive("wire_one_probe_per_half_open", 0, target,
                         "; ".join(unseen[:4]) + " — the service logged a probe the wire never saw; a quieter "
                         "machine would show whether it was made")
        return counts
    if bad or any(n == 1 for n in counts):
        res.check("wire_one_probe_per_half_open", not bad, len(bad), target,
                  "; ".join(bad[:4]) or f"{len(halves)} half-open episodes, at most one call on the wire each "
                  f"({sum(1 for n in counts if n == 1)} with the probe seen)")
    else:
        res.inconclusive("wire_one_probe_per_half_open", 0, target,
                         f"no call reached the wire in any of the {len(halves)} half-open episodes (the fault "
                         "refused connections, or no request came); a fault that answers slowly would decide it")
    return counts


def check_threshold(res: AnalyzerResult, calls: pd.DataFrame, episodes: list[Episode], t0: float,
                    threshold: int, window_s: float, timeout_ms: float,
                    logged_failures: np.ndarray | None = None,
                    refused: list[tuple[float, float]] | None = None) -> None:
    """Each opening must follow ``threshold`` failures the wire can see.

    ``logged_failures`` are the times the service logged a failed DynamoDB call.
    When the service counted enough failures but the wire saw the calls
    answered in time, the service's own clock (a starved event loop) disagrees
    with the wire: that is inconclusive, not a breaker bug the wire can prove.
    """
    logged = logged_failures if logged_failures is not None else np.asarray([], dtype=float)
    opens = [e for e in episodes if e.state == "open"]
    first_opens = [e for i, e in enumerate(episodes) if e.state == "open" and (i == 0 or episodes[i - 1].state
                                                                              == "closed")]
    if not opens:
        return
    failed = failed_calls(calls, timeout_ms)
    at = failed["failed_at"].to_numpy(dtype=float)
    slowish = calls[calls["ok"] & (calls["latency_ms"] >= AMBIGUOUS_SHARE * timeout_ms)
                    & (calls["latency_ms"] <= timeout_ms)]
    slow_start = slowish["start"].to_numpy(dtype=float)
    maybe_at = slow_start + slowish["latency_ms"].to_numpy(dtype=float) / 1000.0
    bad: list[str] = []
    unsure: list[str] = []
    seen: list[int] = []
    vouched: list[int] = []
    for e in first_opens:
        lo, hi = e.start - window_s, e.start + COUNT_GRACE_S
        n, maybe, said = (int(((x >= lo) & (x <= hi)).sum()) for x in (at, maybe_at, logged))
        seen.append(n)
        vouched.append(0)
        if n >= threshold:
            continue
        if said >= threshold and any(a <= e.start <= b + GRACE_S for a, b in refused or []):
            # Our proxy was disabled: every call failed without reaching the tap,
            # so the service's count stands on the fault we applied ourselves.
            continue
        if n + maybe < threshold and said < threshold:
            bad.append(f"opened at {fmt_ts(e.start, t0)} after {n} failed calls in the {window_s:g} s before")
            continue
        in_window = (maybe_at >= lo) & (maybe_at <= hi)
        vouched[-1] = _slow_answers_logged_as_failed(
            at[(at >= lo) & (at <= hi)], slow_start[in_window], maybe_at[in_window],
            logged[(logged >= lo) & (logged <= e.start + GRACE_S)], timeout_ms)
        if said >= threshold and n + vouched[-1] >= threshold:
            continue
        unsure.append(f"opened at {fmt_ts(e.start, t0)} after {n} failures on the wire, {maybe} answers slower "
                      f"than {AMBIGUOUS_SHARE * timeout_ms:g} ms, and {said} failures in the service's log")
    if not first_opens:
        return
    target = f">= {threshold} failed calls within {window_s:g} s before each opening"
    if bad:
        res.check("wire_threshold_before_open", False, min(seen), target, "; ".join(bad[:4]))
    elif unsure:
        res.inconclusive("wire_threshold_before_open", min(seen), target, "; ".join(unsure[:4]) + " — the wire "
                         "cannot tell; a quieter machine (or a longer call timeout) would decide it")
    elif any(vouched):
        counted = [n + v for n, v in zip(seen, vouched, strict=True)]
        res.check("wire_threshold_before_open", True, min(counted), target,
                  f"{len(first_opens)} openings, each after >= {threshold} failures: {seen} failed on the wire, "
                  f"plus {vouched} answers slower than {AMBIGUOUS_SHARE * timeout_ms:g} ms that the service "
                  "logged as failed while they were in flight (a busy service's own timer)")
    else:
        res.check("wire_threshold_before_open", True, min(seen), target,
                  f"{len(first_opens)} openings, each after >= {threshold} failed calls on the wire ({seen})")


def _slow_answers_logged_as_failed(failed_at: np.ndarray, slow_start: np.ndarray, slow_end: np.ndarray,
                                   logged: np.ndarray, timeout_ms: float) -> int:
    """How many slow answers the service's log accounts for, one logged failure each.

    Why: a 200 that took over half the call timeout on the wire may still have
    timed out at a busy service, whose timer starts before the bytes leave.
    Such a call counts as failed only when the log holds a failure from the
    moment it was in flight (start to answer plus one call timeout) that no
    call the wire saw fail already explains, so a log that merely claims a
    round count, or a breaker that opened on fewer failures, gains nothing.
    """
    spare = sorted(float(x) for x in logged)
    for f in sorted(float(x) for x in failed_at):
        near = [x for x in spare if abs(x - f) <= grace_s(timeout_ms)]
        if near:
            spare.remove(min(near, key=lambda x: abs(x - f)))
    count = 0
    for s, end in sorted(zip(slow_start.tolist(), slow_end.tolist(), strict=True)):
        hit = next((x for x in spare if s <= x <= end + grace_s(timeout_ms)), None)
        if hit is not None:
            spare.remove(hit)
            count += 1
    return count
