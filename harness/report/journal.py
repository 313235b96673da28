"""The run as a Chaos Toolkit journal (``journal.json``), the format Chaos Toolkit users already read.

It reads the way ``chaos run`` would have written it: the *experiment* is the
run as declared (faults as Toxiproxy actions, their removal as rollbacks, the
design's claims as the steady-state hypothesis with one ``process`` probe per
verdict check, re-running ``harness analyze``, tolerance exit 0); *run* and
*rollbacks* hold one entry per fault applied or removed; *steady_states.after*
holds each check's outcome, *deviated* is true when a required check did not
pass, and *status* is Chaos Toolkit's (``failed`` means a rollback failed).

Derived from ``run.json``, ``timeline.json`` and the verdict, so
``harness analyze`` rewrites it with the reports.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.analyzers.base import Verdict

CHAOSLIB_SHAPE_VERSION = "1.44.0"  # the chaostoolkit-lib whose journal keys this follows


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(float(ts), UTC).isoformat()


def _toxiproxy_action(step: dict[str, Any], toxiproxy: str, verb: str) -> dict[str, Any]:
    proxy = step.get("proxy") or "unknown"
    name = f"{verb} {step.get('fault', 'fault')}"
    if step.get("toxic"):
        url = f"{toxiproxy}/proxies/{proxy}/toxics" + ("" if verb == "apply" else f"/{step['toxic']}")
        method = "POST" if verb == "apply" else "DELETE"
    else:
        url, method = f"{toxiproxy}/proxies/{proxy}", "POST"
    return {"type": "action", "name": name, "provider": {"type": "http", "url": url, "method": method}}


def _entry(activity: dict[str, Any], step: dict[str, Any], status: str) -> dict[str, Any]:
    when = _iso(step.get("ts"))
    return {"activity": activity, "output": step.get("detail"), "status": status,
            "start": when, "end": when, "duration": 0.0}


def _probe(check_name: str, run_dir: Path) -> dict[str, Any]:
    return {"type": "probe", "name": check_name, "tolerance": 0,
            "provider": {"type": "process", "path": sys.executable,
                         "arguments": ["-m", "harness", "analyze", str(run_dir)]}}


def _status(run: dict[str, Any]) -> str:
    if run.get("rollback_errors") or run.get("error"):
        return "failed"
    if run.get("aborted"):
        return "aborted"
    return "interrupted" if run.get("status") == "interrupted" else "completed"


def build_journal(run_dir: Path, verdict: Verdict) -> dict[str, Any]:
    """The Chaos Toolkit journal of a finished run directory."""
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    timeline_path = run_dir / "timeline.json"
    timeline = json.loads(timeline_path.read_text()) if timeline_path.is_file() else []
    toxiproxy = str(run.get("toxiproxy_url") or "http://127.0.0.1:8474")
    applied = [s for s in timeline if s.get("action") == "apply"]
    removed = [s for s in timeline if s.get("action") in ("remove", "rollback_failed")]
    checks = verdict.checks
    method = [_toxiproxy_action(s, toxiproxy, "apply") for s in applied] or [
        {"type": "probe", "name": "no fault", "tolerance": 0,
         "provider": {"type": "process", "path": sys.executable, "arguments": ["-c", "pass"]}}]
    rollbacks = [_toxiproxy_action(s, toxiproxy, "remove") for s in removed]
    experiment: dict[str, Any] = {
        "version": "1.0.0",
        "title": f"{verdict.variant}: {run.get('fault', {}).get('kind', 'no fault')}",
        "description": "memory-chaos-harness run " + verdict.run_id + ": " + ", ".join(
            run.get("fault", {}).get("faults", []) or ["no fault"]),
        "tags": ["memory-chaos-harness", verdict.variant],
        "steady-state-hypothesis": {"title": "the design's resilience claims hold",
                                    "probes": [_probe(c.name, run_dir) for c in checks]},
        "method": method,
        "rollbacks": rollbacks,
    }
    after = [{"activity": _probe(c.name, run_dir), "output": c.outcome, "status": "succeeded",
              "tolerance_met": c.outcome == "pass", "detail": c.detail} for c in checks]
    deviated = any(c.outcome != "pass" for c in checks if not c.optional)
    start = run.get("launched_at") or (timeline[0]["ts"] if timeline else None)
    end = run.get("ended_at") or (timeline[-1]["ts"] if timeline else None)
    return {
        "chaoslib-version": CHAOSLIB_SHAPE_VERSION,
        "platform": platform.platform(),
        "node": platform.node(),
        "experiment": experiment,
        "start": _iso(start),
        "end": _iso(end),
        "duration": None if start is None or end is None else round(float(end) - float(start), 3),
        "status": _status(run),
        "deviated": deviated,
        "steady_states": {"before": None, "after": {"steady_state_met": not deviated, "probes": after},
                          "during": []},
        "run": [_entry(a, s, "succeeded") for a, s in zip(method, applied, strict=False)],
        "rollbacks": [_entry(a, s, "failed" if s.get("action") == "rollback_failed" else "succeeded")
                      for a, s in zip(rollbacks, removed, strict=False)],
    }


def write_journal(path: Path, verdict: Verdict) -> Path:
    """Write ``journal.json`` next to the run's other reports."""
    path.write_text(json.dumps(build_journal(path.parent, verdict), indent=2, default=str) + "\n")
    return path
