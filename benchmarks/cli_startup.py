"""How long ``harness --help`` takes, against a bare interpreter start, in one run.

Every command pays the CLI's import cost before it does anything, and the
quick commands (``--help``, ``up``, ``status``, ``down``) pay nothing else. The
heavy analysis stack (scipy, matplotlib, pandas) is imported only by the
commands that use it; this measures that the CLI stays cheap to start. Runs
alternate, and the result is a ratio to ``python -c pass`` from the same run.

Usage: python benchmarks/cli_startup.py [--rounds 10] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROBES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import harness.cli": [sys.executable, "-c", "import harness.cli"],
    "harness --help": [sys.executable, "-m", "harness", "--help"],
    "import harness.compare.engine (scipy)": [sys.executable, "-c", "import harness.compare.engine"],
}


def _once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in PROBES}
    for _ in range(args.rounds):
        for name, argv in PROBES.items():
            times[name].append(_once(argv))
    base = statistics.median(times["python -c pass"])
    lines = ["| probe | median s | × bare interpreter |", "|---|---|---|"]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(f"| {name} | {med:.3f} | {med / base:.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
