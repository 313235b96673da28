"""How soon is a scheduled fault in force on the wire? (target: within 50 ms of its scheduled start)

Runs a real ``harness chaos`` with the seed variant — its DynamoDB writes have
no timeout, so every call made while the latency toxic is active takes the
full toxic latency — then reads the service's own event log: every DynamoDB
call has an end time (``ts``) and a latency, hence a start time. The fault is
in force on the wire at the earliest moment after which no call *starts* fast
(calls the breaker rejected never reach the wire and are left out; a call cut
by the 200 ms read timeout counts as slowed). ``onset_lag_ms`` is the start of
the last fast call after the scheduled fault start, relative to it: an upper
bound on the lag, as precise as the calls are dense. Removal is measured the
same way at the end of the fault. Usage:

    python benchmarks/fault_onset.py [--runs 3] [--latency 1s] [--users 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median


def measure(run_dir: Path, latency_ms: float) -> dict[str, float]:
    fault = json.loads((run_dir / "run.json").read_text())["fault"]
    calls = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("store") == "dynamodb" and event.get("event") in ("memory_read", "memory_write"):
            if event.get("outcome") == "circuit_open":
                continue  # rejected by the breaker: never reached the wire
            start = event["ts"] - event["latency_ms"] / 1000
            slowed = event["latency_ms"] >= latency_ms * 0.9 or event.get("outcome") == "timeout"
            calls.append((start, slowed))
    calls.sort()
    s0, s1 = fault["scheduled_start"], fault["scheduled_end"]
    # A call that starts less than one toxic latency before the removal is released early by it.
    fast_after_start = [t for t, slow in calls if not slow and s0 <= t < s1 - latency_ms / 1000]
    slow_before_end = [t for t, slow in calls if slow and s0 <= t < s1 + 1]
    first_slow = min((t for t, slow in calls if slow and t >= s0), default=float("nan"))
    onset_ms = max(0.0, (max(fast_after_start) - s0) * 1000) if fast_after_start else 0.0
    removal_ms = max(0.0, (max(slow_before_end) - s1) * 1000) if slow_before_end else 0.0
    return {
        "apply_call_delay_ms": (fault["start"] - s0) * 1000,
        "onset_lag_ms": onset_ms,
        "first_slow_call_start_ms": (first_slow - s0) * 1000,
        "removal_lag_ms": removal_ms,
        "calls_in_fault": sum(1 for t, _ in calls if s0 <= t < s1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", default="1s")
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    latency_ms = float(args.latency.rstrip("s")) * 1000 if not args.latency.endswith("ms") else float(args.latency[:-2])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            reports = Path(tmp) / f"r{index}"
            subprocess.run(
                [sys.executable, "-m", "harness", "chaos", "--quick", "--variant", "seed", "--dynamo-latency",
                 args.latency, "--users", str(args.users), "--baseline", "4s", "--fault", "6s",
                 "--recovery", "4s", "--report-dir", str(reports)],
                capture_output=True, text=True, timeout=300, cwd=tmp,
                env={"HARNESS_HOME": str(Path(tmp) / "none"), "PATH": "/usr/bin:/bin", **_env()},
            )
            run_dir = next(reports.glob("*/"))
            results.append(measure(run_dir, latency_ms))
            print(json.dumps(results[-1]))
    for key in ("apply_call_delay_ms", "onset_lag_ms", "removal_lag_ms"):
        values = [r[key] for r in results]
        print(f"{key}: median {median(values):.1f} ms, max {max(values):.1f} ms over {len(values)} runs")
    return 0


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HARNESS_HOME"}


if __name__ == "__main__":
    raise SystemExit(main())
