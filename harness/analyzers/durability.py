"""Durability analyzer: is every turn the service answered really in DynamoDB?

Every 200 reply is a turn the user saw, so after the recovery drain the table
scan (``table.jsonl``, read from DynamoDB directly, not through the service)
must hold its ``(session_id, turn_number)`` with the same content and a ``ttl``
about 24 h after its ``timestamp``. A missing item is a lost turn, and so is an
item holding another turn's text (a later turn overwrote the key); a
``persisted: false`` reply promised a late write, and one that never arrives
fails the run too. Content is compared through the records'
``user_message_sha256`` / ``reply_sha256``; older records without them get only
a non-emptiness check, and the check's detail says which comparison was made.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult, Input
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import DurabilitySection
from harness.records import RECORDS_FILE
from harness.slo import Slo

TIMESTAMP_SLACK_S = 60.0
"""How far a stored turn's ``timestamp`` may sit from the client's receipt of its reply (clock skew, slow turns)."""


def _sha(v: Any) -> str:
    return hashlib.sha256(str(v).encode("utf-8")).hexdigest()


def _keys(df: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([df["session_id"].astype(str), pd.to_numeric(df["turn"]).astype("int64")])


def _hash_match(recs: pd.DataFrame, sub: pd.DataFrame, present: np.ndarray) -> tuple[np.ndarray, int]:
    """Per record: does the stored item hold what this reply said? (True where nothing can be compared)."""
    match = present.copy()
    compared = 0
    sha = hashlib.sha256
    for rec_col, item_col in (("user_message_sha256", "user_message"), ("reply_sha256", "assistant_reply")):
        if rec_col not in recs.columns or item_col not in sub.columns:
            continue
        want = recs[rec_col].to_numpy(dtype=object)
        vals = sub[item_col].to_numpy(dtype=object)
        has = np.flatnonzero(present & np.array([isinstance(w, str) and w != "" for w in want], dtype=bool))
        compared += len(has)
        got = np.array([sha(v.encode("utf-8")).hexdigest() if type(v) is str else _sha(v) for v in vals[has]],
                       dtype=object)
        match[has[want[has] != got]] = False
    return match, compared


def drain_words(drain: Any) -> str:
    """One line on the post-run wait for the service's outbox (its own word: the table scan decides)."""
    if not isinstance(drain, dict):
        return ""
    if not drain.get("available"):
        return "no outbox to wait for (the service exposes none in /debug/memory)"
    got = drain.get("outbox")
    outbox: dict[str, Any] = got if isinstance(got, dict) else {}
    dead = outbox.get("dead_letters") or 0
    tail = f"; the service reports {dead} dead letters" if dead else ""
    waited, limit = drain.get("waited_s"), drain.get("timeout_s")
    if drain.get("drained"):
        return f"outbox empty after {waited} s of the {limit} s allowed{tail}"
    return f"outbox NOT empty after {waited} s ({outbox.get('pending')} pending){tail}"


class DurabilityAnalyzer:
    """Every 200 reply vs the post-recovery table scan: lost, overwritten, never arrived, content, TTL."""

    name = "durability"
    requires: tuple[Input, ...] = (f"records/{RECORDS_FILE}", "table.jsonl")
    missing_means = "cannot tell which replies DynamoDB holds"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        recs = run.records[[c for c in ("id", "ts", "status", "session_id", "turn", "persisted",
                                         "expected_session_id", "user_message_sha256", "reply_sha256")
                            if c in run.records.columns]]
        recs = recs[(pd.to_numeric(recs["status"], errors="coerce") == 200) & recs["session_id"].notna()
                    & recs["turn"].notna()].reset_index(drop=True)
        self._drain(run, res)
        if not len(recs):
            res.inconclusive("no_lost_turns", 0, "every 200 reply stored in DynamoDB",
                             "no 200 replies carried a session and turn: nothing to look for in the table")
            return res
        table = run.table
        if len(table):
            table = table[table["session_id"].notna() & table["turn_number"].notna()].copy()
            table["turn_number"] = pd.to_numeric(table["turn_number"], errors="coerce").astype("Int64")
            table["session_id"] = table["session_id"].astype(str)
            table = table.set_index(["session_id", "turn_number"])
            table = table[~table.index.duplicated()]
        keys = _keys(recs)
        pos = table.index.get_indexer(keys) if len(table) else np.full(len(recs), -1)
        present = pos >= 0
        sub = table.iloc[np.where(present, pos, 0)] if len(table) else pd.DataFrame(index=range(len(recs)))
        match, compared = _hash_match(recs, sub, present)
        self._lost(run, res, recs, present, match, compared)
        kept = np.flatnonzero(match)
        if len(kept) and len(table):
            self._content(res, sub.iloc[kept], recs["ts"].to_numpy(dtype=float)[kept], compared)
            self._ttl(slo, res, sub.iloc[kept])
        ob = run.events_of("outbox")
        if len(ob):
            res.data["outbox_events"] = {str(k): int(v) for k, v in ob["action"].value_counts().items()}
            # The service's own word on turns it gave up on; the table scan above is what decides.
            res.data["dead_letters"] = res.data["outbox_events"].get("dead_letter", 0)
        return res

    def _drain(self, run: RunData, res: AnalyzerResult) -> None:
        """Report how the bounded wait for the service's write-behind queue ended."""
        for step in run.timeline:
            if step.get("action") == "outbox_check":
                res.data["drain"] = step.get("detail")

    def _lost(self, run: RunData, res: AnalyzerResult, recs: pd.DataFrame, present: np.ndarray,
              match: np.ndarray, compared: int) -> None:
        persisted = recs["persisted"].to_numpy(dtype=object)
        said_false = np.array([p is False or p == 0 for p in persisted], dtype=bool)
        t0 = run.t0

        def sample(mask: np.ndarray) -> list[dict[str, Any]]:
            return [{"session_id": str(r["session_id"]), "turn": int(r["turn"]),
                     "t_rel": round(float(r["ts"]) - t0, 3), "ts": float(r["ts"]), "id": r["id"]}
                    for r in recs[mask].head(200).to_dict("records")]

        def words(items: list[dict[str, Any]]) -> str:
            return ", ".join(f"{x['session_id']}#{x['turn']} at t+{x['t_rel']}s" for x in items[:5])

        how = f"content compared by SHA-256 ({compared} hashes)" if compared else "presence only (no hashes)"
        acked = ~said_false
        missing = acked & ~present
        overwritten = acked & present & ~match
        lost = missing | overwritten
        res.data.update(acknowledged=int(acked.sum()), lost_count=int(lost.sum()), lost=sample(lost),
                        overwritten=int(overwritten.sum()))
        res.check("no_lost_turns", not lost.any(), int(lost.sum()), "every 200 reply stored in DynamoDB",
                  (f"{int(missing.sum())} of {int(acked.sum())} replies missing from the table and "
                   f"{int(overwritten.sum())} overwritten by another turn with the same key ({how}); first: "
                   + words(sample(lost))) if lost.any() else f"all {int(acked.sum())} replies stored ({how})")
        late = said_false & match
        never = said_false & ~match
        res.section = DurabilitySection(int(acked.sum()), int(lost.sum()), int(said_false.sum()), int(late.sum()),
                                        int(never.sum()), drain_words(res.data.get("drain")))
        res.data["not_persisted"] = {"count": int(said_false.sum()), "arrived_later": int(late.sum()),
                                     "never_arrived": int(never.sum()),
                                     "never_arrived_sample": [f"{x['session_id']}#{x['turn']}"
                                                              for x in sample(never)[:20]]}
        if said_false.any():
            res.check("never_arrived", not never.any(), int(never.sum()),
                      "every reply answered persisted:false reaches DynamoDB by the end of the drain",
                      (f"{int(never.sum())} of {int(said_false.sum())} never arrived, first: " + words(sample(never)))
                      if never.any() else f"all {int(said_false.sum())} arrived after the reply")
        exp = recs["expected_session_id"] if "expected_session_id" in recs.columns else None
        if exp is not None:
            swapped = (exp.notna() & (exp.astype(str) != recs["session_id"].astype(str))).to_numpy()
            res.check("session_identity", not swapped.any(), int(swapped.sum()),
                      "every reply is for the session the client's cookie holds",
                      f"{int(swapped.sum())} replies named another session: {words(sample(swapped))}"
                      if swapped.any() else "every reply kept its session")

    def _content(self, res: AnalyzerResult, sub: pd.DataFrame, reply_ts: np.ndarray, compared: int) -> None:
        """Each stored turn holds the design's attributes, not only the text the hashes compare.

        ``user_message``, ``assistant_reply`` and ``intent`` non-empty (the next turn's intent
        classification reads the stored intents), and ``timestamp`` in epoch seconds within
        ``TIMESTAMP_SLACK_S`` of the reply the client received (a millisecond or stale stamp breaks
        every "last N turns" read and the TTL).
        """
        blank = pd.Series("", index=sub.index)
        bad: dict[str, np.ndarray] = {
            name: (sub.get(name, blank).fillna("").astype(str) == "").to_numpy()
            for name in ("user_message", "assistant_reply", "intent")}
        stamp = pd.to_numeric(sub.get("timestamp", blank), errors="coerce").to_numpy(dtype=float)
        bad["timestamp"] = ~(np.abs(stamp - reply_ts) <= TIMESTAMP_SLACK_S)
        wrong = np.logical_or.reduce(list(bad.values()))
        says = {n: f"an empty {n}" for n in bad} | {"timestamp": f"a timestamp over {TIMESTAMP_SLACK_S:g} s "
                                                                  "from its reply (or not epoch seconds)"}
        detail = "; ".join(f"{int(m.sum())} with {says[n]}" for n, m in bad.items() if m.any())
        res.check("content", not wrong.any(), int(wrong.sum()),
                  "every stored turn has its message, reply, intent and a timestamp (s) of its reply",
                  (f"{int(wrong.sum())} of {len(sub)} stored turns: {detail}" if wrong.any()
                   else f"all {len(sub)} stored turns complete")
                  + ("" if compared else " (no hashes in the records: content not compared)"))

    def _ttl(self, slo: Slo, res: AnalyzerResult, sub: pd.DataFrame) -> None:
        if "ttl" not in sub.columns or "timestamp" not in sub.columns:
            res.check("ttl_24h", False, None, "ttl and timestamp attributes present",
                      "table items lack ttl or timestamp")
            return
        ttl_s = float(slo.get("durability", "ttl_s"))
        tol = float(slo.get("durability", "ttl_tolerance_s"))
        delta = (pd.to_numeric(sub["ttl"], errors="coerce")
                 - pd.to_numeric(sub["timestamp"], errors="coerce")).to_numpy(dtype=float)
        bad = ~(np.abs(delta - ttl_s) <= tol)
        fin = np.isfinite(delta)
        res.data["ttl_offset_s"] = {"min": float(np.nanmin(delta)) if fin.any() else None,
                                    "max": float(np.nanmax(delta)) if fin.any() else None}
        worst = float(np.nanmax(np.abs(delta - ttl_s))) if fin.any() else None
        res.check("ttl_24h", not bad.any(), int(bad.sum()), f"ttl = timestamp + {ttl_s:g} ± {tol:g} s",
                  f"{int(bad.sum())} items off; worst deviation {worst} s" if bad.any()
                  else f"worst deviation {worst} s")
