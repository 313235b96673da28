"""The traffic model a projection runs on, fitted from one measured run.

Why fit, not assume: the point of the projection is that *this* design's
access pattern -- how many turns a conversation has, how often DynamoDB is read
instead of Redis, how big an item is, how skewed returning customers are, and
how many turns went stateless while the breaker was open -- decides partitions,
throttling and alarms at scale. Every parameter is kept with the number of
samples it rests on, so the report can say how much to trust it.

Distributions are kept as the measured samples (an empirical distribution the
simulation resamples), not as a fitted parametric law, except the key skew: a
Zipf exponent fitted by maximum likelihood to the ``zipf`` scenario's per-key
turn counts, because the projection needs the law beyond the ranks the run saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from harness.analyzers.rundata import RunData
from harness.project.capacity import query_read_units, write_units

DEFAULT_ITEM_BYTES = 600.0
DEFAULT_ZIPF_POPULATION = 1000  # the zipf scenario's --zipf-population default
REDIS_WINDOW = {"seed": 5, "hardened": 10}
REDIS_TTL_S = 3600.0  # the service's EXPIRE on every cached session list
STATELESS_LEVEL = 2
SLOW_CALL_MS = 50.0  # the design's DynamoDB latency alarm threshold


@dataclass(frozen=True)
class Fitted:
    """One fitted number, with the samples behind it and where it came from."""

    value: float
    samples: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "samples": self.samples, "source": self.source}


@dataclass(frozen=True)
class Skew:
    """Key-access skew: ``uniform`` (every session its own key) or a Zipf law over a population."""

    kind: str  # "uniform" | "zipf"
    s: float = 0.0
    population: int = 0
    keys_per_session: float = 1.0  # distinct keys per visit, to scale the population with traffic
    samples: int = 0
    top_share_measured: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "s": self.s, "population": self.population,
                "keys_per_session": self.keys_per_session, "samples": self.samples,
                "top_share_measured": self.top_share_measured}


@dataclass(frozen=True)
class Degradation:
    """What the run's fault did to turns while the breaker was open (None when it never opened)."""

    stateless_turn_share: Fitted | None
    stateless_session_share: Fitted | None
    stateless_turns_per_s: Fitted | None
    slow_call_share: Fitted | None  # DynamoDB calls slower than the latency alarm's threshold, in the fault

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.to_dict() if v else None) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RunModel:
    """Everything the simulation draws from. Arrays are empirical samples, resampled with replacement."""

    run_id: str
    variant: str
    turns_per_session: np.ndarray
    inter_turn_s: np.ndarray
    item_bytes: np.ndarray
    query_rcu: np.ndarray  # read units of one measured Query (eventually consistent, summed then rounded)
    query_bytes: np.ndarray  # total bytes one Query returned
    reads_per_turn: Fitted
    writes_per_turn: Fitted
    redis_hit_share: Fitted
    redis_window: int
    skew: Skew
    degradation: Degradation
    notes: list[str] = field(default_factory=list)

    def parameters(self) -> dict[str, Any]:
        """Every fitted parameter with its sample count, for the report."""
        def dist(a: np.ndarray, source: str) -> dict[str, Any]:
            a = np.asarray(a, dtype=float)
            return {"samples": len(a), "source": source,
                    "mean": round(float(a.mean()), 3) if len(a) else None,
                    "p50": round(float(np.median(a)), 3) if len(a) else None,
                    "p99": round(float(np.quantile(a, 0.99)), 3) if len(a) else None}
        return {
            "turns_per_session": dist(self.turns_per_session, "chat turns per session (records)"),
            "inter_turn_s": dist(self.inter_turn_s, "gap between a session's turns (records)"),
            "item_bytes": dist(self.item_bytes, "table.jsonl items as scanned"),
            "query_rcu": dist(self.query_rcu, "DynamoDB Queries: items x item size, rounded per Query"),
            "reads_per_turn": self.reads_per_turn.to_dict(),
            "writes_per_turn": self.writes_per_turn.to_dict(),
            "redis_hit_share": self.redis_hit_share.to_dict(),
            "redis_window": self.redis_window,
            "skew": self.skew.to_dict(),
            "degradation": self.degradation.to_dict(),
        }


def _chat_records(run: RunData) -> pd.DataFrame:
    r = run.records
    if not len(r):
        return r
    ok = r["session_id"].notna() & (pd.to_numeric(r["status"], errors="coerce") == 200)
    if "name" in r:
        ok &= r["name"].astype(str).str.contains("chat|ws", case=False, regex=True)
    return r[ok]


def _sessions(recs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Turns per session and gaps between consecutive turns, for non-returning (non-zipf) sessions."""
    if not len(recs):
        return np.array([1.0]), np.array([30.0])
    non_zipf = recs[recs["scenario"].astype(str) != "zipf"]
    use = non_zipf if len(non_zipf) else recs
    use = use.sort_values(["session_id", "start"], kind="stable")
    turns = use.groupby("session_id", sort=False).size().to_numpy(dtype=float)
    start = use["start"].to_numpy(dtype=float)
    same = use["session_id"].to_numpy()[1:] == use["session_id"].to_numpy()[:-1]
    gaps = np.diff(start)[same]
    gaps = gaps[np.isfinite(gaps) & (gaps >= 0)]
    return turns, (gaps if len(gaps) else np.array([30.0]))


def _items(run: RunData) -> tuple[np.ndarray, str]:
    if run.table_item_bytes is not None and len(run.table_item_bytes):
        return run.table_item_bytes.astype(float), "table.jsonl"
    ev = run.events
    if len(ev):
        w = ev[(ev["event"] == "memory_write") & (ev["store"] == "dynamodb")]
        b = pd.to_numeric(w["bytes"], errors="coerce").dropna().to_numpy(dtype=float)
        if len(b):
            return b, "memory_write events"
    return np.array([DEFAULT_ITEM_BYTES]), "default (no items measured)"


def fit_zipf(counts: np.ndarray, population: int) -> float:
    """Maximum-likelihood Zipf exponent for per-key counts, ranks 1..population by count.

    Why MLE over a log-log line fit: the least-squares slope of a rank-frequency
    plot is biased by the noisy tail, where a short run sees each key once or
    twice; the likelihood weights every observed turn equally.
    """
    c = np.sort(np.asarray(counts, dtype=float))[::-1]
    n = max(int(population), len(c))
    log_rank = np.log(np.arange(1, len(c) + 1))
    all_log_rank = np.log(np.arange(1, n + 1))
    total = c.sum()
    wsum = float((c * log_rank).sum())

    def nll(s: float) -> float:
        return s * wsum + total * float(np.log(np.exp(-s * all_log_rank).sum()))

    return float(optimize.minimize_scalar(nll, bounds=(0.01, 5.0), method="bounded").x)


def _skew(recs: pd.DataFrame, run: RunData) -> Skew:
    z = recs[recs["scenario"].astype(str) == "zipf"] if len(recs) else recs
    if len(z) < 20:
        return Skew("uniform")
    counts = z.groupby("session_id").size().to_numpy(dtype=float)
    population = int(run.run.get("zipf_population") or DEFAULT_ZIPF_POPULATION)
    s = fit_zipf(counts, population)
    # visits: a zipf customer's visit is a run of turns; measure keys per visit from turn numbers restarting
    visits = max(1, int((pd.to_numeric(z["turn"], errors="coerce") == 1).sum()))
    return Skew("zipf", round(s, 4), population, round(min(1.0, len(counts) / visits), 4), len(z),
                round(float(counts.max() / counts.sum()), 4))


def _open_windows(run: RunData) -> list[tuple[float, float]]:
    """Intervals when the DynamoDB breaker was not closed, from its transition events."""
    tr = run.events_of("breaker_transition")
    if not len(tr):
        return []
    if "breaker" in tr:
        tr = tr[tr["breaker"].fillna("dynamodb") == "dynamodb"]
    out: list[tuple[float, float]] = []
    start: float | None = None
    for ts, to in zip(tr["ts"].to_numpy(dtype=float), tr["to"].astype(str), strict=True):
        if to != "closed" and start is None:
            start = ts
        elif to == "closed" and start is not None:
            out.append((start, ts))
            start = None
    if start is not None:
        out.append((start, run.t_end))
    return out


def _degradation(run: RunData, recs: pd.DataFrame) -> Degradation:
    fault = run.fault
    if not fault or not fault.get("faults"):
        return Degradation(None, None, None, None)  # a run without a fault measured no degradation
    windows = _open_windows(run)
    slow = _slow_share(run)
    if not windows or not len(recs):
        return Degradation(None, None, None, slow)
    ts = recs["start"].to_numpy(dtype=float)
    inside = np.zeros(len(recs), dtype=bool)
    for a, b in windows:
        inside |= (ts >= a) & (ts < b)
    w = recs[inside]
    if not len(w):
        return Degradation(None, None, None, slow)
    stateless = pd.to_numeric(w["level"], errors="coerce").fillna(0).to_numpy() >= STATELESS_LEVEL
    per_session = pd.Series(stateless).groupby(w["session_id"].to_numpy()).any()
    open_s = sum(b - a for a, b in windows)
    src = f"turns started while the breaker was open ({open_s:.1f} s in {len(windows)} window(s))"
    return Degradation(Fitted(round(float(stateless.mean()), 4), len(w), src),
                       Fitted(round(float(per_session.mean()), 4), len(per_session), src),
                       Fitted(round(float(stateless.sum()) / max(open_s, 1e-9), 3), len(w), src), slow)


def _slow_share(run: RunData) -> Fitted | None:
    ev, fault = run.events, run.phase_bounds("fault")
    if not len(ev) or fault is None:
        return None
    m = ev[ev["event"].isin(["memory_read", "memory_write"]) & (ev["store"] == "dynamodb")
           & (ev["outcome"] != "circuit_open") & (ev["ts"] >= fault[0]) & (ev["ts"] < fault[1])]
    lat = pd.to_numeric(m["latency_ms"], errors="coerce").dropna().to_numpy(dtype=float)
    if not len(lat):
        return None
    return Fitted(round(float((lat > SLOW_CALL_MS).mean()), 4), len(lat),
                  f"DynamoDB calls in the fault phase slower than {SLOW_CALL_MS:g} ms")


def _paths(run: RunData, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, Fitted, Fitted, Fitted]:
    """Per-turn DynamoDB reads and writes in normal operation (outside the fault), and the Redis hit share."""
    ev = run.events
    fault = run.phase_bounds("fault")
    healthy = ev if fault is None or not len(ev) else ev[(ev["ts"] < fault[0]) | (ev["ts"] >= fault[1] + 60.0)]
    if fault is not None and len(healthy) and not (healthy["event"] == "chat").any():
        healthy = ev
    chats = int((healthy["event"] == "chat").sum()) if len(healthy) else 0
    if not chats:
        zero = Fitted(0.0, 0, "no chat events")
        return np.array([0.5]), np.array([0.0]), zero, Fitted(1.0, 0, "no chat events"), zero
    dyn = healthy[(healthy["store"] == "dynamodb") & ~healthy["outcome"].isin(["circuit_open"])]
    reads = dyn[dyn["event"] == "memory_read"]
    writes = dyn[dyn["event"] == "memory_write"]
    n_items = pd.to_numeric(reads["items"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    rng = np.random.default_rng(0)
    # a Query's size is the sum of the items it returned: draw that many measured item sizes
    qbytes = np.array([rng.choice(items, k).sum() if k else 0.0 for k in n_items[:20_000]], dtype=float)
    qrcu = query_read_units(qbytes) if len(qbytes) else np.array([0.5])
    redis_reads = healthy[(healthy["event"] == "memory_read") & (healthy["store"] == "redis")]
    hits = int((redis_reads["outcome"] == "hit").sum())
    src = f"{chats} chat turns outside the fault"
    return (qrcu, qbytes if len(qbytes) else np.array([0.0]),
            Fitted(round(len(reads) / chats, 4), chats, src + f", {len(reads)} DynamoDB Queries"),
            Fitted(round(hits / max(len(redis_reads), 1), 4), len(redis_reads), "Redis reads outside the fault"),
            Fitted(round(len(writes) / chats, 4), chats, src + f", {len(writes)} DynamoDB puts (retries included)"))


def fit_model(run: RunData) -> RunModel:
    """Fit the projection's model from a loaded run (``harness.analyzers.rundata.load_run``)."""
    recs = _chat_records(run)
    turns, gaps = _sessions(recs)
    items, item_src = _items(run)
    qrcu, qbytes, reads, hit, writes = _paths(run, items)
    notes = [f"item sizes from {item_src}"]
    if writes.value == 0:
        notes.append("no DynamoDB writes measured: one put per turn assumed")
        writes = Fitted(1.0, 0, "assumed: the design writes every turn")
    window = REDIS_WINDOW.get(run.variant, 10)
    if len(run.events):
        rr = run.events[(run.events["event"] == "memory_read") & (run.events["store"] == "redis")]
        seen = pd.to_numeric(rr["items"], errors="coerce").max()
        if pd.notna(seen):
            window = max(window if run.variant in REDIS_WINDOW else 0, int(seen))
    return RunModel(run.run_id, run.variant, turns, gaps, items, qrcu, qbytes, reads, writes, hit, window,
                    _skew(recs, run), _degradation(run, recs), notes)


def synthetic_model(*, turns: float = 6, gap_s: float = 30.0, item_bytes: float = 1000.0,
                    reads_per_turn: float = 0.0, query_items: int = 10, writes_per_turn: float = 1.0,
                    skew: Skew | None = None, degradation: Degradation | None = None,
                    window: int = 10) -> RunModel:
    """A model with fixed (degenerate) distributions, so a projection can be checked by hand."""
    qbytes = np.array([query_items * item_bytes])
    return RunModel("synthetic", "hardened", np.array([float(turns)]), np.array([gap_s]), np.array([item_bytes]),
                    query_read_units(qbytes), qbytes, Fitted(reads_per_turn, 0, "given"),
                    Fitted(writes_per_turn, 0, "given"), Fitted(1.0 - min(reads_per_turn, 1.0), 0, "given"),
                    window, skew or Skew("uniform"), degradation or Degradation(None, None, None, None))


__all__ = ["Degradation", "Fitted", "RunModel", "Skew", "fit_model", "fit_zipf", "synthetic_model",
           "write_units"]
