"""Run integrity: was this run a fair experiment at all?

Every other analyzer assumes the timeline happened as planned. This one checks
that assumption from the run's own bookkeeping: every fault was rolled back
(a proxy left faulty poisons the next run and the recovery figures), the run
was not interrupted, and load actually flowed in every phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.analyzers.base import AnalyzerResult, Input

if TYPE_CHECKING:
    from harness.analyzers.rundata import RunData
    from harness.slo import Slo


class IntegrityAnalyzer:
    """Checks ``run.json`` and the records for a complete, rolled-back run."""

    name = "run"
    requires: tuple[Input, ...] = ("run.json",)
    missing_means = ""

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        result = AnalyzerResult(self.name)
        meta = run.run or {}
        if not meta:
            return result.skip("run.json is empty")
        missing = {k: v for k, v in run.missing.items() if k != "taps/dynamodb.jsonl"}
        result.data["missing_inputs"] = missing
        errors = list(meta.get("rollback_errors") or [])
        result.check(
            "rollback", not errors, len(errors), "every fault removed",
            "; ".join(errors) if errors else "all faults rolled back",
        )
        status = str(meta.get("status") or ("interrupted" if meta.get("interrupted") else "completed"))
        why = {"completed": "all phases ran", "interrupted": "interrupted before the end of recovery",
               "aborted": f"ended early: {(meta.get('aborted') or {}).get('reason', '')}",
               "failed": f"the run itself failed: {meta.get('error', '')}"}.get(status, status)
        result.check("completed", status == "completed", status, "status completed", why)
        phases = meta.get("phases") or []
        records = run.records
        if phases and len(records) and "ts" in records:
            started = records["intended_start"].fillna(records["ts"])
            empty = [
                p["name"] for p in phases
                if not ((started >= p["start"]) & (started < p["end"])).any()
            ]
            result.check("load_in_every_phase", not empty, len(empty), "requests in every phase",
                         f"no requests in: {', '.join(empty)}" if empty else
                         f"{len(records)} requests over {len(phases)} phases")
        result.data["rollback_errors"] = errors
        return result
