"""Hot-partition analyzer: is the design's "UUIDv4 keys => no hot partitions" claim true for this traffic?

Why skew, not key format: DynamoDB hashes the partition key, so sequential ids
spread as evenly as UUIDs (facts.md). Heat comes from *access skew* -- a few keys
taking most requests. So this analyzer reports key format (UUIDv4 share) and
key-hash uniformity, but flags "hot" from the request distribution: per-key
max/mean request rate and the share of the top 1 % of keys, plus per-partition
RCU/WCU projected to the SLO's production request rate against DynamoDB's
per-partition limits (3,000 RCU / 1,000 WCU per second).

Simulated partitions hash keys with MD5 (as the 2007 Dynamo paper did) modulo P.
AWS's real hash function is unpublished; MD5 stands in for "some uniform hash".
Units: a Query reads eventually consistently, 0.5 RCU per started 4 KB of items
read; a write costs 1 WCU per started 1 KB.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import pandas as pd
from scipy import stats

from harness.analyzers.base import AnalyzerResult, Input
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import PartitionsSection
from harness.slo import Slo

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)


def md5_partition(key: str, partitions: int) -> int:
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:8], "big") % partitions


def _written_by_this_run(run: RunData) -> pd.DataFrame:
    """The table's items stamped at or after this run's first request.

    A table is shared (a running stack, real AWS): items other runs or other
    clients wrote earlier say nothing about this run's keys.
    """
    table = run.table
    if not len(table) or "timestamp" not in table.columns or not len(run.records) \
            or "start" not in run.records.columns:
        return table
    first = pd.to_numeric(run.records["start"], errors="coerce").min()
    if first != first:  # NaN: no request start known
        return table
    stamp = pd.to_numeric(table["timestamp"], errors="coerce")
    return table[stamp >= int(first) - 1]


class PartitionsAnalyzer:
    """Key format, hash uniformity, access skew and projected per-partition capacity."""

    name = "partitions"
    requires: tuple[Input, ...] = (("events.jsonl", "table.jsonl"),)
    missing_means = "the run's partition keys are unknown"

    def undecided_without(self, run: RunData) -> bool:
        """No keys, nothing to judge: the skip is reported with its reason, without an evidence check.

        Every partitions claim is about the keys the run used. A run without the
        files that name them (a target that logs no events and whose table the
        harness cannot scan) is reported as one whose files hold no DynamoDB keys
        is (see ``analyze``): skipped, not undecided.
        """
        return False

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        cfg = slo.get("partitions")
        ev = run.events
        calls = ev[ev["event"].isin(["memory_read", "memory_write"]) & (ev["store"] == "dynamodb")
                   & (ev["outcome"] != "circuit_open") & ev["session_id"].notna()] if len(ev) else ev
        table = _written_by_this_run(run)
        if not len(calls) and not len(table):
            res.status = "skipped"
            res.reason = "no DynamoDB memory events and no table.jsonl keys"
            return res
        P = int(cfg["simulated_partitions"])
        # unique() first: iterating a million-row string column element by element is slow
        keys = set(calls["session_id"].astype(str).unique().tolist()) if len(calls) else set()
        if len(table) and table["session_id"].notna().any():
            keys |= set(table["session_id"].dropna().astype(str).unique().tolist())
        keys_l = sorted(keys)
        n_keys = len(keys_l)
        uuid_share = sum(1 for k in keys_l if UUID4.match(k)) / n_keys if n_keys else 0.0
        part_of = {k: md5_partition(k, P) for k in keys_l}
        key_counts = np.bincount([part_of[k] for k in keys_l], minlength=P)
        res.data.update({"distinct_keys": n_keys, "uuid4_share": round(uuid_share, 4), "partitions": P,
                         "hash": "md5 (stand-in; AWS's hash is unpublished)",
                         "keys_per_partition": key_counts.tolist()})
        res.check("uuid4_keys", uuid_share >= float(cfg["min_uuid4_share"]), round(uuid_share, 4),
                  f">= {float(cfg['min_uuid4_share']):g}", f"{n_keys} distinct partition keys")
        if n_keys >= 5 * P:
            chi = stats.chisquare(key_counts)
            pval = float(chi.pvalue)
            res.data["key_hash_chi2"] = {"statistic": round(float(chi.statistic), 3), "p": pval}
            res.check("key_hash_uniform", pval >= float(cfg["chi2_min_p"]), round(pval, 6),
                      f"chi-square p >= {float(cfg['chi2_min_p']):g}",
                      f"keys over {P} simulated partitions: max/mean "
                      f"{key_counts.max() / key_counts.mean():.2f}")
        if not len(calls):
            res.data["skew_skipped"] = "no DynamoDB memory events"
            return res
        self._load(run, slo, res, calls, part_of, P)
        return res

    def _load(self, run: RunData, slo: Slo, res: AnalyzerResult, calls: pd.DataFrame,
              part_of: dict[str, int], P: int) -> None:
        cfg = slo.get("partitions")
        dur = max(run.t_end - run.t0, 1e-9)
        sid = calls["session_id"].astype(str)
        is_read = (calls["event"] == "memory_read").to_numpy()
        # item sizes: mean serialized item per session from table.jsonl, else the default
        default_item = float(cfg["default_item_bytes"])
        item_bytes: dict[str, float] = {}
        if len(run.table) and "session_id" in run.table:
            sizes: pd.Series | None
            if run.table_item_bytes is not None and len(run.table_item_bytes) == len(run.table):
                sizes = pd.Series(run.table_item_bytes, index=run.table.index, dtype=float)  # JSON bytes as scanned
            else:
                sizes = (run.table.apply(lambda r: len(str(r.to_dict())), axis=1)
                         if len(run.table) < 200_000 else None)
            if sizes is not None:
                means = sizes.groupby(run.table["session_id"].astype(str)).mean()
                item_bytes = {str(k): float(v) for k, v in means.items()}
        items = pd.to_numeric(calls["items"], errors="coerce").fillna(0).to_numpy()
        size = (sid.map(item_bytes).fillna(default_item).to_numpy(dtype=float) if item_bytes
                else np.full(len(sid), default_item))
        rcu = np.where(is_read, 0.5 * np.maximum(1, np.ceil(items * size / 4096.0)), 0.0)
        wbytes = pd.to_numeric(calls["bytes"], errors="coerce").fillna(default_item).to_numpy()
        wcu = np.where(~is_read, np.maximum(1, np.ceil(wbytes / 1024.0)), 0.0)
        df = pd.DataFrame({"sid": sid.to_numpy(), "rcu": rcu, "wcu": wcu, "read": is_read})
        per_key = df.groupby("sid").agg(req=("rcu", "size"), rcu=("rcu", "sum"), wcu=("wcu", "sum"))
        per_key = per_key.sort_values("req", ascending=False)
        total = float(per_key["req"].sum())
        rate = per_key["req"] / dur
        max_over_mean = float(rate.max() / rate.mean())
        top_n = max(1, math.ceil(0.01 * len(per_key)))
        top_share = float(per_key["req"].iloc[:top_n].sum() / total)
        per_key["part"] = [part_of.get(k, md5_partition(k, P)) for k in per_key.index]
        per_part = per_key.groupby("part")[["req", "rcu", "wcu"]].sum().reindex(range(P), fill_value=0)

        # projection: scale observed shares to production_rps chat turns/s
        turns = run.events_of("chat")
        n_turns = len(turns) if len(turns) else max(1, int((~is_read).sum()))
        scale = float(cfg["production_rps"]) / (n_turns / dur)
        proj_part_rcu = per_part["rcu"] / dur * scale
        proj_part_wcu = per_part["wcu"] / dur * scale
        proj_key_rcu = per_key["rcu"] / dur * scale
        proj_key_wcu = per_key["wcu"] / dur * scale
        res.data.update({
            "requests": int(total), "duration_s": round(dur, 3),
            "per_key": {"max_rps": round(float(rate.max()), 3), "mean_rps": round(float(rate.mean()), 4),
                        "max_over_mean": round(max_over_mean, 3), "top1pct_keys": top_n,
                        "top1pct_share": round(top_share, 4),
                        "top_keys": [{"key": str(per_key.index[i]), "requests": int(per_key["req"].iloc[i]),
                                      "share": round(float(per_key["req"].iloc[i]) / total, 4),
                                      "projected_rcu": round(float(proj_key_rcu.iloc[i]), 2),
                                      "projected_wcu": round(float(proj_key_wcu.iloc[i]), 2)}
                                     for i in range(min(5, len(per_key)))]},
            "per_partition": {"requests": per_part["req"].astype(int).tolist(),
                              "rcu_per_s": [round(float(x) / dur, 3) for x in per_part["rcu"]],
                              "wcu_per_s": [round(float(x) / dur, 3) for x in per_part["wcu"]],
                              "max_over_mean": round(float(per_part["req"].max() / max(per_part["req"].mean(),
                                                                                        1e-9)), 3)},
            "projection": {"production_rps": float(cfg["production_rps"]), "scale": round(scale, 3),
                           "partition_rcu_per_s": [round(float(x), 1) for x in proj_part_rcu],
                           "partition_wcu_per_s": [round(float(x), 1) for x in proj_part_wcu],
                           "max_partition_rcu": round(float(proj_part_rcu.max()), 1),
                           "max_partition_wcu": round(float(proj_part_wcu.max()), 1),
                           "max_key_rcu": round(float(proj_key_rcu.max()), 1),
                           "max_key_wcu": round(float(proj_key_wcu.max()), 1)},
        })
        reasons: list[str] = []
        judged = len(per_key) >= int(cfg["min_keys_for_skew"])
        if judged and max_over_mean > float(cfg["hot_key_max_over_mean"]):
            reasons.append(f"per-key rate max/mean {max_over_mean:.1f} > {float(cfg['hot_key_max_over_mean']):g}")
        if judged and top_share > float(cfg["hot_top1pct_share"]):
            reasons.append(f"top {top_n} key(s) (1 %) take {top_share:.1%} of requests "
                           f"> {float(cfg['hot_top1pct_share']):.0%}")
        # A single key lives on one partition whatever the partition count: compare it with the limits.
        if float(proj_key_rcu.max()) > float(cfg["rcu_limit"]):
            reasons.append(f"hottest key projects to {float(proj_key_rcu.max()):.0f} RCU/s > {cfg['rcu_limit']:g}")
        if float(proj_key_wcu.max()) > float(cfg["wcu_limit"]):
            reasons.append(f"hottest key projects to {float(proj_key_wcu.max()):.0f} WCU/s > {cfg['wcu_limit']:g}")
        hot = bool(reasons)
        res.data["hot"] = hot
        res.data["hot_reasons"] = reasons
        res.section = PartitionsSection(hot, tuple(reasons), tuple(int(x) for x in per_part["req"]))
        res.check("no_hot_partition", not hot, round(max_over_mean, 3),
                  f"per-key max/mean <= {float(cfg['hot_key_max_over_mean']):g}, top-1% share <= "
                  f"{float(cfg['hot_top1pct_share']):.0%}, hottest key < {cfg['rcu_limit']:g} RCU/s and "
                  f"< {cfg['wcu_limit']:g} WCU/s at {float(cfg['production_rps']):g} turns/s",
                  "; ".join(reasons) if hot else (
                      f"access is even: top-1% share {top_share:.1%}, hottest key "
                      f"{float(proj_key_rcu.max()):.0f} RCU/s projected"
                      + ("" if judged else f" (only {len(per_key)} keys: skew not judged)")))
