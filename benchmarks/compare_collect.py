"""Collect real quick runs for the `harness compare` A/A and A/B measurements.

Usage: python benchmarks/compare_collect.py [--out /tmp/cmp-runs] [--rounds 6] [--groups aa2s,nofault,lat20,seed2s]

Each group is one experiment; its runs go to ``OUT/<group>/`` (a directory of
repetitions, as ``harness compare`` takes). Groups are run round-robin, one run
of each per round, so that drift of the machine over the session (other load,
thermal state) touches every group alike instead of biasing the later ones.
Every run holds ``/tmp/harness-load.lock`` so it never overlaps another load
test on the shared cores. ``--code DIR`` runs a frozen copy of the project
(``git archive HEAD | tar -x -C DIR``): an A/A pair is only an A/A pair if
both runs execute the same code, which a working tree being edited does not
guarantee.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

GROUPS: dict[str, list[str]] = {
    # the CI experiment: the hardened variant under 2 s of DynamoDB latency
    "aa2s": ["--variant", "hardened", "--dynamo-latency", "2s"],
    # no fault: the fault phase is a second baseline (the A side of the 20 ms A/B)
    "nofault": ["--variant", "hardened"],
    # 20 ms on every DynamoDB reply during the fault phase (the B side)
    "lat20": ["--variant", "hardened", "--dynamo-latency", "20ms"],
    # the seed design under the CI fault (the B side of seed vs hardened)
    "seed2s": ["--variant", "seed", "--dynamo-latency", "2s"],
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/cmp-runs"))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("--max-per-group", default="", help="e.g. lat20=4,seed2s=3")
    ap.add_argument("--code", type=Path, default=None, help="run this copy of the project instead of the installed one")
    args = ap.parse_args()
    env = dict(os.environ)
    cwd = None
    if args.code:
        env["PYTHONPATH"] = str(args.code.resolve())
        cwd = str(args.code.resolve())
    args.out = args.out.resolve()
    caps = dict(kv.split("=") for kv in args.max_per_group.split(",") if kv)
    groups = [g for g in args.groups.split(",") if g]
    for rnd in range(args.rounds):
        for g in groups:
            out = args.out / g
            out.mkdir(parents=True, exist_ok=True)
            have = sum(1 for p in out.iterdir() if (p / "run.json").is_file())
            if have >= int(caps.get(g, args.rounds)):
                continue
            cmd = ["flock", "/tmp/harness-load.lock", "python", "-m", "harness", "chaos", "--quick", *GROUPS[g],
                   "--report-dir", str(out)]
            t = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
            print(f"round {rnd} {g}: exit {proc.returncode} in {time.time() - t:.0f}s", flush=True)
            if proc.returncode not in (0, 1):
                print(proc.stderr[-2000:], file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
