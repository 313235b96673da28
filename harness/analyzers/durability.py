"""Durability analyzer: is every turn the service acknowledged as persisted really in DynamoDB?

A record with ``status == 200`` and ``persisted == true`` is a promise; after
recovery the table scan (table.jsonl) must hold that ``(session_id, turn_number)``
with non-empty content and a ``ttl`` about 24 h after its ``timestamp`` (the
design's TTL). Missing ones are *lost turns*. Turns answered with
``persisted == false`` (the hardened variant's outbox) are reported separately:
which arrived later, which did not.

Content: records carry no message text, but the Locust plugin writes
``user_message_sha256`` / ``reply_sha256`` (hex SHA-256 of the UTF-8 text sent and
received, contracts §4); these are compared with the item's ``user_message`` /
``assistant_reply``. Records without them (older runs) get only a non-emptiness
check, and the check's detail says which comparison was made.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult
from harness.analyzers.rundata import RunData
from harness.slo import Slo


def _sha(v: Any) -> str:
    return hashlib.sha256(str(v).encode("utf-8")).hexdigest()


class DurabilityAnalyzer:
    """Acknowledged turns vs the post-recovery table scan: lost turns, content, TTL, outbox."""

    name = "durability"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        for need in ("records/records.jsonl", "table.jsonl"):
            if need in run.missing:
                res.status, res.reason = "skipped", run.missing[need]
                return res
        # only the columns used here: filtering a 1M-row frame copies every column it has
        recs = run.records[[c for c in ("id", "ts", "status", "session_id", "turn", "persisted",
                                         "user_message_sha256", "reply_sha256") if c in run.records.columns]]
        recs = recs[(pd.to_numeric(recs["status"], errors="coerce") == 200) & recs["session_id"].notna()
                    & recs["turn"].notna()]
        table = run.table
        if len(table):
            table = table[table["session_id"].notna() & table["turn_number"].notna()].copy()
            table["turn_number"] = pd.to_numeric(table["turn_number"], errors="coerce").astype("Int64")
            table["session_id"] = table["session_id"].astype(str)
        items = table.set_index(["session_id", "turn_number"]) if len(table) else None
        persisted = recs["persisted"].fillna(False).astype(bool)
        acked = recs[persisted]
        pending = recs[~persisted]

        def present(df: pd.DataFrame) -> np.ndarray:
            if items is None or not len(df):
                return np.zeros(len(df), dtype=bool)
            idx = pd.MultiIndex.from_arrays([df["session_id"].astype(str),
                                             pd.to_numeric(df["turn"]).astype("int64")])
            return np.asarray(idx.isin(items.index))

        ok = present(acked)
        lost = acked[~ok]
        t0 = run.t0
        lost_list = [{"session_id": str(r["session_id"]), "turn": int(r["turn"]),
                      "t_rel": round(float(r["ts"]) - t0, 3), "ts": float(r["ts"]), "id": r["id"]}
                     for r in lost.head(200).to_dict("records")]
        res.data["acknowledged"] = len(acked)
        res.data["lost_count"] = len(lost)
        res.data["lost"] = lost_list
        res.check("no_lost_turns", not lost_list, len(lost), "0 lost acknowledged turns",
                  (f"{len(lost)} of {len(acked)} acknowledged turns missing from table.jsonl, first: "
                   + ", ".join(f"{x['session_id']}#{x['turn']} at t+{x['t_rel']}s (epoch {x['ts']:.3f})"
                               for x in lost_list[:5])) if lost_list else f"all {len(acked)} acknowledged "
                  "turns present")

        # content and TTL of the acknowledged items that are present
        found = acked[ok]
        if len(found) and items is not None:
            sids = found["session_id"].astype(str).to_numpy()
            turns = pd.to_numeric(found["turn"]).astype("int64").to_numpy()
            # positional lookup: .loc with a list of a million key tuples takes seconds
            uniq = items[~items.index.duplicated()]
            sub = uniq.iloc[uniq.index.get_indexer(pd.MultiIndex.from_arrays([sids, turns]))]

            def key(i: int) -> str:
                return f"{sids[i]}#{turns[i]}"

            empty = sub[(sub.get("user_message", pd.Series("", index=sub.index)).fillna("").astype(str) == "")
                        | (sub.get("assistant_reply", pd.Series("", index=sub.index)).fillna("").astype(str)
                           == "")]
            mismatched: list[str] = []
            n_bad_hash = 0
            compared = 0
            for rec_col, item_col in (("user_message_sha256", "user_message"), ("reply_sha256", "assistant_reply")):
                if rec_col in found.columns and item_col in sub.columns:
                    want = found[rec_col].to_numpy(dtype=object)
                    has = np.flatnonzero([isinstance(w, str) and w != "" for w in want])
                    if not len(has):
                        continue
                    compared += len(has)
                    sha = hashlib.sha256  # inline for str: ~2x faster than calling _sha a million times
                    got = np.array([sha(v.encode("utf-8")).hexdigest() if type(v) is str else _sha(v)
                                    for v in sub[item_col].to_numpy(dtype=object)[has]], dtype=object)
                    bad = has[want[has] != got]
                    n_bad_hash += len(bad)
                    mismatched += [f"{key(int(i))} {item_col}" for i in bad[:5]]
            mode = (f"SHA-256 of message and reply against records ({compared} hashes)" if compared
                    else "non-empty user_message and assistant_reply")
            bad_content = len(empty) + n_bad_hash
            res.check("content", bad_content == 0, bad_content, "0 empty or mismatched items",
                      f"compared {mode}; " + ("; ".join(mismatched[:5]) or f"{len(empty)} empty"))
            ttl = pd.to_numeric(sub["ttl"], errors="coerce") if "ttl" in sub.columns else None
            tstamp = pd.to_numeric(sub["timestamp"], errors="coerce") if "timestamp" in sub.columns else None
            if ttl is not None and tstamp is not None:
                ttl_s = float(slo.get("durability", "ttl_s"))
                tol = float(slo.get("durability", "ttl_tolerance_s"))
                delta = (ttl - tstamp).to_numpy(dtype=float)
                badmask = ~(np.abs(delta - ttl_s) <= tol)
                bad_idx = np.flatnonzero(badmask)
                bad_keys = [f"{key(int(i))} ttl-timestamp={delta[i]:g}s" for i in bad_idx[:5]]
                worst = float(np.nanmax(np.abs(delta - ttl_s))) if np.isfinite(delta).any() else None
                res.data["ttl_offset_s"] = {"min": float(np.nanmin(delta)) if np.isfinite(delta).any() else None,
                                            "max": float(np.nanmax(delta)) if np.isfinite(delta).any() else None}
                res.check("ttl_24h", not len(bad_idx), len(bad_idx), f"ttl = timestamp + {ttl_s:g} ± {tol:g} s",
                          "; ".join(bad_keys) or f"worst deviation {worst} s")
            else:
                res.check("ttl_24h", False, None, "ttl and timestamp attributes present",
                          "table items lack ttl or timestamp")

        # acknowledged but not persisted: did the outbox deliver them later?
        arrived = present(pending)
        res.data["not_persisted"] = {
            "count": len(pending), "arrived_later": int(arrived.sum()),
            "never_arrived": int((~arrived).sum()),
            "never_arrived_sample": [f"{r['session_id']}#{int(r['turn'])}"
                                     for r in pending[~arrived].head(20).to_dict("records")],
        }
        ob = run.events_of("outbox")
        if len(ob):
            res.data["outbox_events"] = {str(k): int(v) for k, v in ob["action"].value_counts().items()}
        return res
