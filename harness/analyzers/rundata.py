"""Load a run directory (contracts §5) once, into pandas frames every analyzer shares.

Why one loader: records.jsonl can hold a million lines; parsing it once per
analyzer would multiply the dominant cost. Files that are absent or unreadable
are recorded in ``missing`` with a reason so each analyzer can report itself
"skipped" instead of crashing. Malformed JSON lines are counted and skipped
(a crashed worker can leave a truncated last line), not fatal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:  # orjson is ~3x faster on the 1M-line records file; json is the fallback.
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _DecodeError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - depends on environment
    _loads = json.loads
    _DecodeError = json.JSONDecodeError

RECORD_COLUMNS = [
    "kind", "id", "ts", "start", "intended_start", "latency_us", "status", "error", "name",
    "scenario", "user_class", "session_id", "turn", "memory_mode", "level", "reason",
    "persisted", "verdict", "script",
]
EVENT_COLUMNS = [
    "ts", "event", "breaker", "from", "to", "outcome", "store", "session_id", "latency_ms",
    "items", "bytes", "turn_number", "level", "memory_mode", "reason", "action", "persisted",
]
PHASES = ("baseline", "fault", "recovery")


class RunDataError(ValueError):
    """The run directory itself is unusable (missing or run.json unreadable)."""


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Parse a JSON-lines file; return (objects, number of malformed lines skipped)."""
    out: list[dict[str, Any]] = []
    bad = 0
    with path.open("rb") as fh:
        data = fh.read()
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            obj = _loads(line)
        except _DecodeError:
            bad += 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        else:
            bad += 1
    return out, bad


NUMERIC = {"ts", "start", "intended_start", "latency_us", "latency_ms"}


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Columnar build: only ``columns`` (plus extras for small files), object arrays for text.

    Building from a dict of numpy arrays is ~2x faster than ``DataFrame(rows)``
    on 1M dicts, and skips pandas' string-dtype inference.
    """
    if len(rows) <= 100_000:
        df = pd.DataFrame(rows) if rows else pd.DataFrame()
        for c in columns:
            if c not in df.columns:
                df[c] = None
        return df
    cols: dict[str, np.ndarray] = {}
    extra = {k for k in rows[0] if k not in columns} | {k for k in rows[-1] if k not in columns}
    for c in [*columns, *sorted(extra)]:
        vals = [r.get(c) for r in rows]
        if c in NUMERIC:
            cols[c] = np.array([np.nan if v is None else v for v in vals], dtype=float)
        else:
            cols[c] = np.array(vals, dtype=object)
    return pd.DataFrame(cols, copy=False)


@dataclass
class RunData:
    """Everything in one run directory, parsed.

    ``records`` holds only ``kind == "request"`` lines (duplicate ids dropped);
    ``missed_starts`` the open-model arrivals the generator could not start on time.
    """

    run_dir: Path
    run: dict[str, Any]
    timeline: list[dict[str, Any]]
    records: pd.DataFrame
    missed_starts: pd.DataFrame
    events: pd.DataFrame
    table: pd.DataFrame
    metrics_text: str | None
    missing: dict[str, str] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0

    # ----- run.json helpers -------------------------------------------------
    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.run_dir.name)

    @property
    def variant(self) -> str:
        return str(self.run.get("variant", "unknown"))

    @property
    def backends(self) -> dict[str, Any]:
        b = self.run.get("backends")
        return dict(b) if isinstance(b, dict) else {}

    @property
    def phases(self) -> list[dict[str, Any]]:
        ph = self.run.get("phases")
        return [p for p in ph if isinstance(p, dict)] if isinstance(ph, list) else []

    @property
    def fault(self) -> dict[str, Any] | None:
        f = self.run.get("fault")
        return f if isinstance(f, dict) else None

    @property
    def breaker_config(self) -> dict[str, Any]:
        b = self.run.get("breaker")
        cfg: dict[str, Any] = {"threshold": 5, "window_s": 10.0, "open_s": 30.0, "timeout_ms": 200}
        if isinstance(b, dict):
            cfg.update(b)
        return cfg

    @property
    def t0(self) -> float:
        """Run start: first phase start, else run.json started_at, else first record/event."""
        if self.phases:
            return float(min(p["start"] for p in self.phases))
        for key in ("started_at", "start"):
            if isinstance(self.run.get(key), (int, float)):
                return float(self.run[key])
        cands = [float(df["ts"].min()) for df in (self.records, self.events) if len(df)]
        return min(cands) if cands else 0.0

    @property
    def t_end(self) -> float:
        if self.phases:
            return float(max(p["end"] for p in self.phases))
        for key in ("ended_at", "end"):
            if isinstance(self.run.get(key), (int, float)):
                return float(self.run[key])
        cands = [float(df["ts"].max()) for df in (self.records, self.events) if len(df)]
        return max(cands) if cands else self.t0

    def phase_of(self, ts: np.ndarray | pd.Series) -> np.ndarray:
        """Name the phase each timestamp falls in ("" outside every phase)."""
        arr = np.asarray(ts, dtype=float)
        out = np.full(arr.shape, "", dtype=object)
        for p in self.phases:
            mask = (arr >= float(p["start"])) & (arr < float(p["end"]))
            out[mask & (out == "")] = str(p["name"])
        return out

    def phase_bounds(self, name: str) -> tuple[float, float] | None:
        for p in self.phases:
            if p.get("name") == name:
                return float(p["start"]), float(p["end"])
        return None

    def events_of(self, kind: str) -> pd.DataFrame:
        if not len(self.events):
            return self.events
        return self.events[self.events["event"] == kind]


def load_run(run_dir: Path | str) -> RunData:
    """Parse every contracts §5 file in ``run_dir``; absent files go to ``missing``."""
    rd = Path(run_dir)
    if not rd.is_dir():
        raise RunDataError(f"run directory {rd} does not exist")
    missing: dict[str, str] = {}
    malformed: dict[str, int] = {}

    run: dict[str, Any] = {}
    p = rd / "run.json"
    if p.is_file():
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
            run = obj if isinstance(obj, dict) else {}
        except json.JSONDecodeError as e:
            missing["run.json"] = f"run.json is not valid JSON: {e}"
    else:
        missing["run.json"] = "run.json not found"

    timeline: list[dict[str, Any]] = []
    p = rd / "timeline.json"
    if p.is_file():
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
            timeline = [x for x in obj if isinstance(x, dict)] if isinstance(obj, list) else []
        except json.JSONDecodeError as e:
            missing["timeline.json"] = f"timeline.json is not valid JSON: {e}"
    else:
        missing["timeline.json"] = "timeline.json not found"

    def jl(rel: str, columns: list[str]) -> pd.DataFrame:
        f = rd / rel
        if not f.is_file():
            missing[rel] = f"{rel} not found"
            return _frame([], columns)
        rows, bad = read_jsonl(f)
        if bad:
            malformed[rel] = bad
        return _frame(rows, columns)

    recs_all = jl("records/records.jsonl", RECORD_COLUMNS)
    dups = 0
    if len(recs_all):
        kind = recs_all["kind"].fillna("request")
        records = recs_all[kind == "request"]
        missed = recs_all[kind == "missed_start"].reset_index(drop=True)
        if records["id"].notna().any():
            before = len(records)
            has_id = records["id"].notna()
            records = pd.concat([records[has_id].drop_duplicates("id"), records[~has_id]])
            dups = before - len(records)
        records = records.reset_index(drop=True)
        for c in ("ts", "start", "intended_start", "latency_us"):
            records[c] = pd.to_numeric(records[c], errors="coerce")
        records["intended_start"] = records["intended_start"].fillna(records["start"])
    else:
        records, missed = recs_all, recs_all.copy()
    events = jl("events.jsonl", EVENT_COLUMNS)
    if len(events):
        events["ts"] = pd.to_numeric(events["ts"], errors="coerce")
        events = events.sort_values("ts", kind="stable").reset_index(drop=True)
    table = jl("table.jsonl", ["session_id", "turn_number"])
    metrics_text: str | None = None
    mp = rd / "metrics.txt"
    if mp.is_file():
        metrics_text = mp.read_text(encoding="utf-8", errors="replace")
    else:
        missing["metrics.txt"] = "metrics.txt not found"
    return RunData(rd, run, timeline, records, missed, events, table, metrics_text, missing, malformed, dups)
