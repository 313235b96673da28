"""``harness chaos --repeat N``: the same experiment N times, seeds N apart, in one directory.

One run's p99 is one draw; whether a change matters is a question about the
spread. Each repetition is a full, independent run (its own stack when none is
running, its own journal and verdict) under ``<report-dir>/repeat-<label>-<time>/``,
which ``harness compare`` reads as one side. ``repeat.json`` and ``repeat.md``
list every run and the spread of its p99s. The exit code is the worst verdict:
any fail is 1, else any inconclusive is 3; an interrupted run stops the rest.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from harness.chaos.runner import ChaosOptions, ChaosRun

PHASES = ("baseline", "fault", "recovery")


@dataclass(frozen=True)
class Repetition:
    """One finished run of the series."""

    run_dir: str
    seed: int
    outcome: str
    exit_code: int
    p99_ms: dict[str, float | None]


@dataclass(frozen=True)
class RepeatResult:
    """The series: where it is, each run, and the exit code of the worst verdict."""

    directory: Path
    runs: list[Repetition]
    exit_code: int
    summary: str


def _p99s(run_dir: Path) -> tuple[str, dict[str, float | None]]:
    path = run_dir / "verdict.json"
    if not path.is_file():
        return "error", dict.fromkeys(PHASES)
    verdict = json.loads(path.read_text())
    checks = {c["name"]: c for c in verdict.get("checks", [])}
    return str(verdict.get("outcome")), {ph: checks.get(f"latency.{ph}.p99", {}).get("measured") for ph in PHASES}


def _worst(codes: list[int]) -> int:
    for code in (130, 2):
        if code in codes:
            return code
    if any(c not in (0, 3) for c in codes):
        return 1
    return 3 if 3 in codes else 0


def _table(runs: list[Repetition]) -> str:
    lines = ["| run | seed | verdict | " + " | ".join(f"{ph} p99 ms" for ph in PHASES) + " |",
             "|---|---|---|" + "---|" * len(PHASES)]
    for r in runs:
        cells = [f"{r.p99_ms[ph]:,.1f}" if isinstance(r.p99_ms[ph], int | float) else "–" for ph in PHASES]
        lines.append(f"| {Path(r.run_dir).name} | {r.seed} | {r.outcome} | " + " | ".join(cells) + " |")
    spread = []
    for ph in PHASES:
        vals = [float(v) for r in runs if isinstance(v := r.p99_ms[ph], int | float)]
        spread.append(f"{min(vals):,.1f} / {statistics.median(vals):,.1f} / {max(vals):,.1f}" if vals else "–")
    lines.append("| **min / median / max** | | | " + " | ".join(spread) + " |")
    return "\n".join(lines)


def run_repeated(opts: ChaosOptions, n: int, console: Console) -> RepeatResult:
    """Run ``opts`` ``n`` times with seeds ``opts.seed``, ``opts.seed + 1``, ..."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    directory = opts.report_dir.resolve() / f"repeat-{opts.variant}-{opts.fault_label}-{stamp}"
    directory.mkdir(parents=True, exist_ok=True)
    runs: list[Repetition] = []
    for i in range(n):
        seed = opts.seed + i
        console.print(f"[bold]repetition {i + 1} of {n}[/] (seed {seed})")
        result = ChaosRun(dataclasses.replace(opts, seed=seed, report_dir=directory), console).execute()
        outcome, p99 = _p99s(result.run_dir)
        runs.append(Repetition(str(result.run_dir), seed, outcome, result.exit_code, p99))
        if result.exit_code == 130:
            break
    summary = _table(runs)
    code = _worst([r.exit_code for r in runs])
    (directory / "repeat.json").write_text(json.dumps(
        {"n": n, "completed": len(runs), "exit_code": code, "runs": [dataclasses.asdict(r) for r in runs]},
        indent=2) + "\n")
    (directory / "repeat.md").write_text(f"# {n} repetitions: {opts.variant}, {opts.fault_label}\n\n{summary}\n")
    return RepeatResult(directory, runs, code, summary)
