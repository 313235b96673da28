"""Measure `harness compare` on real quick runs: A/A false regressions, A/B detection, sensitivity.

Usage: python benchmarks/compare_aa_ab.py [--runs /tmp/cmp-runs] [--out benchmarks/results/compare-aa-ab.json]
       python benchmarks/compare_aa_ab.py --design DIR [--out benchmarks/results/compare-design-timing.json]

``--design DIR``: DIR holds no-fault runs at the design's timings
(``harness chaos --variant hardened --repeat N``), compared one against one.

Why real runs: a comparison is worth trusting only if identical runs rarely
differ, real changes are found, and the smallest slowdown it sees is known, all
under the run-to-run noise of a real stack, which synthetic samples lack. The
quick pools come from ``benchmarks/compare_collect.py``; results and how they
were collected: ``benchmarks/results/compare.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from harness.compare import Options, RunSample, compare_samples, load_side

FLOORS = (0.05, 0.25, 0.5)
SHIFTS_MS = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0)


def _row(c: Any, phase: str, series: str, stat: str) -> Any:
    return next((r for r in c.rows if (r.phase, r.series, r.stat) == (phase, series, stat)), None)


def aa_pairs(pool: list[RunSample], floor: float) -> dict[str, Any]:
    """A/A, single runs: the share of pairs of identical runs whose overall verdict is a regression."""
    flagged: dict[str, int] = {}
    pairs = list(itertools.combinations(range(len(pool)), 2))
    reg = 0
    for i, j in pairs:
        c = compare_samples([pool[i]], [pool[j]], Options(noise_floor=floor, resamples=1000, seed=i * 100 + j))
        if c.verdict == "regression":
            reg += 1
            for why in c.reasons:
                flagged[why] = flagged.get(why, 0) + 1
    return {"pairs": len(pairs), "false_regressions": reg, "rate": reg / len(pairs) if pairs else None,
            "flagged": dict(sorted(flagged.items(), key=lambda kv: -kv[1])[:8])}


def aa_splits(pool: list[RunSample], splits: int, per_side: int = 5) -> dict[str, Any]:
    """A/A with repetitions: random 5-vs-5 splits of one pool, compared run-level as the CI does."""
    rng = random.Random(1)
    reg = 0
    flagged: dict[str, int] = {}
    done = 0
    for k in range(splits):
        idx = rng.sample(range(len(pool)), 2 * per_side)
        c = compare_samples([pool[i] for i in idx[:per_side]], [pool[i] for i in idx[per_side:]],
                            Options(resamples=1000, seed=k))
        done += 1
        if c.verdict == "regression":
            reg += 1
            for why in c.reasons:
                flagged[why] = flagged.get(why, 0) + 1
    return {"splits": done, "false_regressions": reg, "rate": reg / done if done else None, "flagged": flagged}


def shifted(s: RunSample, d_ms: float) -> RunSample:
    lat = s.latency.copy()
    mask = (lat["phase"] == "fault") & lat["series"].str.startswith("dynamodb")
    lat.loc[mask, "latency_ms"] += d_ms
    return replace(s, latency=lat)


def pooled(runs: list[RunSample]) -> RunSample:
    """Several runs as one longer run: blocks renumbered so they stay distinct."""
    frames, turns = [], []
    for i, s in enumerate(runs):
        frames.append(s.latency.assign(block=s.latency["block"] + 1000 * i))
        turns.append(s.turns.assign(block=s.turns["block"] + 1000 * i))
    return replace(runs[0], run_id="+".join(s.run_id for s in runs), latency=pd.concat(frames, ignore_index=True),
                   turns=pd.concat(turns, ignore_index=True))


def power(pairs: list[tuple[list[RunSample], list[RunSample]]], d_ms: float, floor: float) -> float:
    hits = 0
    for k, (a, b) in enumerate(pairs):
        c = compare_samples(a, [shifted(s, d_ms) for s in b], Options(noise_floor=floor, resamples=500, seed=k))
        row = _row(c, "fault", "dynamodb.write", "p50")
        hits += bool(row and row.verdict == "regression")
    return hits / len(pairs)


def sensitivity(pool: list[RunSample]) -> dict[str, Any]:
    """Power to detect d ms added to one side's fault-phase DynamoDB calls (as a fault-phase write p50 regression).

    "Design size" pools five quick fault phases (5 x 12 s = the design's 60 s fault phase) into one side.
    """
    single = [([pool[i]], [pool[j]]) for i, j in itertools.combinations(range(len(pool)), 2)]
    out: dict[str, Any] = {"quick_single_run": {}, "quick_5v5": {}, "design_size_single": {}}
    for floor in (0.05, 0.5):
        out["quick_single_run"][f"floor {floor:.0%}"] = {d: power(single, d, floor) for d in SHIFTS_MS}
    if len(pool) >= 10:
        rng = random.Random(2)
        splits = []
        for _ in range(10):
            idx = rng.sample(range(len(pool)), 10)
            splits.append(([pool[i] for i in idx[:5]], [pool[i] for i in idx[5:]]))
        out["quick_5v5"] = {d: power(splits, d, 0.0) for d in SHIFTS_MS}
        design = [([pooled(a)], [pooled(b)]) for a, b in splits]
        out["design_size_single"] = {f"floor {f:.0%}": {d: power(design, d, f) for d in SHIFTS_MS}
                                     for f in (0.05, 0.5)}
    return out


DESIGN_SHIFTS_MS = (5.0, 10.0, 20.0, 30.0, 40.0, 60.0)
DESIGN_FLOORS = (0.5, 4.0)  # 4.0 is the default --noise-floor for fewer than 5 runs a side


def design_timing(pool: list[RunSample]) -> dict[str, Any]:
    """Single design-timing runs, every pair: A/A false regressions and the power to see d ms on DynamoDB calls.

    Both orders of a pair are used for power (d is added to the second run), so
    a slower first run does not hide or fake an effect.
    """
    ordered = list(itertools.permutations(range(len(pool)), 2))
    out: dict[str, Any] = {"runs": [s.run_id for s in pool], "pairs": len(ordered) // 2,
                           "fault_phase_dynamodb_write_p50_ms": [], "aa": {}, "power": {}}
    for s in pool:
        lat = s.latency
        m = (lat["phase"] == "fault") & (lat["series"] == "dynamodb.write")
        out["fault_phase_dynamodb_write_p50_ms"].append(round(float(lat.loc[m, "latency_ms"].median()), 2))
    for floor in DESIGN_FLOORS:
        out["aa"][f"floor {floor:.0%}"] = aa_pairs(pool, floor)
        pairs = [([pool[i]], [pool[j]]) for i, j in ordered]
        out["power"][f"floor {floor:.0%}"] = {d: power(pairs, d, floor) for d in DESIGN_SHIFTS_MS}
    return out


def ab(base: list[RunSample], new: list[RunSample], checks: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A/B: a real change (20 ms on every DynamoDB reply, or seed vs hardened) and the rows that show it."""
    c = compare_samples(base, new, Options(resamples=2000))
    rows = {}
    for phase, series, stat in checks:
        r = _row(c, phase, series, stat)
        if r is not None:
            rows[f"{phase} {series} {stat}"] = {"base": r.base, "new": r.new, "diff": r.diff,
                                                "ci": [r.ci_low, r.ci_high], "p_adj": r.p_adjusted,
                                                "verdict": r.verdict, "note": r.note}
    return {"verdict": c.verdict, "unit": c.unit, "runs": [len(base), len(new)], "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=Path("/tmp/cmp-runs"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--design", type=Path, default=None, help="a directory of design-timing runs")
    args = ap.parse_args()
    t = time.time()
    if args.design:
        out = args.out or Path("benchmarks/results/compare-design-timing.json")
        res = design_timing(load_side(args.design))
        res["seconds"] = round(time.time() - t, 1)
        out.write_text(json.dumps(res, indent=2, default=str))
        print(json.dumps(res, indent=2, default=str))
        return 0
    args.out = args.out or Path("benchmarks/results/compare-aa-ab.json")
    pools = {g: load_side(args.runs / g) for g in ("aa2s", "nofault", "lat20", "seed2s") if (args.runs / g).is_dir()}
    res: dict[str, Any] = {"runs": {g: len(p) for g, p in pools.items()}, "aa_single": {}, "aa_5v5": {}}
    for g in ("aa2s", "nofault"):
        if g in pools:
            res["aa_single"][g] = {f"floor {f:.0%}": aa_pairs(pools[g], f) for f in FLOORS}
            if len(pools[g]) >= 10:
                res["aa_5v5"][g] = aa_splits(pools[g], 20)
    dyn = [(p, s, q) for p in ("fault",) for s in ("dynamodb.write",) for q in ("p50", "p95", "U-test", "KS")]
    if "nofault" in pools and "lat20" in pools:
        res["ab_20ms_pooled"] = ab(pools["nofault"], pools["lat20"], dyn)
        res["ab_20ms_single"] = [ab([a], [b], dyn)["rows"].get("fault dynamodb.write p50")
                                 for a, b in zip(pools["nofault"], pools["lat20"], strict=False)]
    if "aa2s" in pools and "seed2s" in pools:
        res["ab_seed_vs_hardened"] = ab(pools["aa2s"], pools["seed2s"],
                                        [("fault", "user", q) for q in ("p50", "p95", "p99", "U-test", "KS")]
                                        + [("all", "dynamodb", "lost turns"), ("fault", "dynamodb", "opened")])
    if "nofault" in pools:
        res["sensitivity"] = sensitivity(pools["nofault"])
    res["seconds"] = round(time.time() - t, 1)
    args.out.write_text(json.dumps(res, indent=2, default=str))
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
