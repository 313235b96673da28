"""DynamoDB capacity rules the projection applies, as the AWS developer guide documents them.

Why one module: the projection, its tests and the partitions analyzer must all
count capacity the way DynamoDB bills and throttles it, and each rule is easy
to get subtly wrong -- rounding per item instead of once per Query is the
classic one (10 items of 4.08 KB cost 11 strongly consistent RCU, not 20).
Each constant names the documented fact it encodes (unit sizing, partition
limits and size, burst seconds, on-demand initial throughput and "previous
peak" window, table quotas, TTL deletion lag). Partitions split but never
merge, and adaptive capacity never lifts one above 3,000 RCU / 1,000 WCU, so a
single key above 1,000 WCU is throttled whatever its format. The partition-key
hash is unpublished; a uniform 64-bit hash (splitmix64) stands in for it.
"""

from __future__ import annotations

import numpy as np

READ_BLOCK_BYTES = 4096
WRITE_BLOCK_BYTES = 1024
EVENTUAL_READ_FACTOR = 0.5
PARTITION_RCU = 3000.0
PARTITION_WCU = 1000.0
PARTITION_BYTES = 10 * 1000**3  # "10 GB" per partition
BURST_SECONDS = 300.0
NEW_TABLE_RRU = 12_000.0
NEW_TABLE_WRU = 4_000.0
TABLE_QUOTA_RRU = 40_000.0
TABLE_QUOTA_WRU = 40_000.0
PEAK_WINDOW_S = 30 * 60.0
TTL_S = 24 * 3600.0
TTL_DELETION_LAG_S = 48 * 3600.0


def query_read_units(total_bytes: np.ndarray | float, consistent: bool = False) -> np.ndarray:
    """Read units of Queries returning ``total_bytes`` in all (summed over items, rounded once per Query).

    Why per sum: the developer guide rounds a Query's *total* returned size up to
    4 KB, not each item's, so summing then rounding is what DynamoDB charges. An
    empty result still costs one block.
    """
    blocks = np.maximum(1.0, np.ceil(np.asarray(total_bytes, dtype=float) / READ_BLOCK_BYTES))
    return blocks if consistent else blocks * EVENTUAL_READ_FACTOR


def write_units(item_bytes: np.ndarray | float) -> np.ndarray:
    """Write units of single-item puts of ``item_bytes`` each (1 KB blocks, at least one)."""
    return np.maximum(1.0, np.ceil(np.asarray(item_bytes, dtype=float) / WRITE_BLOCK_BYTES))


def partitions_for(size_bytes: np.ndarray | float, rcu: np.ndarray | float, wcu: np.ndarray | float) -> np.ndarray:
    """Partitions a table needs for its size and its throughput: max(ceil(size/10 GB), ceil(rcu/3000 + wcu/1000)).

    Throughput is the documented linear combination, so 1,500 RCU plus 500 WCU
    already fill one partition.
    """
    by_size = np.ceil(np.asarray(size_bytes, dtype=float) / PARTITION_BYTES)
    by_tput = np.ceil(np.asarray(rcu, dtype=float) / PARTITION_RCU + np.asarray(wcu, dtype=float) / PARTITION_WCU)
    return np.maximum(1, np.maximum(by_size, by_tput)).astype(np.int64)


def utilisation(rcu: np.ndarray, wcu: np.ndarray) -> np.ndarray:
    """Share of one partition's throughput used by ``rcu`` read and ``wcu`` write units per second."""
    return np.asarray(rcu, dtype=float) / PARTITION_RCU + np.asarray(wcu, dtype=float) / PARTITION_WCU


def burst_throttle(util: np.ndarray, dt: np.ndarray, limit: float = 1.0) -> np.ndarray:
    """Throttled share of demand per bucket for each column of ``util`` (buckets x partitions).

    Burst capacity banks unused throughput, up to 300 s of it (``BURST_SECONDS``
    times ``limit``), and spends it when demand exceeds ``limit``. The bank is
    a clipped running sum, which has no closed form, so this walks the buckets
    once with every partition as a vector: O(buckets) numpy steps.
    """
    util = np.atleast_2d(np.asarray(util, dtype=float))
    bank = np.full(util.shape[1], BURST_SECONDS * limit)
    out = np.zeros_like(util)
    cap = BURST_SECONDS * limit
    for i in range(util.shape[0]):
        demand = util[i] * dt[i]
        spare = limit * dt[i] - demand
        need = np.maximum(0.0, -spare)
        served_from_bank = np.minimum(bank, need)
        bank = np.clip(bank + np.where(spare > 0, spare, -served_from_bank), 0.0, cap)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i] = np.where(demand > 0, (need - served_from_bank) / demand, 0.0)
    return out


def on_demand_allowance(demand: np.ndarray, t: np.ndarray, dt: np.ndarray, initial_peak: float,
                        quota: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-bucket on-demand allowance and the throttled units/s for a table-level ``demand`` series.

    The documented rule: a table instantly serves up to twice its previous
    peak; growth beyond that within 30 minutes may throttle, and it never
    serves above the table quota. The model takes the previous peak at time t
    to be the highest rate *served* in buckets that ended at least 30 minutes
    before t (never below ``initial_peak``, half of what a new table serves at
    once), so a sustained jump is throttled for about 30 minutes and then
    absorbed. Returns (allowed units/s, throttled units/s).
    """
    n = len(demand)
    allowed = np.zeros(n)
    served = np.zeros(n)
    ends = t + dt
    j = 0
    peak = initial_peak
    for i in range(n):
        while j < i and ends[j] <= t[i] - PEAK_WINDOW_S + 1e-9:
            peak = max(peak, served[j])
            j += 1
        allowed[i] = min(quota, 2.0 * peak)
        served[i] = min(demand[i], allowed[i])
    return allowed, np.maximum(0.0, demand - allowed)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A uniform 64-bit hash of integer keys, vectorised: the stand-in for DynamoDB's unpublished hash."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_unit(x: np.ndarray) -> np.ndarray:
    """Keys mapped to [0, 1) by ``splitmix64``; partition p of P holds hashes in [p/P, (p+1)/P)."""
    return (splitmix64(x) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
