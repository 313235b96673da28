"""Correctness analyzer: did degraded memory make the bot answer *wrong*, or just less helpfully?

The Locust scripts check reference turns ("What about the second one?") and
label each reply ``resolved`` / ``degraded`` / ``wrong`` (contracts §4). A
degraded reply is the design's accepted cost of stateless mode; a wrong one is
a correctness bug. Shares are reported per memory mode and per phase; the check
is zero ``wrong`` in the baseline, where memory is healthy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analyzers.base import AnalyzerResult
from harness.analyzers.rundata import RunData
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


class CorrectnessAnalyzer:
    """Share of reference turns resolved/degraded/wrong per memory mode and phase."""

    name = "correctness"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        if "records/records.jsonl" in run.missing:
            res.status, res.reason = "skipped", run.missing["records/records.jsonl"]
            return res
        recs = run.records[[c for c in ("ts", "intended_start", "verdict", "memory_mode", "session_id", "turn",
                                         "script") if c in run.records.columns]]
        if not len(recs) or not recs["verdict"].notna().any():
            res.status, res.reason = "skipped", "no records carry a verdict"
            return res
        recs = recs.assign(verdict=recs["verdict"].fillna("unchecked"))
        phase = pd.Series(run.phase_of(recs["intended_start"].fillna(recs["ts"]).to_numpy(dtype=float)),
                          index=recs.index).replace("", "outside")
        res.data["by_mode"] = _table(recs, recs["memory_mode"].fillna("none"))
        res.data["by_phase"] = _table(recs, phase)
        res.data["overall"] = _table(recs.assign(_all="all"), recs.assign(_all="all")["_all"])["all"]
        base = recs[phase == "baseline"]
        if len(base):
            wrong = base[base["verdict"] == "wrong"]
            limit = int(slo.get("correctness", "max_wrong_baseline"))
            t0 = run.t0
            res.check("baseline.wrong", len(wrong) <= limit, len(wrong), f"<= {limit} wrong in baseline",
                      ", ".join(f"{r['session_id']}#{r['turn']} ({r['script']}) at t+{float(r['ts']) - t0:.3f}s"
                                for r in wrong.head(5).to_dict("records")) or
                      f"{len(base)} baseline turns, none wrong")
        return res
