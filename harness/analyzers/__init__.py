"""Run analyzers: turn a finished run directory into a :class:`Verdict`.

``analyze_run`` loads the run once (:func:`load_run`) and runs every analyzer.
An analyzer whose declared inputs are missing is not run: it reports
``skipped`` with an inconclusive ``<name>.evidence`` check and whatever it
still decides without them (:func:`~harness.analyzers.base.without_inputs`);
one that raises is reported as ``error`` with a failing ``<name>.crashed``
check, so a harness bug can never turn into a silent pass. Which checks are
*required* (their inconclusiveness makes the verdict inconclusive) comes from
the SLO's ``verdict`` section.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from harness.analyzers.alarms import AlarmsAnalyzer
from harness.analyzers.base import Analyzer, AnalyzerResult, Check, Verdict, matches, without_inputs
from harness.analyzers.breaker import BreakerAnalyzer
from harness.analyzers.correctness import CorrectnessAnalyzer
from harness.analyzers.durability import DurabilityAnalyzer
from harness.analyzers.integrity import IntegrityAnalyzer
from harness.analyzers.latency import LatencyAnalyzer
from harness.analyzers.partitions import PartitionsAnalyzer
from harness.analyzers.requests import RequestsAnalyzer
from harness.analyzers.rundata import RunData, RunDataError, load_run
from harness.analyzers.sections import RunInfo
from harness.slo import Slo, load_slo

__all__ = [
    "ANALYZERS", "Analyzer", "AnalyzerResult", "Check", "RunData", "RunDataError", "Verdict",
    "analyze_loaded", "analyze_run", "load_run",
]

ANALYZERS: list[Analyzer] = [
    RequestsAnalyzer(), LatencyAnalyzer(), BreakerAnalyzer(), AlarmsAnalyzer(), PartitionsAnalyzer(),
    DurabilityAnalyzer(), CorrectnessAnalyzer(), IntegrityAnalyzer(),
]


def analyze_loaded(run: RunData, slo: Slo | None = None, analyzers: list[Analyzer] | None = None) -> Verdict:
    """Run ``analyzers`` (default: all) over an already loaded run."""
    slo = slo or load_slo()
    results: dict[str, AnalyzerResult] = {}
    for a in analyzers or ANALYZERS:
        try:
            r = without_inputs(a, run, slo)
            if r is None:
                r = a.analyze(run, slo)
        except Exception as e:  # an analyzer bug must not hide the others' results
            r = AnalyzerResult(a.name, status="error", reason=f"{type(e).__name__}: {e}")
            r.data["traceback"] = traceback.format_exc(limit=8)
            r.check("crashed", False, type(e).__name__, "analyzer runs", str(e))
        results[a.name] = r
    required = [str(x) for x in slo.get("verdict", "required")]
    optional = [str(x) for x in slo.get("verdict", "optional")]
    for r in results.values():
        for c in r.checks:
            c.optional = matches(c.name, optional) or c.analyzer in optional
            c.required = matches(c.name, required) and not c.optional
    info = {"missing_files": run.missing, "malformed_lines": run.malformed,
            "duplicate_records_dropped": run.duplicates_dropped, "slo_source": slo.source,
            "t0": run.t0, "t_end": run.t_end, "phases": run.phases, "fault": run.fault,
            "records": len(run.records), "events": len(run.events)}
    return Verdict(run.run_id, run.variant, run.backends, results, run=info,
                   info=RunInfo.of(run.run, run.t0, run.t_end))


def analyze_run(run_dir: Path | str, slo: Slo | None = None) -> Verdict:
    """Load ``run_dir`` (docs/contracts.md, "Run directory") and run every analyzer.

    Raises RunDataError if it is not a directory.
    """
    return analyze_loaded(load_run(run_dir), slo)
