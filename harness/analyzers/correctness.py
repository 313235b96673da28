"""Correctness analyzer: did degraded memory make the bot answer *wrong*, or just less helpfully?

The Locust scripts check reference turns ("What about the second one?") and
label each reply ``resolved`` / ``degraded`` / ``wrong``. A
degraded reply is the design's accepted cost of stateless mode; a wrong one is
a correctness bug. Shares are reported per memory mode and per phase, and no
phase may hold a wrong answer: degradation is allowed to forget, never to
mislead. A ``degraded`` reply counts as wrong when its claimed memory level
could hold the referent (``cache_only`` with the referent inside Redis's
window), stateless replies must carry the design's notice, and a reply for a
session other than the one the client holds is a lost session.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analyzers.base import AnalyzerResult, Input
from harness.analyzers.requests import records_phase
from harness.analyzers.rundata import RunData
from harness.records import RECORDS_FILE
from harness.slo import Slo

VERDICTS = ("resolved", "degraded", "wrong", "unchecked", "error")


def _table(df: pd.DataFrame, by: pd.Series) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, grp in df.groupby(by, dropna=False):
        vc = grp["verdict"].value_counts()
        counts = {v: int(vc.get(v, 0)) for v in VERDICTS}
        judged = counts["resolved"] + counts["degraded"] + counts["wrong"]
        out[str(key) if key == key else "none"] = {
            **counts,
            "right_share": round(counts["resolved"] / judged, 4) if judged else None,
            "wrong_share": round(counts["wrong"] / judged, 4) if judged else None,
        }
    return out


def relabel(recs: pd.DataFrame, window: int) -> pd.Series:
    """Verdicts with over-claimed degradation turned into ``wrong``.

    A ``degraded`` non-answer is honest only when the memory level it claims
    cannot hold the referent: ``cache_only`` holds the last ``window`` turns,
    so a referent within them must be resolved.
    """
    verdict = recs["verdict"].fillna("unchecked").astype(str)
    if "referent_distance" not in recs.columns:
        return verdict
    dist = pd.to_numeric(recs["referent_distance"], errors="coerce")
    claimed = (verdict == "degraded") & (recs["memory_mode"] == "cache_only") & (dist <= window)
    verdict = verdict.mask(claimed, "wrong")
    return verdict.mask((verdict == "wrong") & off_script(recs, dist), "degraded")


def off_script(recs: pd.DataFrame, dist: pd.Series) -> pd.Series:
    """True for reference turns whose conversation left the script between referent and reference.

    The expected answer assumes every turn since the referent was answered with
    memory. When one of them failed or was answered at level 2+, the service's
    own history now holds a different conversation (a notice, a context-free
    list), so resolving against it is not a memory error the client can prove.
    """
    out = pd.Series(False, index=recs.index)
    if "session_id" not in recs.columns or not dist.notna().any():
        return out
    sess = recs["expected_session_id"].fillna(recs["session_id"]) if "expected_session_id" in recs.columns \
        else recs["session_id"]
    if "conversation" in recs.columns:
        # The client's conversation id also covers a failed first turn, which has no session.
        sess = recs["conversation"].fillna(sess)
    start = recs["intended_start"] if "intended_start" in recs.columns else recs["ts"]
    status = pd.to_numeric(recs["status"], errors="coerce") if "status" in recs.columns else None
    bad = recs["memory_mode"].isin(["stateless", "fallback"]) | recs["memory_mode"].isna()
    if status is not None:
        bad |= status != 200
    order = pd.DataFrame({"sess": sess, "start": start, "bad": bad, "dist": dist}).sort_values(["sess", "start"])
    for _, g in order.groupby("sess", sort=False):
        flags = g["bad"].to_numpy(dtype=bool)
        for pos, (idx, d) in enumerate(zip(g.index, g["dist"].to_numpy(), strict=True)):
            if d == d and d >= 1:  # not NaN
                lo = max(0, pos - int(d))
                out.at[idx] = bool(flags[lo:pos].any())
    return out


class CorrectnessAnalyzer:
    """Share of reference turns resolved/degraded/wrong per memory mode and phase; none may be wrong."""

    name = "correctness"
    requires: tuple[Input, ...] = (f"records/{RECORDS_FILE}",)
    missing_means = ""

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        cols = ("ts", "intended_start", "verdict", "memory_mode", "session_id", "turn", "script",
                "referent_distance", "notice", "expected_session_id", "status")
        recs = run.records[[c for c in cols if c in run.records.columns]]
        if not len(recs) or not recs["verdict"].notna().any():
            return res.skip("no records carry a verdict")
        window = int(slo.get("correctness", "cache_window_turns"))
        recs = recs.assign(verdict=relabel(recs, window))
        phase = pd.Series(records_phase(run, slo), index=recs.index).replace("", "outside")
        res.data["by_mode"] = _table(recs, recs["memory_mode"].fillna("none"))
        res.data["by_phase"] = _table(recs, phase)
        res.data["overall"] = _table(recs.assign(_all="all"), recs.assign(_all="all")["_all"])["all"]
        res.data["cache_window_turns"] = window
        limit = int(slo.get("correctness", "max_wrong"))
        for ph in [str(p["name"]) for p in run.phases] or ["outside"]:
            self._phase(run, res, recs[phase == ph], ph, limit)
        self._identity(run, res, recs)
        return res

    def _phase(self, run: RunData, res: AnalyzerResult, recs: pd.DataFrame, ph: str, limit: int) -> None:
        t0 = run.t0
        judged = recs[recs["verdict"].isin(["resolved", "degraded", "wrong"])]
        target = f"<= {limit} wrong answers in the {ph} phase"
        if not len(judged):
            res.inconclusive(f"{ph}.wrong", 0, target, f"no reference turn was answered in the {ph} phase")
        else:
            wrong = judged[judged["verdict"] == "wrong"]
            res.check(f"{ph}.wrong", len(wrong) <= limit, len(wrong), target,
                      ", ".join(f"{r['session_id']}#{r['turn']} ({r['script']}, memory_mode={r['memory_mode']}) "
                                f"at t+{float(r['ts']) - t0:.3f}s" for r in wrong.head(5).to_dict("records"))
                      or f"{len(judged)} reference turns judged, none wrong")
        if "notice" in recs.columns:
            stateless = recs[recs["memory_mode"] == "stateless"]
            if len(stateless):
                silent = stateless[stateless["notice"].fillna(False).astype(bool) == False]  # noqa: E712
                res.check(f"{ph}.stateless_notice", not len(silent), len(silent),
                          "every stateless reply carries the design's notice",
                          f"{len(silent)} of {len(stateless)} stateless replies lacked it, first: "
                          + ", ".join(f"{r['session_id']}#{r['turn']}" for r in silent.head(3).to_dict("records"))
                          if len(silent) else f"all {len(stateless)} stateless replies carried it")

    def _identity(self, run: RunData, res: AnalyzerResult, recs: pd.DataFrame) -> None:
        if "expected_session_id" not in recs.columns:
            return
        exp = recs["expected_session_id"]
        swapped = recs[exp.notna() & recs["session_id"].notna() & (exp.astype(str) != recs["session_id"].astype(str))]
        res.check("session_identity", not len(swapped), len(swapped),
                  "every reply is for the session the client's cookie holds",
                  ", ".join(f"expected {r['expected_session_id']}, got {r['session_id']}"
                            for r in swapped.head(3).to_dict("records")) or "no reply changed session")
