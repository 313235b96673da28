"""Load a run directory (see "Run directory" in docs/contracts.md) once, into pandas frames every analyzer shares.

Why one loader: records.jsonl can hold a million lines; parsing it once per
analyzer would multiply the dominant cost. Files that are absent or unreadable
are recorded in ``missing`` with a reason so each analyzer can report itself
"skipped" instead of crashing. Malformed JSON lines are counted and skipped
(a crashed worker can leave a truncated last line), not fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# orjson is ~3x faster than json per line; pyarrow's JSON-lines reader is
# columnar and multithreaded: ~4x faster on 1M records. Both are dependencies.
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from harness.breaker_timings import DESIGN, BreakerTimings
from harness.records import EVENT_COLUMNS, FIELD_TYPES, NUMERIC, RECORD_COLUMNS, RECORDS_FILE, WIRE_COLUMNS

_loads: Callable[[bytes], Any] = orjson.loads
_DecodeError: type[Exception] = orjson.JSONDecodeError

# How long a baseline request may have been in flight when the fault went on and
# still be the fault's (``RunData.request_phase``): the default SLO's baseline chat
# p99 target. Analyzers pass their own SLO's; ``harness compare`` uses this.
ONSET_GRACE_S = 1.0


class RunDataError(ValueError):
    """The run directory itself is unusable (missing or run.json unreadable)."""


def read_jsonl(path: Path, data: bytes | None = None,
               sizes: list[int] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Parse a JSON-lines file (or its already read ``data``); return (objects, malformed lines skipped).

    With ``sizes``, the byte length of each returned object's line is appended to it.
    """
    out: list[dict[str, Any]] = []
    bad = 0
    if data is None:
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
            if sizes is not None:
                sizes.append(len(line))
        else:
            bad += 1
    return out, bad


ARROW_MIN_BYTES = 1 << 20  # below this the per-line path is as fast and has no edge cases


def _last_line_ok(data: bytes) -> tuple[bytes, int]:
    """Drop an unparsable last line (a crashed worker's truncated write); return (data, dropped)."""
    end = len(data)
    while end and data[end - 1:end].isspace():
        end -= 1
    cut = data.rfind(b"\n", 0, end) + 1
    if cut == 0 and end == 0:
        return data, 0
    try:
        ok = isinstance(_loads(data[cut:end]), dict)
    except _DecodeError:
        ok = False
    return (data, 0) if ok else (data[:cut], 1)


def _arrow_schema(data: bytes) -> Any:
    """Explicit pyarrow types for the fields of the first line that ``FIELD_TYPES`` knows.

    pyarrow's type inference is a third of its parse time on a million records;
    naming the types of the contract's fields skips it (fields it does not know,
    or that only appear in later lines, are still inferred).
    """
    nl = data.find(b"\n")
    try:
        first = _loads(data[: nl if nl >= 0 else len(data)])
    except _DecodeError:
        first = {}
    keys = list(first) if isinstance(first, dict) else []
    return pa.schema([(k, pa.type_for_alias(FIELD_TYPES[k])) for k in keys if k in FIELD_TYPES])


def _line_bytes(body: bytes, rows: int) -> np.ndarray | None:
    """Byte length of each non-blank line of ``body``, or None if they do not line up with ``rows``."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if not len(buf) or buf[-1] != 10:
        ends = np.append(ends, len(buf))
    lengths = np.diff(ends, prepend=-1) - 1
    lengths = lengths[lengths > 0]
    return lengths.astype(np.int64) if len(lengths) == rows else None


def read_jsonl_frame(path: Path, columns: list[str],
                     sizes: list[int] | None = None) -> tuple[pd.DataFrame, int]:
    """Parse a JSON-lines file into a frame with at least ``columns``; return (frame, malformed lines).

    With ``sizes``, the byte length of each row's line is appended to it (left
    empty if that cannot be known row by row).

    Large files go through ``pyarrow.json`` (columnar, both cores) -- about 3 s instead
    of 12 s for a million records. That reader rejects the whole file on one bad line
    or one type conflict (a field that is a number in one line and a string in
    another), so a truncated last line is dropped and counted first, and any other
    failure falls back to the exact per-line path, which counts and skips bad lines.
    Columns that are null in every line become ``None`` object columns, as the
    per-line path makes them, so analyzers see the same frame either way.
    """
    with path.open("rb") as fh:
        data = fh.read()
    if len(data) >= ARROW_MIN_BYTES:
        body, bad = _last_line_ok(data)
        try:
            table = pa_json.read_json(
                pa.py_buffer(body),
                read_options=pa_json.ReadOptions(block_size=8 << 20),
                parse_options=pa_json.ParseOptions(explicit_schema=_arrow_schema(body),
                                                   unexpected_field_behavior="infer"),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        else:
            # lists/structs would arrive as numpy arrays, not the lists/dicts the
            # per-line path gives: only a flat table takes the fast path.
            if table.num_rows and all(not pa.types.is_nested(t) for t in table.schema.types):
                df = table.to_pandas()
                for name, col in zip(table.column_names, table.columns, strict=True):
                    if col.null_count == len(col) or name not in df.columns:
                        df[name] = None
                for c in columns:
                    if c not in df.columns:
                        df[c] = None
                if sizes is not None:
                    lengths = _line_bytes(body, len(df))
                    sizes.extend([] if lengths is None else lengths.tolist())
                return df, bad
    rows, bad = read_jsonl(path, data, sizes=sizes)
    return _frame(rows, columns), bad


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
    # the dynamodb proxy's wire tap (taps/dynamodb.jsonl), empty when the run had none
    wire: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: dict[str, str] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    # bytes of each table.jsonl item as scanned (row-aligned with ``table``): item
    # sizes for capacity units without re-serialising every item in Python
    table_item_bytes: np.ndarray | None = None
    # ``record_phases`` per grace: every analyzer and a comparison ask for the same phases
    _record_phases: dict[float, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

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
    def breaker_config(self) -> BreakerTimings:
        """run.json's breaker timings; keys it lacks (or cannot read) take the design's."""
        try:
            return BreakerTimings.from_json(self.run.get("breaker"))
        except ValueError:
            return DESIGN

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

    def fault_onset(self) -> float | None:
        """When the first fault went on: run.json ``fault.start``, else the start of the phase after the first."""
        start = (self.fault or {}).get("start")
        if isinstance(start, (int, float)) and math.isfinite(start):
            return float(start)
        return float(self.phases[1]["start"]) if len(self.phases) > 1 else None

    def request_phase(self, start: np.ndarray | pd.Series, end: np.ndarray | pd.Series,
                      grace_s: float = ONSET_GRACE_S) -> np.ndarray:
        """Phase of each request by its start, except a first-phase request the fault's onset caught young.

        A baseline request still in flight when the first fault went on, and in
        flight for less than ``grace_s`` then (not yet slow by the baseline's own
        p99 target), met the fault: a 2 s DynamoDB delay or a reset that reaches
        it is the fault's doing, so it is judged with the phase the fault began
        in. One already older than ``grace_s`` at the onset (a hung request) was
        the baseline's problem before any fault, and stays there.
        """
        phase = self.phase_of(start)
        onset = self.fault_onset()
        if onset is None or len(self.phases) < 2:
            return phase
        first = str(self.phases[0]["name"])
        st = np.asarray(start, dtype=float)
        met = (phase == first) & (np.asarray(end, dtype=float) > onset) & (onset - st < grace_s)
        phase[met] = str(self.phase_of(np.array([onset]))[0] or self.phases[1]["name"])
        return phase

    def record_phases(self, grace_s: float = ONSET_GRACE_S) -> np.ndarray:
        """``request_phase`` of every record: from its intended start (else its answer time) to its answer.

        Computed once per ``grace_s``; each caller gets its own copy.
        """
        if grace_s not in self._record_phases:
            ts = self.records["ts"].to_numpy(dtype=float)
            start = self.records["intended_start"].to_numpy(dtype=float)
            self._record_phases[grace_s] = self.request_phase(np.where(np.isfinite(start), start, ts), ts, grace_s)
        return self._record_phases[grace_s].copy()

    def phase_bounds(self, name: str) -> tuple[float, float] | None:
        for p in self.phases:
            if p.get("name") == name:
                return float(p["start"]), float(p["end"])
        return None

    def events_of(self, kind: str) -> pd.DataFrame:
        if not len(self.events):
            return self.events
        return self.events[self.events["event"] == kind]


def load_run(run_dir: Path | str, *, table: bool = True, wire: bool = True) -> RunData:
    """Parse every run-directory file in ``run_dir``; absent files go to ``missing``.

    ``table=False`` / ``wire=False`` skip the DynamoDB scan and the wire tap (left
    empty, not reported missing): a comparison reads neither, and at a million
    turns each is as large as the records.
    """
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

    def jl(rel: str, columns: list[str], sizes: list[int] | None = None) -> pd.DataFrame:
        f = rd / rel
        if not f.is_file():
            # a collector that failed leaves its reason beside the file (``table.error``)
            err = f.with_suffix(".error")
            why = err.read_text(encoding="utf-8", errors="replace").strip()[:300] if err.is_file() else ""
            missing[rel] = f"{rel} not found" + (f" ({why})" if why else "")
            return _frame([], columns)
        df, bad = read_jsonl_frame(f, columns, sizes)
        if bad:
            malformed[rel] = bad
        return df

    recs_all = jl(f"records/{RECORDS_FILE}", RECORD_COLUMNS)
    dups = 0
    if len(recs_all):
        kind = recs_all["kind"].fillna("request").to_numpy()
        is_req = kind == "request"
        records = recs_all if is_req.all() else recs_all[is_req]  # skip a 1M-row copy when all are requests
        missed = recs_all[kind == "missed_start"].reset_index(drop=True)
        ids = records["id"]
        dup = (ids.duplicated() & ids.notna()).to_numpy()  # records without an id are all kept
        if dup.any():
            records = records[~dup]
            dups = int(dup.sum())
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
    item_bytes: list[int] = []  # sizes of the items as scanned, for the partitions analyzer
    table_cols = ["session_id", "turn_number"]
    scanned = jl("table.jsonl", table_cols, sizes=item_bytes) if table else _frame([], table_cols)
    metrics_text: str | None = None
    mp = rd / "metrics.txt"
    if mp.is_file():
        metrics_text = mp.read_text(encoding="utf-8", errors="replace")
    else:
        missing["metrics.txt"] = "metrics.txt not found"
    tap = jl("taps/dynamodb.jsonl", WIRE_COLUMNS) if wire else _frame([], WIRE_COLUMNS)
    if len(tap):
        tap["ts"] = pd.to_numeric(tap["ts"], errors="coerce")
        tap = tap.sort_values("ts", kind="stable").reset_index(drop=True)
    return RunData(rd, run, timeline, records, missed, events, scanned, metrics_text, tap, missing, malformed,
                   dups, np.asarray(item_bytes, dtype=np.int64) if len(item_bytes) == len(scanned) else None)
