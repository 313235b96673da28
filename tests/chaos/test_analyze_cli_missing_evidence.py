"""``harness analyze`` on a run directory holding only ``run.json``: inconclusive (exit 3), naming what is missing.

The run's bookkeeping says it completed and rolled back, which decides two
``run.*`` checks; nothing else is there. That must never read as a pass: the
required checks that need records lack their evidence, and the CLI says which
files are missing. The wire tap, absent with any real Toxiproxy, is not named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def analyze(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "analyze", str(run_dir)],
                          capture_output=True, text=True, timeout=120, cwd=run_dir.parent,
                          env={**os.environ, "COLUMNS": "60"})


def test_analyze_of_run_json_only_exits_3_and_names_the_missing_evidence(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "run_id": "r", "variant": "hardened", "status": "completed", "rollback_errors": [],
        "phases": [{"name": "baseline", "start": 0.0, "end": 10.0}]}))

    proc = analyze(run)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr

    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # what is missing, then the headline: each one line on a narrow terminal
    missing, headline = lines
    assert missing.startswith("missing evidence: ")
    for name in ("records/records.jsonl", "events.jsonl", "table.jsonl", "timeline.json", "metrics.txt"):
        assert f"{name} not found" in missing, name
    assert "taps/" not in missing
    assert headline == "INCONCLUSIVE: requests.evidence: records/records.jsonl not found (+2 more)"

    # The summary on stdout says it too, and every report was (re)written.
    assert "INCONCLUSIVE" in proc.stdout and "records/records.jsonl not found" in proc.stdout
    for name in ("verdict.json", "summary.md", "report.html", "junit.xml"):
        assert (run / name).is_file(), name
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["outcome"] == "inconclusive" and verdict["passed"] is False
    assert verdict["headline"] == headline
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["run.completed"]["outcome"] == "pass" and checks["run.rollback"]["outcome"] == "pass"
    undecided = {n for n, c in checks.items() if c["outcome"] == "inconclusive" and c["required"]}
    assert undecided == {"requests.evidence", "durability.evidence", "correctness.evidence"}
    assert all("records/records.jsonl" in checks[n]["reason"] for n in undecided)
    assert not any(c["outcome"] == "fail" for c in checks.values())
    assert {"requests", "durability", "correctness", "breaker", "alarms"} <= set(verdict["skipped"])


def test_analyze_exit_code_follows_the_run_json_it_reads(tmp_path: Path) -> None:
    """The same directory with an aborted run.json: the abort is judged, so it fails (exit 1), not inconclusive."""
    run = tmp_path / "run"
    run.mkdir()
    reason = "target http://127.0.0.1:9 is not accepting connections (Connection refused)"
    (run / "run.json").write_text(json.dumps({
        "run_id": "r", "variant": "hardened", "status": "aborted", "rollback_errors": [],
        "aborted": {"reason": reason, "requests": 0}, "phases": []}))
    proc = analyze(run)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "FAIL: requests.early_abort, run.completed"
    checks = {c["name"]: c for c in json.loads((run / "verdict.json").read_text())["checks"]}
    assert checks["requests.early_abort"]["outcome"] == "fail" and checks["requests.early_abort"]["detail"] == reason
