"""Reports for a finished run: verdict.json, summary.md, report.html, junit.xml.

One small module per format; :func:`write_reports` writes all four into the run
directory and returns their paths keyed by format.
"""

from __future__ import annotations

from pathlib import Path

from harness.analyzers.base import Verdict
from harness.report.html import write_html
from harness.report.journal import write_journal
from harness.report.junit import write_junit
from harness.report.summary_md import write_summary
from harness.report.verdict_json import write_verdict_json

__all__ = ["write_reports"]


def write_reports(run_dir: Path | str, verdict: Verdict) -> dict[str, Path]:
    rd = Path(run_dir)
    rd.mkdir(parents=True, exist_ok=True)
    return {
        "verdict": write_verdict_json(rd / "verdict.json", verdict),
        "summary": write_summary(rd / "summary.md", verdict),
        "html": write_html(rd / "report.html", verdict),
        "junit": write_junit(rd / "junit.xml", verdict),
        "journal": write_journal(rd / "journal.json", verdict),
    }
