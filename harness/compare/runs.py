"""Read one side of a comparison: a run directory, or a directory of repetitions, into typed samples.

Why raw evidence first: latencies, shares and breaker timings are recomputed
from ``records.jsonl`` and ``events.jsonl`` so a comparison does not depend on
how a given version of the analyzers summarised them. Only what needs an
analyzer's full model -- alarms evaluated as CloudWatch would, lost turns
checked against the table -- is read from ``verdict.json``, accepting both its
``passed`` and its ``outcome`` spellings.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.requests import classify
from harness.analyzers.rundata import RunData, load_run

PHASE_ORDER = ("baseline", "fault", "recovery")
SERIES = ("user", "dynamodb.read", "dynamodb.write", "redis.read", "redis.write")
SHARES = ("error", "degraded", "stateless", "wrong")
BLOCK_S = 1.0


class CompareInputError(ValueError):
    """A side is not a run directory nor a directory of them."""


@dataclass(frozen=True)
class BreakerStats:
    """The breaker's behaviour in one run; ``None`` where it never happened."""

    opened: bool
    time_to_open_s: float | None
    open_duration_s: float | None
    probes_per_half_open: float | None
    time_to_close_s: float | None


@dataclass
class RunSample:
    """One run reduced to what a comparison needs.

    ``latency`` has one row per call or request: phase, series, latency_ms and
    block (the index of its ``BLOCK_S`` time slice within the run). ``turns``
    has one row per user-facing request with the share flags.
    """

    run_id: str
    variant: str
    fault: str
    latency: pd.DataFrame
    turns: pd.DataFrame
    breaker: BreakerStats
    alarms: dict[str, bool] = field(default_factory=dict)
    lost_turns: int | None = None
    notes: list[str] = field(default_factory=list)
    fault_window: tuple[float, float] | None = None  # seconds from the run's start, for the plots


def discover(path: Path) -> list[Path]:
    """The run directories of one side: ``path`` itself, or its children (then grandchildren) with run.json."""
    if not path.is_dir():
        raise CompareInputError(f"{path} is not a directory")
    if (path / "run.json").is_file():
        return [path]
    runs = sorted(p for p in path.iterdir() if (p / "run.json").is_file())
    if not runs:
        runs = sorted(p for p in path.glob("*/*") if (p / "run.json").is_file())
    if not runs:
        raise CompareInputError(f"{path} holds no run directory (no run.json in it or below it)")
    return runs


def _blocks(ts: np.ndarray, t0: float) -> np.ndarray:
    return np.floor((np.asarray(ts, dtype=float) - t0) / BLOCK_S).astype(np.int64)


def _latency_frame(rd: RunData) -> pd.DataFrame:
    """User-facing requests and memory calls, with phase and time block; outside every phase dropped."""
    parts = []
    r = rd.records
    if len(r):
        start = r["start"].to_numpy(dtype=float)
        # phased as the analyzers phase them, with the default SLO's 1 s grace (a comparison has no SLO file)
        parts.append(pd.DataFrame({"phase": rd.record_phases(), "series": "user",
                                   "latency_ms": r["latency_us"].to_numpy(dtype=float) / 1000.0,
                                   "block": _blocks(start, rd.t0)}))
    e = rd.events
    if len(e):
        mem = e[e["event"].isin(["memory_read", "memory_write"]) & e["store"].isin(["dynamodb", "redis"])]
        if "outcome" in mem.columns:
            mem = mem[mem["outcome"] != "circuit_open"]  # rejected without a call: no call latency
        if len(mem):
            ts = mem["ts"].to_numpy(dtype=float)
            series = mem["store"].astype(str) + "." + mem["event"].astype(str).str.replace("memory_", "", regex=False)
            parts.append(pd.DataFrame({"phase": rd.phase_of(ts), "series": series.to_numpy(),
                                       "latency_ms": pd.to_numeric(mem["latency_ms"], errors="coerce").to_numpy(),
                                       "block": _blocks(ts, rd.t0)}))
    if not parts:
        return pd.DataFrame({"phase": [], "series": [], "latency_ms": [], "block": []})
    df = pd.concat(parts, ignore_index=True)
    df = df[(df["phase"] != "") & np.isfinite(df["latency_ms"])]
    return df.reset_index(drop=True)


def _turns_frame(rd: RunData) -> pd.DataFrame:
    """One row per user-facing request: error, degraded (level >= 1), stateless (level >= 2), wrong, checked."""
    r = rd.records
    if not len(r):
        return pd.DataFrame({c: [] for c in ("phase", "block", *SHARES, "checked")})
    start = r["start"].to_numpy(dtype=float)
    # a failed turn exactly as the requests analyzer counts it: a wrong answer is not one (it has its own share)
    error = classify(r)["failed"].to_numpy()
    mode = r["memory_mode"].astype(object).to_numpy()
    level = pd.to_numeric(r["level"], errors="coerce").fillna(0).to_numpy()
    verdict = r["verdict"].astype(object).to_numpy()
    answered = ~error
    df = pd.DataFrame({
        "phase": rd.record_phases(),
        "block": _blocks(start, rd.t0),
        "error": error,
        "degraded": answered & ((level >= 1) | np.isin(mode, ["cache_only", "stateless", "fallback"])),
        "stateless": answered & ((level >= 2) | np.isin(mode, ["stateless", "fallback"])),
        "wrong": verdict == "wrong",
        "checked": np.isin(verdict, ["resolved", "degraded", "wrong"]),
        "answered": answered,
    })
    return df[df["phase"] != ""].reset_index(drop=True)


def breaker_stats(rd: RunData) -> BreakerStats:
    """Time to open after the fault starts, mean open stint, probes per half-open, time to close after it ends."""
    ev = rd.events_of("breaker_transition")
    if len(ev) and "breaker" in ev.columns:
        ev = ev[ev["breaker"].fillna("dynamodb") == "dynamodb"]
    fault = rd.fault or {}
    f_start = fault.get("start")
    f_end = fault.get("end")
    if not len(ev):
        return BreakerStats(False, None, None, None, None)
    ts = ev["ts"].to_numpy(dtype=float)
    to = ev["to"].astype(str).to_numpy()
    opens = ts[to == "open"]
    opened = bool(len(opens))
    t_open = float(opens[0] - f_start) if opened and isinstance(f_start, (int, float)) else None
    stints = [float(ts[i + 1] - ts[i]) for i in range(len(ts) - 1) if to[i] == "open"]
    probes = rd.events_of("breaker_probe")
    half = [(ts[i], ts[i + 1] if i + 1 < len(ts) else math.inf) for i in range(len(ts)) if to[i] == "half_open"]
    per_half: float | None = None
    if half:
        pts = probes["ts"].to_numpy(dtype=float) if len(probes) else np.array([])
        per_half = float(np.mean([((pts >= a) & (pts <= b)).sum() for a, b in half]))
    closes = ts[to == "closed"]
    t_close = None
    if opened and len(closes) and isinstance(f_end, (int, float)) and closes[-1] >= opens[0]:
        t_close = float(closes[-1] - f_end)
    return BreakerStats(opened, t_open, float(np.mean(stints)) if stints else None, per_half, t_close)


def _verdict(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "verdict.json"
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def alarms_fired(verdict: dict[str, Any]) -> dict[str, bool]:
    """Which of the design's alarms went to ALARM in the run, from the alarms analyzer's raw results."""
    raw = (verdict.get("analyzers") or {}).get("alarms") or {}
    alarms = raw.get("alarms") if isinstance(raw, dict) else None
    out: dict[str, bool] = {}
    if isinstance(alarms, dict):
        for name, a in alarms.items():
            if not isinstance(a, dict):
                continue
            fired = a.get("fired_at_rel", a.get("fired_at"))
            changes = a.get("changes") or []
            out[str(name)] = bool(fired) or any(isinstance(c, dict) and c.get("to") == "ALARM" for c in changes)
    return out


def lost_turns(verdict: dict[str, Any]) -> int | None:
    """Acknowledged turns missing from the table: the durability analyzer's count, else its check's measurement."""
    raw = (verdict.get("analyzers") or {}).get("durability") or {}
    if isinstance(raw, dict) and isinstance(raw.get("lost_count"), (int, float)):
        return int(raw["lost_count"])
    for c in verdict.get("checks") or []:
        if isinstance(c, dict) and c.get("name") == "durability.no_lost_turns" and isinstance(
                c.get("measured"), (int, float)):
            return int(c["measured"])
    return None


def load_sample(run_dir: Path) -> RunSample:
    """Everything a comparison takes from one run directory."""
    rd = load_run(run_dir, table=False, wire=False)
    verdict = _verdict(run_dir)
    notes = [f"{name}: {why}" for name, why in rd.missing.items() if name in ("records/records.jsonl",
                                                                               "events.jsonl", "run.json")]
    if not verdict:
        notes.append("verdict.json missing or unreadable: alarms and lost turns not compared")
    fault = rd.fault or {}
    window = None
    if isinstance(fault.get("start"), (int, float)) and isinstance(fault.get("end"), (int, float)):
        window = (float(fault["start"]) - rd.t0, float(fault["end"]) - rd.t0)
    return RunSample(rd.run_id, rd.variant, str(fault.get("kind", "no-fault")), _latency_frame(rd), _turns_frame(rd),
                     breaker_stats(rd), alarms_fired(verdict), lost_turns(verdict), notes, window)


def load_side(path: Path) -> list[RunSample]:
    """Every run of one side, in directory order."""
    return [load_sample(p) for p in discover(path)]


def load_sides(base: Path, new: Path) -> tuple[list[RunSample], list[RunSample]]:
    """Both sides, each checked before either is parsed (a typo in NEW fails at once, not after BASE loads).

    One run at a time: reading runs in two threads saved 5-16 % on two 1M-request
    runs (pyarrow already parses on both cores) and nothing on 5 + 8 quick runs,
    whose pandas work holds the GIL.
    """
    dirs = discover(base), discover(new)
    return [load_sample(p) for p in dirs[0]], [load_sample(p) for p in dirs[1]]
