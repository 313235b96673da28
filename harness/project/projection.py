"""From the simulated buckets to the answers: partitions, heat, throttling, Redis memory, cost and alarms.

Why a separate step: the simulation (``simulate``) only counts what the day's
traffic asks of DynamoDB; this module applies DynamoDB's documented rules
(``capacity``) to those counts, so each rule is applied once, to small
per-bucket arrays, and can be checked apart from the random generation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.project import capacity as cap
from harness.project.model import RunModel
from harness.project.prices import Prices
from harness.project.simulate import DAY_S, Accum, Grid, KeySampler, ProjectionParams, run_chunks


@dataclass(frozen=True)
class AlarmPolicy:
    """The design's alarms as the SLO file sets them (threshold, period, datapoints)."""

    period_s: float = 60.0
    stateless_threshold_pct: float = 1.0
    stateless_datapoints: int = 1
    latency_threshold_ms: float = 50.0
    latency_datapoints: int = 3
    outage_s: float = 60.0


@dataclass
class Projection:
    """Everything ``harness project`` reports; JSON-serialisable through ``to_dict``."""

    run_id: str
    params: dict[str, Any]
    model: dict[str, Any]
    prices: dict[str, Any]
    summary: dict[str, Any]
    partitions: dict[str, Any]
    throttling: dict[str, Any]
    hot_key: dict[str, Any]
    redis: dict[str, Any]
    cost: dict[str, Any]
    alarms: dict[str, Any]
    series: dict[str, list[float]]
    heat: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    gate: list[dict[str, Any]] = field(default_factory=list)
    runtime: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Projection:
        return cls(**d)

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gate)


def steady_size(grid: Grid, written: np.ndarray, retention_s: float) -> np.ndarray:
    """Table bytes at each bucket end: everything written in the last ``retention_s`` (TTL + deletion lag).

    The horizon repeats periodically before t = 0, so the table starts at its
    steady state rather than empty (a deployed table has held days of turns).
    """
    H = grid.horizon
    F = np.concatenate(([0.0], np.cumsum(written)))
    total = F[-1]

    def cum(x: np.ndarray) -> np.ndarray:
        return np.floor(x / H) * total + np.interp(np.mod(x, H), grid.edges, F)

    ends = grid.edges[1:]
    return cum(ends) - cum(ends - retention_s)


def _partitions(grid: Grid, acc: Accum, size: np.ndarray) -> dict[str, np.ndarray]:
    """Partition count over time: for size, for throughput, plus splits for heat; never merging."""
    dt = grid.dt
    rcu_s, wcu_s = acc.rcu / dt, acc.wcu / dt
    by_size = cap.partitions_for(size, 0.0, 0.0) * (size > 0)
    by_tput = cap.partitions_for(0.0, rcu_s, wcu_s)
    base = np.maximum.accumulate(np.maximum(by_size, by_tput))
    S = acc.slots
    pmax = int(base.max())
    part_of_slot = (np.arange(S)[None, :] * base[:, None]) // S  # equal hash ranges, B x S
    cell = (np.arange(len(grid))[:, None] * pmax + part_of_slot).ravel()
    n = len(grid) * pmax
    heat = (np.bincount(cell, acc.heat_rcu, n) / cap.PARTITION_RCU
            + np.bincount(cell, acc.heat_wcu, n) / cap.PARTITION_WCU).reshape(len(grid), pmax) / dt[:, None]
    heat_extra = np.maximum(0.0, np.ceil(heat) - 1.0).sum(axis=1)
    total = np.maximum.accumulate(base + heat_extra).astype(np.int64)
    return {"by_size": by_size, "by_tput": by_tput, "base": base, "total": total, "heat": heat}


def _hot_keys(grid: Grid, acc: Accum, keys: KeySampler) -> dict[str, Any]:
    """Each head key alone on its partition (adaptive capacity's best case): its load and what throttles."""
    B, K = len(grid), acc.head
    if not keys.zipf:
        return {"tracked": 0, "thr_rcu": np.zeros(B), "thr_wcu": np.zeros(B)}
    dt = grid.dt[:, None]
    rcu = acc.head_rcu.reshape(B, K) / dt
    wcu = acc.head_wcu.reshape(B, K) / dt
    util = cap.utilisation(rcu, wcu)
    share = cap.burst_throttle(util, grid.dt)
    thr_rcu, thr_wcu = (share * rcu * dt).sum(axis=1), (share * wcu * dt).sum(axis=1)
    top = int(np.argmax(util.max(axis=0)))
    peak_b = int(np.argmax(util[:, top]))
    over = util[:, top] > 1.0
    return {"tracked": K, "thr_rcu": thr_rcu, "thr_wcu": thr_wcu, "rank": top + 1,
            "share": float(keys.head_share()[top]), "population": keys.population,
            "peak_rcu_per_s": float(rcu[peak_b, top]), "peak_wcu_per_s": float(wcu[peak_b, top]),
            "peak_utilisation": float(util[peak_b, top]), "seconds_over_limit": float(grid.dt[over].sum()),
            "throttled": bool((share[:, top] > 0).any()),
            "keys_over_limit": int((util.max(axis=0) > 1.0).sum()),
            "last_tracked_peak_utilisation": float(util[:, -1].max())}


def _table_throttle(grid: Grid, acc: Accum, params: ProjectionParams) -> dict[str, np.ndarray]:
    """Table-level limits: on-demand previous-peak doubling and quota, or the provisioned capacity."""
    dt = grid.dt
    rcu_s, wcu_s = acc.rcu / dt, acc.wcu / dt
    if params.mode == "provisioned":
        r_share = cap.burst_throttle((rcu_s / max(params.provisioned_rcu, 1e-9))[:, None], dt)[:, 0]
        w_share = cap.burst_throttle((wcu_s / max(params.provisioned_wcu, 1e-9))[:, None], dt)[:, 0]
        return {"thr_rcu": r_share * acc.rcu, "thr_wcu": w_share * acc.wcu,
                "allowed_rcu": np.full(len(dt), params.provisioned_rcu),
                "allowed_wcu": np.full(len(dt), params.provisioned_wcu)}
    ar, tr = cap.on_demand_allowance(rcu_s, grid.t, dt, params.previous_peak_rru, cap.TABLE_QUOTA_RRU)
    aw, tw = cap.on_demand_allowance(wcu_s, grid.t, dt, params.previous_peak_wru, cap.TABLE_QUOTA_WRU)
    return {"thr_rcu": tr * dt, "thr_wcu": tw * dt, "allowed_rcu": ar, "allowed_wcu": aw}


def _per_minute(grid: Grid, values: np.ndarray, how: str = "sum") -> np.ndarray:
    """Fold bucket values onto 1-minute points (sum of counts, or max of a level)."""
    minute = (grid.t // 60.0).astype(np.int64)
    m = int(grid.horizon // 60)
    if how == "sum":
        return np.bincount(minute, values, m)
    out = np.full(m, -np.inf)
    np.maximum.at(out, minute, values)
    return out


def _cost(acc: Accum, size: np.ndarray, grid: Grid, params: ProjectionParams, prices: Prices) -> dict[str, Any]:
    days = params.days
    mean_gb = float(np.average(size, weights=grid.dt)) / 1e9
    storage_month = max(0.0, mean_gb - prices.storage_free_gb) * prices.storage_per_gb_month
    if params.mode == "provisioned":
        reads_day = params.provisioned_rcu * 24 * prices.provisioned_per_rcu_hour
        writes_day = params.provisioned_wcu * 24 * prices.provisioned_per_wcu_hour
    else:
        reads_day = acc.rcu.sum() / days / 1e6 * prices.on_demand_per_million_rru
        writes_day = acc.wcu.sum() / days / 1e6 * prices.on_demand_per_million_wru
    per_day = {"reads": round(float(reads_day), 2), "writes": round(float(writes_day), 2),
               "storage": round(storage_month / 30.0, 2)}
    return {"currency": prices.currency, "as_of": prices.as_of, "region": prices.region, "mode": params.mode,
            "per_day": per_day, "per_30_days": round(30 * sum(per_day.values()), 2),
            "storage_gb_mean": round(mean_gb, 2),
            "request_units_per_day": {"read": round(float(acc.rcu.sum()) / days),
                                      "write": round(float(acc.wcu.sum()) / days)}}


def _alarms(model: RunModel, acc: Accum, grid: Grid, policy: AlarmPolicy) -> dict[str, Any]:
    """A DynamoDB outage of ``policy.outage_s`` at the busiest minute, with the run's measured degradation."""
    m = int(np.argmax(acc.active_per_min))
    active = float(acc.active_per_min[m])
    turns_m = float(_per_minute(grid, acc.turns)[m])
    frac = min(policy.outage_s, policy.period_s) / policy.period_s  # share of one period the outage fills
    out: dict[str, Any] = {"outage_s": policy.outage_s, "period_s": policy.period_s, "at_minute": m,
                           "active_sessions_in_period": round(active), "turns_in_period": round(turns_m)}
    deg = model.degradation
    if deg.stateless_session_share is None or deg.stateless_turn_share is None:
        out["stateless"] = {"measured": False, "fires": None,
                            "why": "the run's breaker never opened: no degradation to scale"}
    else:
        q_s, q_t = deg.stateless_session_share.value, deg.stateless_turn_share.value
        sessions = q_s * active * frac
        pct = 100.0 * sessions / max(active, 1.0)
        periods = math.ceil(policy.outage_s / policy.period_s)
        out["stateless"] = {"measured": True, "stateless_sessions": round(sessions),
                            "stateless_turns": round(q_t * turns_m * frac), "share_pct": round(pct, 3),
                            "threshold_pct": policy.stateless_threshold_pct,
                            "breaching_periods": periods if pct > policy.stateless_threshold_pct else 0,
                            "fires": bool(pct > policy.stateless_threshold_pct
                                          and periods >= policy.stateless_datapoints)}
    slow = deg.slow_call_share
    if slow is None:
        out["dynamodb_latency"] = {"measured": False, "fires": None, "why": "no DynamoDB calls in a fault phase"}
    else:
        share = slow.value * frac
        breaching = math.ceil(policy.outage_s / policy.period_s) if share > 0.01 else 0
        out["dynamodb_latency"] = {"measured": True, "slow_call_share": round(share, 4),
                                   "p99_over_threshold": share > 0.01, "breaching_periods": breaching,
                                   "datapoints_to_alarm": policy.latency_datapoints,
                                   "fires": breaching >= policy.latency_datapoints}
    return out


def _series(grid: Grid, acc: Accum, parts: dict[str, np.ndarray], size: np.ndarray, thr_req: np.ndarray,
            redis_b: np.ndarray) -> dict[str, list[float]]:
    def r(a: np.ndarray, nd: int = 3) -> list[float]:
        return [round(float(x), nd) for x in a]

    return {"minute": r(np.arange(int(grid.horizon // 60)), 0),
            "turns_per_s": r(_per_minute(grid, acc.turns) / 60.0, 2),
            "rcu_per_s_max": r(_per_minute(grid, acc.rcu / grid.dt, "max"), 1),
            "wcu_per_s_max": r(_per_minute(grid, acc.wcu / grid.dt, "max"), 1),
            "partitions": r(_per_minute(grid, parts["total"].astype(float), "max"), 0),
            "partitions_size": r(_per_minute(grid, parts["by_size"].astype(float), "max"), 0),
            "partitions_throughput": r(_per_minute(grid, parts["by_tput"].astype(float), "max"), 0),
            "throttled_requests": r(_per_minute(grid, thr_req), 1),
            "table_gb": r(_per_minute(grid, size, "max") / 1e9, 2),
            "redis_gb": r(_per_minute(grid, redis_b, "max") / 1e9, 4)}


def project(model: RunModel, params: ProjectionParams, prices: Prices,
            policy: AlarmPolicy | None = None) -> Projection:
    """Simulate ``params`` on ``model`` and apply DynamoDB's rules; the one entry point for the CLI and tests."""
    policy = policy or AlarmPolicy()
    grid, acc, keys = run_chunks(model, params)
    dt = grid.dt
    size = steady_size(grid, acc.written_bytes, cap.TTL_S + params.ttl_deletion_lag_s)
    parts = _partitions(grid, acc, size)
    hot = _hot_keys(grid, acc, keys)
    table = _table_throttle(grid, acc, params)
    thr_rcu = np.minimum(acc.rcu, hot["thr_rcu"] + table["thr_rcu"])
    thr_wcu = np.minimum(acc.wcu, hot["thr_wcu"] + table["thr_wcu"])
    per_write = acc.wcu.sum() / max(acc.writes.sum(), 1e-9)
    per_read = acc.rcu.sum() / max(acc.reads.sum(), 1e-9)
    thr_req = thr_wcu / per_write + (thr_rcu / per_read if acc.reads.sum() else 0.0)
    requests = float(acc.writes.sum() + acc.reads.sum())
    redis_b = np.cumsum(acc.redis_diff)[:-1]
    live = np.cumsum(acc.live_diff)[:-1]
    pb = int(np.argmax(acc.rcu / dt / cap.PARTITION_RCU + acc.wcu / dt / cap.PARTITION_WCU))
    rcu_s, wcu_s = acc.rcu / dt, acc.wcu / dt
    summary = {"sessions_per_day": params.sessions_per_day, "days": params.days,
               "turns_per_day": round(float(acc.turns.sum()) / params.days),
               "peak_turns_per_s": round(float((acc.turns / dt).max()), 1),
               "peak_rcu_per_s": round(float(rcu_s.max()), 1), "peak_wcu_per_s": round(float(wcu_s.max()), 1),
               "dynamodb_requests": round(requests), "throttled_requests": round(float(thr_req.sum())),
               "throttled_share": float(thr_req.sum()) / max(requests, 1.0)}
    partitions = {"final": int(parts["total"][-1]), "by_size_max": int(parts["by_size"].max()),
                  "by_throughput_max": int(parts["by_tput"].max()),
                  "heat_splits": int(parts["total"][-1] - parts["base"][-1]),
                  "table_gb_max": round(float(size.max()) / 1e9, 2),
                  "retention_h": (cap.TTL_S + params.ttl_deletion_lag_s) / 3600.0,
                  "formula": "max(ceil(size / 10 GB), ceil(RCU/3000 + WCU/1000)), running max, plus heat splits"}
    throttling = {"table_rcu": round(float(table["thr_rcu"].sum()), 1),
                  "table_wcu": round(float(table["thr_wcu"].sum()), 1),
                  "hot_key_rcu": round(float(hot["thr_rcu"].sum()), 1),
                  "hot_key_wcu": round(float(hot["thr_wcu"].sum()), 1),
                  "peak_allowed_rcu": round(float(table["allowed_rcu"][np.argmax(rcu_s)]), 1),
                  "peak_allowed_wcu": round(float(table["allowed_wcu"][np.argmax(wcu_s)]), 1),
                  "seconds_throttled": round(float(dt[thr_req > 0].sum()), 1), "mode": params.mode}
    hot_key = {k: v for k, v in hot.items() if not k.startswith("thr_")}
    heat = {"bucket_t_s": float(grid.t[pb]), "partitions": int(parts["base"][pb]),
            "utilisation": [round(float(x), 4) for x in parts["heat"][pb, : int(parts["base"][pb])]],
            "hot_key_utilisation": round(float(hot.get("peak_utilisation", 0.0)), 4)}
    redis = {"peak_bytes": float(redis_b.max()), "peak_gb": round(float(redis_b.max()) / 1e9, 3),
             "peak_live_sessions": round(float(live.max())), "window_turns": model.redis_window,
             "ttl_s": 3600.0, "overhead": "96 B per session key + 24 B per list element (estimate)"}
    return Projection(model.run_id, {**asdict(params), "chunk_sessions": params.chunk_sessions},
                      model.parameters(), prices.to_dict(), summary, partitions, throttling, hot_key, redis,
                      _cost(acc, size, grid, params, prices), _alarms(model, acc, grid, policy),
                      _series(grid, acc, parts, size, thr_req, redis_b), heat, list(model.notes))


__all__ = ["DAY_S", "AlarmPolicy", "Projection", "project", "steady_size"]
