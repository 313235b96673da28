"""Simulate a day (or days) of the design's traffic at a given scale, vectorised and in bounded memory.

Why simulate rather than multiply averages: throttling is decided per partition
and per second, by the hottest key and by bursts, and partitions never merge --
maxima over time and space that a mean rate hides. Sessions are generated from
the run's fitted distributions (``model.RunModel``) a chunk at a time, their
turns binned (1 s in the peak hour, 1 min elsewhere) and hashed onto
partitions, and the rules of ``capacity`` applied to the binned totals.

Not modelled, because AWS does not publish it: the real hash (a uniform
stand-in), split timings (partitions split instantly into equal hash ranges),
exact burst accounting and retries after throttling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import optimize, special

from harness.project import capacity as cap
from harness.project.model import REDIS_TTL_S, RunModel

DAY_S = 86_400.0
PEAK_AT_S = 14 * 3600.0  # the diurnal peak, 14:00 (its position does not change any daily total)
REDIS_KEY_OVERHEAD_B = 96.0  # per session list: key, dict entry, expire entry (an estimate, not measured)
REDIS_ITEM_OVERHEAD_B = 24.0  # per list element in a listpack/quicklist (an estimate)
HEAD_KEYS = 64  # Zipf ranks tracked one by one for hot-key throttling


@dataclass(frozen=True)
class ProjectionParams:
    sessions_per_day: int
    peak_to_mean: float = 3.0
    days: int = 2
    mode: Literal["on-demand", "provisioned"] = "on-demand"
    seed: int = 0
    provisioned_rcu: float = 0.0
    provisioned_wcu: float = 0.0
    previous_peak_rru: float = cap.NEW_TABLE_RRU / 2  # a new table serves twice this at once
    previous_peak_wru: float = cap.NEW_TABLE_WRU / 2
    consistent_reads: bool = False  # the reference service reads eventually consistently
    fine_s: float = 1.0
    coarse_s: float = 60.0
    ttl_deletion_lag_s: float = cap.TTL_DELETION_LAG_S
    zipf_population: int | None = None
    chunk_sessions: int = 1_000_000


@dataclass
class Grid:
    """Bucket edges over the horizon: ``fine_s`` buckets in each day's peak hour, ``coarse_s`` elsewhere."""

    edges: np.ndarray

    @property
    def t(self) -> np.ndarray:
        return self.edges[:-1]

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.edges)

    @property
    def horizon(self) -> float:
        return float(self.edges[-1])

    def __len__(self) -> int:
        return len(self.edges) - 1


def build_grid(days: int, fine_s: float, coarse_s: float) -> Grid:
    parts = []
    lo, hi = PEAK_AT_S - 1800.0, PEAK_AT_S + 1800.0
    for d in range(days):
        o = d * DAY_S
        parts += [np.arange(o, o + lo, coarse_s), np.arange(o + lo, o + hi, fine_s),
                  np.arange(o + hi, o + DAY_S, coarse_s)]
    return Grid(np.append(np.concatenate(parts), days * DAY_S))


def diurnal_kappa(peak_to_mean: float) -> float:
    """Concentration k of the curve exp(k cos(2 pi (t - peak) / day)) whose peak is ``peak_to_mean`` x its mean.

    Why this curve: it is positive for any peak-to-mean (a shifted cosine goes
    negative above 2) and its max/mean is 1/i0e(k), so k solves in one line.
    """
    if peak_to_mean <= 1.0:
        return 0.0
    return float(optimize.brentq(lambda k: 1.0 / special.i0e(k) - peak_to_mean, 1e-9, 1e4))


def diurnal_density(t: np.ndarray, kappa: float) -> np.ndarray:
    """Arrival rate at time t relative to the day's mean (mean 1 over a day)."""
    phase = 2 * np.pi * (np.asarray(t) - PEAK_AT_S) / DAY_S
    return np.exp(kappa * (np.cos(phase) - 1.0)) / special.i0e(kappa)


@dataclass
class Accum:
    """Per-bucket sums over every chunk of sessions; the only state that grows with the grid, not the scale."""

    buckets: int
    slots: int
    minutes: int
    head: int
    turns: np.ndarray = field(init=False)
    rcu: np.ndarray = field(init=False)
    wcu: np.ndarray = field(init=False)
    writes: np.ndarray = field(init=False)
    reads: np.ndarray = field(init=False)
    written_bytes: np.ndarray = field(init=False)
    heat_rcu: np.ndarray = field(init=False)
    heat_wcu: np.ndarray = field(init=False)
    head_rcu: np.ndarray = field(init=False)
    head_wcu: np.ndarray = field(init=False)
    redis_diff: np.ndarray = field(init=False)
    live_diff: np.ndarray = field(init=False)
    active_per_min: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        b = self.buckets
        for name in ("turns", "rcu", "wcu", "writes", "reads", "written_bytes"):
            setattr(self, name, np.zeros(b))
        self.heat_rcu = np.zeros(b * self.slots)
        self.heat_wcu = np.zeros(b * self.slots)
        self.head_rcu = np.zeros(b * max(self.head, 1))
        self.head_wcu = np.zeros(b * max(self.head, 1))
        self.redis_diff = np.zeros(b + 1)
        self.live_diff = np.zeros(b + 1)
        self.active_per_min = np.zeros(self.minutes)


class KeySampler:
    """Which partition key each session uses: its own (uniform) or a Zipf-ranked returning customer's."""

    def __init__(self, model: RunModel, params: ProjectionParams) -> None:
        sk = model.skew
        self.zipf = sk.kind == "zipf"
        self.population = 0
        self.cdf: np.ndarray | None = None
        if self.zipf:
            pop = params.zipf_population or max(sk.population, round(sk.keys_per_session * params.sessions_per_day))
            self.population = int(pop)
            w = np.arange(1, self.population + 1, dtype=float) ** -sk.s
            self.cdf = np.cumsum(w) / w.sum()

    def head_share(self) -> np.ndarray:
        if self.cdf is None:
            return np.zeros(0)
        return np.diff(self.cdf[:HEAD_KEYS], prepend=0.0)

    def keys(self, first: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(key ids, head rank or -1) for sessions first..first+n."""
        if self.cdf is None:
            return np.arange(first, first + n, dtype=np.int64) + (1 << 40), np.full(n, -1)
        rank = np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.population - 1).astype(np.int64)
        return rank, np.where(rank < HEAD_KEYS, rank, -1)


def _turn_offsets(n: np.ndarray, gaps: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-turn offset from its session's start, and the index of each session's first turn."""
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    g = rng.choice(gaps, int(n.sum()))
    g[first] = 0.0
    cs = np.cumsum(g)
    return cs - np.repeat(cs[first], n), first


def _chunk(acc: Accum, grid: Grid, model: RunModel, params: ProjectionParams, keys: KeySampler,
           arrival_cdf: np.ndarray, first_session: int, n_sess: int, rng: np.random.Generator) -> None:
    """Generate ``n_sess`` sessions and add their turns to ``acc``; memory is O(turns of this chunk)."""
    H = grid.horizon
    day = (first_session + np.arange(n_sess)) // params.sessions_per_day
    start = np.interp(rng.random(n_sess), arrival_cdf, np.arange(len(arrival_cdf), dtype=float)) + day * DAY_S
    n = rng.choice(model.turns_per_session, n_sess).astype(np.int64).clip(1)
    off, first = _turn_offsets(n, model.inter_turn_s, rng)
    tt = (np.repeat(start, n) + off) % H
    b = np.searchsorted(grid.edges, tt, side="right") - 1
    T = len(tt)
    item = rng.choice(model.item_bytes, T)
    wcu = cap.write_units(item) * model.writes_per_turn.value
    r = model.reads_per_turn.value
    has_q = rng.random(T) < min(r, 1.0)
    rcu = np.where(has_q, rng.choice(model.query_rcu, T), 0.0) * max(r, 1.0)
    if params.consistent_reads:
        rcu = rcu / cap.EVENTUAL_READ_FACTOR
    key, head = keys.keys(first_session, n_sess, rng)
    slot = np.repeat((cap.hash_unit(key) * acc.slots).astype(np.int64), n)
    B = acc.buckets
    acc.turns += np.bincount(b, minlength=B)
    acc.rcu += np.bincount(b, rcu, B)
    acc.wcu += np.bincount(b, wcu, B)
    acc.writes += np.bincount(b, np.full(T, model.writes_per_turn.value), B)
    acc.reads += np.bincount(b, has_q * max(r, 1.0), B)
    acc.written_bytes += np.bincount(b, item, B)
    cell = b * acc.slots + slot
    acc.heat_rcu += np.bincount(cell, rcu, B * acc.slots)
    acc.heat_wcu += np.bincount(cell, wcu, B * acc.slots)
    h = np.repeat(head, n)
    if keys.zipf:
        hm = h >= 0
        hc = b[hm] * acc.head + h[hm]
        acc.head_rcu += np.bincount(hc, rcu[hm], B * acc.head)
        acc.head_wcu += np.bincount(hc, wcu[hm], B * acc.head)
    _redis(acc, grid, model, start, n, off[np.cumsum(n) - 1], item, first)
    minute = (tt // 60.0).astype(np.int64)
    new = np.ones(T, dtype=bool)
    new[1:] = minute[1:] != minute[:-1]
    new[first] = True
    acc.active_per_min += np.bincount(minute[new], minlength=acc.minutes)[: acc.minutes]


def _redis(acc: Accum, grid: Grid, model: RunModel, start: np.ndarray, n: np.ndarray, last_off: np.ndarray,
           item: np.ndarray, first: np.ndarray) -> None:
    """Add each session's Redis list (min(turns, window) items) from its first turn to last turn + TTL."""
    H = grid.horizon
    mean_item = np.add.reduceat(item, first) / n
    w = np.minimum(n, model.redis_window) * (mean_item + REDIS_ITEM_OVERHEAD_B) + REDIS_KEY_OVERHEAD_B
    s = start % H
    e = s + last_off + REDIS_TTL_S
    wrap = e >= H
    bs = np.searchsorted(grid.edges, s, side="right") - 1
    be = np.searchsorted(grid.edges, np.where(wrap, e - H, e), side="right") - 1
    nb = acc.buckets + 1
    for diff, weight in ((acc.redis_diff, w), (acc.live_diff, np.ones(len(w)))):
        diff += np.bincount(bs, weight, nb) - np.bincount(be, weight, nb)
        diff[0] += weight[wrap].sum()


def _slots_for(model: RunModel, params: ProjectionParams) -> int:
    """Hash-space resolution: enough slots that every partition spans at least 16 of them."""
    turns = params.sessions_per_day * float(np.mean(model.turns_per_session))
    size = turns * float(np.mean(model.item_bytes)) * (cap.TTL_S + params.ttl_deletion_lag_s) / DAY_S
    peak = turns / DAY_S * params.peak_to_mean
    est = max(size / cap.PARTITION_BYTES,
              peak * (np.mean(model.query_rcu) * model.reads_per_turn.value / cap.PARTITION_RCU
                      + model.writes_per_turn.value * np.mean(cap.write_units(model.item_bytes)) / cap.PARTITION_WCU))
    return int(np.clip(2 ** np.ceil(np.log2(max(16 * (est + 1), 1))), 256, 8192))


def run_chunks(model: RunModel, params: ProjectionParams) -> tuple[Grid, Accum, KeySampler]:
    """Generate every session of the horizon, a chunk at a time, into an ``Accum``."""
    grid = build_grid(params.days, params.fine_s, params.coarse_s)
    keys = KeySampler(model, params)
    acc = Accum(len(grid), _slots_for(model, params), int(params.days * DAY_S // 60), HEAD_KEYS if keys.zipf else 0)
    sec = np.arange(int(DAY_S) + 1, dtype=float)
    dens = diurnal_density(sec[:-1] + 0.5, diurnal_kappa(params.peak_to_mean))
    arrival_cdf = np.concatenate(([0.0], np.cumsum(dens))) / dens.sum()
    rng = np.random.default_rng(params.seed)
    total = params.sessions_per_day * params.days
    for first in range(0, total, params.chunk_sessions):
        _chunk(acc, grid, model, params, keys, arrival_cdf, first, min(params.chunk_sessions, total - first), rng)
    return grid, acc, keys
