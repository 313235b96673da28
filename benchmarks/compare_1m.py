"""Benchmark: `harness compare` on two run directories of 1,000,000 requests each (target: < 10 s;
met on 2026-12-07 at 17:22, not on that day's slower machine at 23:20: see compare.md).

Usage: python benchmarks/compare_1m.py [--records 1000000] [--repeat 2] [--dir DIR]

Writes two synthetic runs with ``analyze_1m.build`` (the same generator and
seed, so an A/A pair at full size: the work is the same whatever the data), then
times the whole CLI as a user runs it -- ``python -m harness compare A B
--format md`` in a fresh process, imports included -- and, separately, the
in-process load and comparison. Results go to ``benchmarks/results/compare.md``
by hand, with the date and the machine's state.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analyze_1m import build

from harness.compare import Options, compare_samples, load_sides


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = a.dir or Path(tmp)
        sides = [root / "base" / "run-a", root / "new" / "run-b"]
        t = time.perf_counter()
        for d in sides:
            build(d, a.records, 20_000, table=False)
        print(f"generated 2 x {a.records} records in {time.perf_counter() - t:.1f} s")
        for i in range(a.repeat):
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "harness", "compare", str(sides[0].parent),
                                   str(sides[1].parent), "--format", "md"], capture_output=True, text=True)
            cli = time.perf_counter() - t
            t = time.perf_counter()
            base, new = load_sides(sides[0].parent, sides[1].parent)
            t_load = time.perf_counter() - t
            c = compare_samples(base, new, Options())
            t_cmp = time.perf_counter() - t - t_load
            print(f"run {i + 1}: CLI {cli:.2f} s (exit {proc.returncode}); in process: load both sides "
                  f"{t_load:.2f} s, "
                  f"compare {t_cmp:.2f} s ({len(c.rows)} rows, unit {c.unit}, verdict {c.verdict})")
        if proc.returncode not in (0, 1, 3):
            print(proc.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
