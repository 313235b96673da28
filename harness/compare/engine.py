"""Compare two sides (BASE, NEW) metric by metric and reach one verdict.

Why the verdict rules look like this:

* a metric is a ``regression`` (or ``improvement``) only when it is
  statistically significant *and* its effect is at least ``min_effect``: with a
  million requests every nanosecond is significant, and a 0.3 % shift is not
  what a pull-request gate is for (pyperf and Kayenta do the same);
* significance is judged on Holm-adjusted p-values over every tested metric of
  the comparison, so an A/A pair flags a false regression with probability at
  most ``alpha`` overall, not per metric;
* a quantile with fewer than 10 / (1 - p) samples on a side is
  ``inconclusive`` -- the CloudWatch rule of thumb -- and says how many it needs;
* lost turns need no test: any increase is a regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from harness.compare import stats
from harness.compare.runs import PHASE_ORDER, SERIES, RunSample

Verdict = Literal["regression", "improvement", "~", "inconclusive"]
Unit = Literal["auto", "runs", "blocks", "requests"]
QUANTILES = (0.5, 0.95, 0.99, 0.999)
MIN_RUNS_FOR_RUN_LEVEL = 5
MIN_TEST_SAMPLES = 20  # U and KS asymptotics
MIN_SHARE_SAMPLES = 30
EXIT_CODES = {"regression": 1, "inconclusive": 3}


@dataclass
class MetricRow:
    """One line of the comparison table. ``diff`` is NEW - BASE; ``rel`` is diff / BASE."""

    family: str  # latency | shift | shape | share | breaker | alarm | durability
    phase: str
    series: str
    stat: str
    unit: str
    base: float | None
    new: float | None
    n_base: int
    n_new: int
    diff: float | None = None
    rel: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    effect: float | None = None  # the quantity compared with min_effect
    worse: bool | None = None  # direction: NEW worse than BASE
    test: str = ""
    verdict: Verdict = "~"
    note: str = ""


@dataclass
class Comparison:
    """The whole comparison, as the renderers and the exit code see it."""

    base: str
    new: str
    base_runs: list[str]
    new_runs: list[str]
    unit: str
    unit_note: str
    alpha: float
    min_effect: float
    rows: list[MetricRow]
    verdict: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    threshold: float = 0.05  # the effect size actually required (min_effect, or the noise floor)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.verdict, 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


@dataclass(frozen=True)
class Options:
    alpha: float = 0.05
    min_effect: float = 0.05
    unit: Unit = "auto"
    resamples: int = stats.DEFAULT_RESAMPLES
    seed: int = 0
    # Smallest relative effect called in request-level mode, where run-to-run spread
    # is not in the intervals. Measured on real quick runs of identical code on the
    # shared 2-core machine (benchmarks/results/compare.md): with a floor of 50 % half
    # of the single-run A/A pairs still showed a "regression" (user p50 12 ms in one
    # run, 35 ms in the next), 200 % still 13-24 %, 400 % none of 90.
    noise_floor: float = 4.0


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _rel(diff: float, base: float) -> float | None:
    if base > 0:
        return diff / base
    return None if diff == 0 else math.copysign(math.inf, diff)


def _unit_ids(frames: list[pd.DataFrame], unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, resampling unit per value) over a side's runs."""
    vals = [f["latency_ms"].to_numpy(dtype=float) for f in frames]
    if unit == "runs":
        ids = [np.full(len(v), i) for i, v in enumerate(vals)]
    else:
        ids = [f["block"].to_numpy(dtype=np.int64) + (i << 32) for i, f in enumerate(frames)]
    values = np.concatenate(vals) if vals else np.array([])
    units = np.concatenate(ids) if ids else np.array([], dtype=np.int64)
    return values, np.unique(units, return_inverse=True)[1] if len(units) else units


def _select(samples: Sequence[RunSample], phase: str, series: str) -> list[pd.DataFrame]:
    out = []
    for s in samples:
        lat = s.latency
        out.append(lat[(lat["phase"] == phase) & (lat["series"] == series)])
    return out


def _latency_rows(base: Sequence[RunSample], new: Sequence[RunSample], phase: str, series: str,
                  unit: str, opt: Options) -> list[MetricRow]:
    """Quantile differences with bootstrap CIs, then the U test (shift) and KS (shape)."""
    bv, bu = _unit_ids(_select(base, phase, series), unit)
    nv, nu = _unit_ids(_select(new, phase, series), unit)
    nb, nn = len(bv), len(nv)
    if nb == 0 and nn == 0:
        return []
    rows: list[MetricRow] = []
    counts = stats.unit_counts((bv, bu), (nv, nu)) if min(nb, nn) >= MIN_TEST_SAMPLES else None
    decidable = [q for q in QUANTILES if min(nb, nn) >= stats.samples_needed(q)]
    diffs: dict[float, stats.QuantileDiff] = {}
    if decidable and counts:
        for d in stats.bootstrap_quantile_diff(*counts, tuple(decidable), alpha=opt.alpha, resamples=opt.resamples,
                                               by_request=unit == "requests", seed=opt.seed):
            diffs[d.q] = d
    for q in QUANTILES:
        if q in diffs:
            d = diffs[q]
            rel = _rel(d.diff, d.base)
            rows.append(MetricRow("latency", phase, series, f"p{q * 100:g}", "ms", d.base, d.new, nb, nn, d.diff, rel,
                                  _finite(d.ci_low), _finite(d.ci_high), _finite(d.p_value),
                                  effect=None if rel is None else abs(rel), worse=d.diff > 0,
                                  test=f"bootstrap over {unit}"))
        else:
            rows.append(_undecided_quantile(bv, nv, q, phase, series))
    rows.extend(_rank_and_shape(bv, nv, counts, phase, series, unit, opt))
    return rows


def _undecided_quantile(bv: np.ndarray, nv: np.ndarray, q: float, phase: str, series: str) -> MetricRow:
    nb, nn = len(bv), len(nv)
    need = stats.samples_needed(q)
    row = MetricRow("latency", phase, series, f"p{q * 100:g}", "ms",
                    _finite(float(np.quantile(bv, q, method="inverted_cdf"))) if nb else None,
                    _finite(float(np.quantile(nv, q, method="inverted_cdf"))) if nn else None, nb, nn,
                    verdict="inconclusive", test="bootstrap",
                    note=f"needs >= {need} samples per side (has {nb} / {nn})")
    if row.base is not None and row.new is not None:
        row.diff = row.new - row.base
        row.rel = _rel(row.diff, row.base)
    return row


def _rank_and_shape(bv: np.ndarray, nv: np.ndarray, counts: tuple[stats.UnitCounts, stats.UnitCounts] | None,
                    phase: str, series: str, unit: str, opt: Options) -> list[MetricRow]:
    """U test and KS; unless resampling single requests, their variance allows for correlated units."""
    nb, nn = len(bv), len(nv)
    med_b = float(np.median(bv)) if nb else math.nan
    med_n = float(np.median(nv)) if nn else math.nan
    if counts is None:
        note = f"needs >= {MIN_TEST_SAMPLES} samples per side (has {nb} / {nn})"
        return [MetricRow("shift", phase, series, "U-test", "ms", _finite(med_b), _finite(med_n), nb, nn,
                          verdict="inconclusive", test="Mann-Whitney U", note=note),
                MetricRow("shape", phase, series, "KS", "ms", None, None, nb, nn,
                          verdict="inconclusive", test="Kolmogorov-Smirnov", note=note)]
    cb, cn = counts
    if unit == "requests":
        if max(nb, nn) <= stats.EXACT_LIMIT:
            p_u, ks = stats.mann_whitney(bv, nv).p_value, stats.ks_test(bv, nv)
        else:
            p_u, _ = stats.mann_whitney_counts(cb.counts.sum(axis=0), cn.counts.sum(axis=0))
            ks = stats.ks_counts(cb.grid, cb.counts.sum(axis=0), cn.counts.sum(axis=0))
        how = ""
    else:
        p_u = stats.clustered_u_test(cb, cn, resamples=max(200, opt.resamples // 4), seed=opt.seed)
        ks = stats.ks_clustered(cb, cn)
        how = f" (variance over {unit})"
    shift = stats.hodges_lehmann(bv, nv, opt.seed)
    rel = _rel(shift, med_b)
    # KS's effect in latency terms: at the quantile level of the largest CDF gap,
    # how far apart the two sides' latencies are, relative to BASE's
    level = float(np.clip(np.mean(bv <= ks.location), 1.0 / nb, 1.0))
    qb = float(np.quantile(bv, level, method="inverted_cdf"))
    qn = float(np.quantile(nv, level, method="inverted_cdf"))
    ks_rel = _rel(qn - qb, qb)
    return [MetricRow("shift", phase, series, "U-test", "ms", med_b, med_n, nb, nn, shift, rel, p_value=p_u,
                      effect=None if rel is None else abs(rel), worse=shift > 0,
                      test=f"Mann-Whitney U{how}; diff = Hodges-Lehmann shift", note="base/new are medians"),
            MetricRow("shape", phase, series, "KS", "ms", qb, qn, nb, nn, qn - qb, ks_rel,
                      p_value=ks.p_value, effect=None if ks_rel is None else abs(ks_rel), worse=qn > qb,
                      test=f"Kolmogorov-Smirnov{how}",
                      note=f"largest CDF gap D = {ks.statistic:.3f} at {ks.location:.3g} ms; "
                           f"base/new are the p{100 * level:.3g} there")]


SHARE_DENOMINATOR = {"error": None, "degraded": "answered", "stateless": "answered", "wrong": "checked"}


def _share_counts(samples: Sequence[RunSample], phase: str, share: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Per resampling unit: (hits, trials)."""
    hits: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    den = SHARE_DENOMINATOR[share]
    for s in samples:
        t = s.turns
        t = t[t["phase"] == phase]
        if den:
            t = t[t[den].astype(bool)]
        if unit == "runs":
            hits.append(np.array([int(t[share].sum())]))
            totals.append(np.array([len(t)]))
        elif len(t):
            g = t.groupby("block")[share]
            hits.append(g.sum().to_numpy(dtype=float))
            totals.append(g.size().to_numpy(dtype=float))
    if not hits:
        return np.array([]), np.array([])
    return np.concatenate(hits), np.concatenate(totals)


def _share_rows(base: Sequence[RunSample], new: Sequence[RunSample], phase: str, unit: str) -> list[MetricRow]:
    rows = []
    for share in ("error", "degraded", "stateless", "wrong"):
        bh, bt = _share_counts(base, phase, share, unit)
        nh, nt = _share_counts(new, phase, share, unit)
        b_hits, b_n, n_hits, n_n = int(bh.sum()), int(bt.sum()), int(nh.sum()), int(nt.sum())
        if b_n == 0 and n_n == 0:
            continue
        pb = b_hits / b_n if b_n else math.nan
        pn = n_hits / n_n if n_n else math.nan
        if min(b_n, n_n) < MIN_SHARE_SAMPLES:
            rows.append(MetricRow("share", phase, "user", f"{share} share", "%", _finite(pb), _finite(pn), b_n, n_n,
                                  verdict="inconclusive", test="two-proportion",
                                  note=f"needs >= {MIN_SHARE_SAMPLES} turns per side (has {b_n} / {n_n})"))
            continue
        deff = 1.0 if unit == "requests" else max(stats.design_effect(bh, bt), stats.design_effect(nh, nt))
        t = stats.two_proportions(b_hits, b_n, n_hits, n_n, deff)
        rel = _rel(t.diff, t.base)
        rows.append(MetricRow("share", phase, "user", f"{share} share", "%", t.base, t.new, b_n, n_n, t.diff, rel,
                              p_value=t.p_value, effect=None if rel is None else abs(rel), worse=t.diff > 0,
                              test=t.test, note=f"{b_hits} / {b_n} vs {n_hits} / {n_n}"))
    return rows


BREAKER_FIELDS = (("time_to_open_s", "time to open", True), ("open_duration_s", "open duration", None),
                  ("probes_per_half_open", "probes per half-open", None), ("time_to_close_s", "time to close", True))


def _breaker_rows(base: Sequence[RunSample], new: Sequence[RunSample], run_level: bool) -> list[MetricRow]:
    """Breaker timings (tested with Welch's t at >= 5 runs a side), and whether it opened at all.

    Open duration and probes per half-open have no "worse" direction -- the spec
    fixes them (30 s; exactly one) -- so a change is reported, never a regression.
    """
    ob = sum(s.breaker.opened for s in base)
    on = sum(s.breaker.opened for s in new)
    rows = [MetricRow("breaker", "fault", "dynamodb", "opened", "runs", float(ob), float(on), len(base), len(new),
                      diff=float(on - ob), test="rule", note=f"opened in {ob}/{len(base)} vs {on}/{len(new)} runs")]
    if ob == len(base) and on == 0:
        rows[0].verdict, rows[0].note = "regression", rows[0].note + ": the breaker no longer opens"
    elif ob == 0 and on == len(new) and on:
        rows[0].verdict = "~"
        rows[0].note += ": the breaker now opens"
    for attr, label, higher_worse in BREAKER_FIELDS:
        bv = np.array([v for s in base if (v := getattr(s.breaker, attr)) is not None], dtype=float)
        nv = np.array([v for s in new if (v := getattr(s.breaker, attr)) is not None], dtype=float)
        if not len(bv) and not len(nv):
            continue
        row = MetricRow("breaker", "fault", "dynamodb", label, "s" if attr.endswith("_s") else "",
                        float(bv.mean()) if len(bv) else None, float(nv.mean()) if len(nv) else None,
                        len(bv), len(nv), test="Welch t over runs")
        if row.base is not None and row.new is not None:
            row.diff = row.new - row.base
            row.rel = _rel(row.diff, row.base)
        if run_level and min(len(bv), len(nv)) >= MIN_RUNS_FOR_RUN_LEVEL:
            row.p_value = _finite(stats.welch(bv, nv))
            row.effect = None if row.rel is None else abs(row.rel)
            row.worse = bool(higher_worse and (row.diff or 0) > 0)
            if higher_worse is None:
                row.family = "breaker-spec"
        else:
            row.verdict = "inconclusive"
            row.note = f"needs >= {MIN_RUNS_FOR_RUN_LEVEL} runs per side with the event for a test"
        rows.append(row)
    return rows


def _alarm_rows(base: Sequence[RunSample], new: Sequence[RunSample]) -> list[MetricRow]:
    """Alarms that fire on one side and not the other: firing in every NEW run and no BASE run is a regression."""
    names = sorted({n for s in [*base, *new] for n in s.alarms})
    rows = []
    for name in names:
        fb = sum(bool(s.alarms.get(name)) for s in base)
        fn = sum(bool(s.alarms.get(name)) for s in new)
        kb = sum(name in s.alarms for s in base)
        kn = sum(name in s.alarms for s in new)
        row = MetricRow("alarm", "all", name, "fired", "runs", float(fb), float(fn), kb, kn, diff=float(fn - fb),
                        test="rule", note=f"fired in {fb}/{kb} vs {fn}/{kn} runs")
        if kn and fn == kn and fb == 0 and kb:
            row.verdict, row.note = "regression", row.note + ": fires only in NEW"
        elif kb and fb == kb and fn == 0 and kn:
            row.verdict, row.note = "improvement", row.note + ": fires only in BASE"
        rows.append(row)
    return rows


def _durability_rows(base: Sequence[RunSample], new: Sequence[RunSample]) -> list[MetricRow]:
    """Lost acknowledged turns per run: any increase is a regression, no test needed."""
    lb = [s.lost_turns for s in base if s.lost_turns is not None]
    ln = [s.lost_turns for s in new if s.lost_turns is not None]
    if not lb or not ln:
        return [MetricRow("durability", "all", "dynamodb", "lost turns", "per run",
                          float(np.mean(lb)) if lb else None, float(np.mean(ln)) if ln else None, len(lb), len(ln),
                          verdict="inconclusive", test="rule", note="lost turns unknown on a side (no verdict.json)")]
    mb, mn = float(np.mean(lb)), float(np.mean(ln))
    row = MetricRow("durability", "all", "dynamodb", "lost turns", "per run", mb, mn, len(lb), len(ln),
                    diff=mn - mb, test="rule: any increase",
                    note=f"{sum(lb)} in {len(lb)} runs vs {sum(ln)} in {len(ln)} runs")
    if mn > mb:
        row.verdict = "regression"
    elif mn < mb:
        row.verdict = "improvement"
    return [row]


def _judge(rows: list[MetricRow], opt: Options, threshold: float) -> None:
    """Holm-adjust every tested p-value together, then apply significance and the effect threshold."""
    tested = [r for r in rows if r.p_value is not None and r.verdict != "inconclusive"]
    for r, adj in zip(tested, stats.holm([r.p_value or 0.0 for r in tested]), strict=True):
        r.p_adjusted = _finite(adj)
        significant = r.p_adjusted is not None and r.p_adjusted < opt.alpha
        big = r.effect is not None and r.effect >= threshold
        if significant and not big and threshold > opt.min_effect and r.effect is not None \
                and r.effect >= opt.min_effect:
            # Real within these runs, but single runs of identical code differ this much too.
            r.verdict = "inconclusive"
            r.note = (f"{r.note}; " if r.note else "") + (
                f"significant within these runs but under the single-run noise floor of {threshold:.0%}: "
                f"give each side >= {MIN_RUNS_FOR_RUN_LEVEL} repetitions to decide")
        elif not (significant and big):
            r.verdict = "~"
        elif r.family == "breaker-spec":
            r.verdict, r.note = "~", "changed significantly (no better direction: the spec fixes it)"
        else:
            r.verdict = "regression" if r.worse else "improvement"


def choose_unit(n_base: int, n_new: int, unit: Unit) -> tuple[str, str]:
    if unit != "auto":
        return unit, f"resampling {unit} (forced)"
    if min(n_base, n_new) >= MIN_RUNS_FOR_RUN_LEVEL:
        return "runs", (f"run-level: {n_base} vs {n_new} repetitions; the bootstrap resamples whole runs, so "
                        "run-to-run spread is part of every interval")
    return "blocks", (f"request-level: {n_base} vs {n_new} runs (fewer than {MIN_RUNS_FOR_RUN_LEVEL} a side); "
                      f"the bootstrap resamples 1 s time blocks of requests, because neighbouring requests are "
                      "correlated; run-to-run spread is not in the intervals")


def compare_samples(base: Sequence[RunSample], new: Sequence[RunSample], opt: Options | None = None, *,
                    base_label: str = "BASE", new_label: str = "NEW") -> Comparison:
    """Every metric of the two sides, judged; the overall verdict; and why."""
    opt = opt or Options()
    unit, note = choose_unit(len(base), len(new), opt.unit)
    rows: list[MetricRow] = []
    for phase in PHASE_ORDER:
        for series in SERIES:
            rows.extend(_latency_rows(base, new, phase, series, unit, opt))
        rows.extend(_share_rows(base, new, phase, unit))
    rows.extend(_breaker_rows(base, new, unit == "runs"))
    rows.extend(_alarm_rows(base, new))
    rows.extend(_durability_rows(base, new))
    threshold = opt.min_effect if unit == "runs" else max(opt.min_effect, opt.noise_floor)
    if threshold > opt.min_effect:
        note += (f"; so effects below the noise floor of {threshold:.0%} (not --min-effect {opt.min_effect:.0%}) "
                 "are not called: give each side >= 5 repetitions to resolve smaller ones")
    _judge(rows, opt, threshold)
    verdict, reasons = overall(rows)
    notes = [f"{s.run_id}: {n}" for s in [*base, *new] for n in s.notes]
    return Comparison(base_label, new_label, [s.run_id for s in base], [s.run_id for s in new], unit, note,
                      opt.alpha, opt.min_effect, rows, verdict, reasons, notes, threshold)


def overall(rows: list[MetricRow]) -> tuple[str, list[str]]:
    """regression if any metric regressed; else inconclusive if no user-facing latency could be decided."""
    reg = [r for r in rows if r.verdict == "regression"]
    if reg:
        return "regression", [f"{r.phase} {r.series} {r.stat}" for r in reg]
    user = [r for r in rows if r.family in ("latency", "shift") and r.series == "user"]
    if not any(r.verdict != "inconclusive" for r in user):
        return "inconclusive", ["no user-facing latency metric had enough samples on both sides"]
    floored = [r for r in rows if r.verdict == "inconclusive" and "noise floor" in r.note]
    if floored:
        return "inconclusive", [f"{r.phase} {r.series} {r.stat} changed within the runs, under the single-run "
                                "noise floor" for r in floored[:6]]
    imp = [r for r in rows if r.verdict == "improvement"]
    if imp:
        return "improvement", [f"{r.phase} {r.series} {r.stat}" for r in imp]
    return "no significant change", []
