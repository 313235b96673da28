"""The statistics behind ``harness compare``: quantile-difference bootstrap, rank and shape tests, shares.

Why a counts-based bootstrap: resampling a million latencies a thousand times
is 10^9 draws. Each side is instead a matrix of counts (one row per resampling
unit, one column per value on a grid both sides share) and a replicate is a
weight vector over the units times that matrix; its inverted-CDF quantiles
come from cumulative counts. Above ``MAX_EXACT_BINS`` distinct values the grid
is log-spaced with 0.1 % bins (HdrHistogram's 3 significant figures), so a
quantile is off by at most half a bin.

Why units (a request, a time block of one run, or a whole run): requests in a
run are autocorrelated -- a breaker cycle or a GC pause touches many at once --
so resampling single requests understates the variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MAX_EXACT_BINS = 4096
LOG_BIN_RATIO = 1.001
DEFAULT_RESAMPLES = 2000
HL_SUBSAMPLE = 1500  # per side: 2.25M pairwise differences for the Hodges-Lehmann shift


def samples_needed(p: float) -> int:
    """Samples for a stable p-quantile: the CloudWatch rule of thumb, 10 / (1 - p)."""
    return math.ceil(10.0 / (1.0 - p) - 1e-9)


@dataclass(frozen=True)
class UnitCounts:
    """One side as counts: ``counts[u, k]`` samples of unit ``u`` with value ``grid[k]``."""

    grid: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def units(self) -> int:
        return int(self.counts.shape[0])


def make_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grid, index of each value on it): exact distinct values when few, else 0.1 % log bins."""
    vals = np.asarray(values, dtype=float)
    uniq, inv = np.unique(vals, return_inverse=True)
    if len(uniq) <= MAX_EXACT_BINS:
        return uniq, inv
    pos = np.maximum(vals, 1e-6)
    step = math.log(LOG_BIN_RATIO)
    raw = np.floor(np.log(pos) / step).astype(np.int64)
    bins, idx = np.unique(raw, return_inverse=True)
    # the geometric middle of each bin represents it: at most 0.05 % from any member
    return np.exp((bins + 0.5) * step), idx


def unit_counts(base: tuple[np.ndarray, np.ndarray],
                new: tuple[np.ndarray, np.ndarray]) -> tuple[UnitCounts, UnitCounts]:
    """Both sides on one grid. Each side is (values, unit id per value with ids 0..U-1)."""
    (bv, bu), (nv, nu) = base, new
    grid, idx = make_grid(np.concatenate([bv, nv]))
    k = len(grid)

    def side(index: np.ndarray, unit: np.ndarray) -> UnitCounts:
        u = int(unit.max()) + 1 if len(unit) else 0
        flat = np.bincount(unit.astype(np.int64) * k + index, minlength=u * k)
        return UnitCounts(grid, flat.reshape(u, k).astype(np.float64))

    return side(idx[: len(bv)], bu), side(idx[len(bv):], nu)


def quantiles_from_counts(grid: np.ndarray, counts: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Inverted-CDF quantiles of every row of ``counts`` (shape R x K) -> R x len(qs)."""
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1:]
    need = np.ceil(total * qs[None, :] - 1e-9)  # R x Q
    need = np.maximum(need, 1.0)
    out = np.empty((cum.shape[0], len(qs)))
    for j in range(len(qs)):
        pos = (cum >= need[:, j:j + 1]).argmax(axis=1)
        out[:, j] = grid[pos]
    out[total[:, 0] <= 0] = np.nan
    return out


def _replicates(side: UnitCounts, resamples: int, rng: np.random.Generator, by_request: bool) -> np.ndarray:
    """Bootstrap replicates of a side's pooled counts, shape resamples x K."""
    pooled = side.counts.sum(axis=0)
    n = pooled.sum()
    if n <= 0:
        return np.zeros((resamples, len(side.grid)))
    if by_request or side.units == 1:
        return rng.multinomial(int(n), pooled / n, size=resamples).astype(np.float64)
    weights = rng.multinomial(side.units, np.full(side.units, 1.0 / side.units), size=resamples)
    return weights.astype(np.float64) @ side.counts


@dataclass(frozen=True)
class QuantileDiff:
    """NEW minus BASE for one quantile, with a percentile-bootstrap CI and a two-sided p-value."""

    q: float
    base: float
    new: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float


def bootstrap_quantile_diff(base: UnitCounts, new: UnitCounts, qs: tuple[float, ...], *, alpha: float = 0.05,
                            resamples: int = DEFAULT_RESAMPLES, by_request: bool = False,
                            seed: int = 0) -> list[QuantileDiff]:
    """Bootstrap the difference of quantiles, resampling each side's units independently.

    The p-value is the normal approximation from the bootstrap standard error,
    ``2 * sf(|d| / se)``: a percentile-count p-value cannot go below
    ``1 / resamples``, too coarse once it is corrected for many metrics.
    """
    rng = np.random.default_rng(seed)
    q = np.asarray(qs, dtype=float)
    point_b = quantiles_from_counts(base.grid, base.counts.sum(axis=0)[None, :], q)[0]
    point_n = quantiles_from_counts(new.grid, new.counts.sum(axis=0)[None, :], q)[0]
    diffs = np.empty((0, len(q)))
    chunk = max(1, min(resamples, 2_000_000 // max(1, len(base.grid))))
    done = 0
    while done < resamples:
        m = min(chunk, resamples - done)
        rb = quantiles_from_counts(base.grid, _replicates(base, m, rng, by_request), q)
        rn = quantiles_from_counts(new.grid, _replicates(new, m, rng, by_request), q)
        diffs = np.vstack([diffs, rn - rb])
        done += m
    out = []
    for j, qq in enumerate(q):
        d = float(point_n[j] - point_b[j])
        col = diffs[:, j]
        col = col[np.isfinite(col)]
        if not len(col):
            out.append(QuantileDiff(float(qq), float(point_b[j]), float(point_n[j]), d, math.nan, math.nan, math.nan))
            continue
        lo, hi = np.quantile(col, [alpha / 2, 1 - alpha / 2])
        se = float(col.std(ddof=1)) if len(col) > 1 else 0.0
        p = (1.0 if d == 0 else 0.0) if se == 0 else float(2 * stats.norm.sf(abs(d) / se))
        out.append(QuantileDiff(float(qq), float(point_b[j]), float(point_n[j]), d, float(lo), float(hi), p))
    return out


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U for a shift: p-value, Hodges-Lehmann shift (NEW - BASE), P(NEW > BASE)."""

    p_value: float
    shift: float
    prob_greater: float


def mann_whitney(base: np.ndarray, new: np.ndarray, seed: int = 0) -> RankTest:
    """scipy's U test (asymptotic with tie correction for large samples) plus the HL shift.

    The Hodges-Lehmann shift -- the median of all pairwise differences -- is
    computed on at most ``HL_SUBSAMPLE`` values per side: on a million each the
    pairs alone would not fit in memory, and the median of 2.25M differences is
    already precise to well under the bins the quantiles use.
    """
    res = stats.mannwhitneyu(new, base, alternative="two-sided",
                             method="asymptotic" if len(base) * len(new) > 10_000 else "auto")
    return RankTest(float(res.pvalue), hodges_lehmann(base, new, seed), float(res.statistic) / (len(base) * len(new)))


def hodges_lehmann(base: np.ndarray, new: np.ndarray, seed: int = 0) -> float:
    """Median of all pairwise differences NEW - BASE (on a random subsample of each large side)."""
    rng = np.random.default_rng(seed)
    b = base if len(base) <= HL_SUBSAMPLE else rng.choice(base, HL_SUBSAMPLE, replace=False)
    n = new if len(new) <= HL_SUBSAMPLE else rng.choice(new, HL_SUBSAMPLE, replace=False)
    return float(np.median(np.subtract.outer(n, b)))


@dataclass(frozen=True)
class ShapeTest:
    """Two-sample KS: largest CDF gap, where it is, and whether NEW is slower there."""

    p_value: float
    statistic: float
    location: float
    new_slower: bool


def ks_test(base: np.ndarray, new: np.ndarray) -> ShapeTest:
    """scipy's two-sample KS; ``exact`` only where scipy would pick it (small samples)."""
    res = stats.ks_2samp(new, base, alternative="two-sided",
                         method="asymp" if len(base) * len(new) > 1_000_000 else "auto")
    # statistic_sign +1: NEW's CDF is above BASE's at the gap, i.e. NEW is faster there
    sign = int(getattr(res, "statistic_sign", 1))
    return ShapeTest(float(res.pvalue), float(res.statistic), float(getattr(res, "statistic_location", math.nan)),
                     sign < 0)


EXACT_LIMIT = 50_000  # per side: below it scipy runs on the raw values (exact methods when small)


def mann_whitney_counts(base: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(two-sided p, P(NEW > BASE) + P(tie)/2) of the U test from counts on a shared grid.

    Equal to scipy's asymptotic U test with tie correction when the grid holds the
    exact values (bins are ties); on 0.1 % bins, values within a bin count as
    tied. O(bins) instead of ranking two million values.
    """
    n1, n2 = float(new.sum()), float(base.sum())
    below = np.cumsum(base) - base
    u = float(np.sum(new * (below + 0.5 * base)))
    t = new + base
    nn = n1 + n2
    tie = float(np.sum(t**3 - t))
    var = n1 * n2 / 12.0 * ((nn + 1) - tie / (nn * (nn - 1)))
    if var <= 0:
        return 1.0, 0.5
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(var)  # scipy's continuity correction
    return float(min(1.0, 2 * stats.norm.sf(max(z, 0.0)))), u / (n1 * n2)


def ks_counts(grid: np.ndarray, base: np.ndarray, new: np.ndarray) -> ShapeTest:
    """Two-sample KS from counts on a shared grid, with scipy's asymptotic p (``kstwo``)."""
    n1, n2 = float(new.sum()), float(base.sum())
    cdf_new, cdf_base = np.cumsum(new) / n1, np.cumsum(base) / n2
    gap = cdf_new - cdf_base
    k = int(np.argmax(np.abs(gap)))
    d = float(abs(gap[k]))
    m, n = max(n1, n2), min(n1, n2)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return ShapeTest(p, d, float(grid[k]), bool(gap[k] < 0))


@dataclass(frozen=True)
class ProportionTest:
    """Two shares, their difference, the p-value and which test produced it."""

    base: float
    new: float
    diff: float
    p_value: float
    test: str


def design_effect(hits: np.ndarray, totals: np.ndarray) -> float:
    """Kish design effect of a share measured over clusters (time blocks or runs), at least 1.

    Turns that degrade together (a breaker open for three seconds degrades every
    turn in it) are not independent trials; the variance of the share across
    clusters, over the binomial variance, says by how much the effective sample
    is smaller. Used as the Rao-Scott first-order correction of the chi-square.
    """
    keep = totals > 0
    hits, totals = hits[keep].astype(float), totals[keep].astype(float)
    n = totals.sum()
    if len(totals) < 2 or n <= 0:
        return 1.0
    p = hits.sum() / n
    if p <= 0 or p >= 1:
        return 1.0
    # ratio-estimator variance of p over clusters vs the simple random sample variance
    m = len(totals)
    var_cluster = m / (m - 1) * float(np.sum((hits - p * totals) ** 2)) / n**2
    var_srs = p * (1 - p) / n
    return max(1.0, var_cluster / var_srs)


def two_proportions(base_hits: int, base_n: int, new_hits: int, new_n: int, deff: float = 1.0) -> ProportionTest:
    """Two-proportion test: Pearson chi-square (= pooled z-test) divided by ``deff``; Fisher when counts are small."""
    pb = base_hits / base_n if base_n else math.nan
    pn = new_hits / new_n if new_n else math.nan
    table = np.array([[new_hits, new_n - new_hits], [base_hits, base_n - base_hits]])
    if base_n == 0 or new_n == 0 or table.sum(axis=0).min() == 0:
        return ProportionTest(pb, pn, pn - pb, 1.0, "none (no variation)")
    expected = stats.contingency.expected_freq(table)
    if expected.min() < 5:
        p = float(stats.fisher_exact(table).pvalue)
        if deff > 1:
            # Fisher has no design-effect form: shrink the counts to the effective sample instead
            eff = np.rint(table / deff).astype(int)
            p = float(stats.fisher_exact(eff).pvalue) if eff.sum(axis=0).min() > 0 else 1.0
        return ProportionTest(pb, pn, pn - pb, p, "Fisher exact")
    chi2 = float(stats.chi2_contingency(table, correction=False)[0])
    p = float(stats.chi2.sf(chi2 / deff, df=1))
    return ProportionTest(pb, pn, pn - pb, p, "two-proportion z" + (f" (deff {deff:.2f})" if deff > 1 else ""))


def welch(base: np.ndarray, new: np.ndarray) -> float:
    """Welch's t-test p-value on run-level values (pyperf's test); 1.0 when both sides are constant."""
    if len(base) < 2 or len(new) < 2:
        return math.nan
    if np.ptp(base) == 0 and np.ptp(new) == 0:
        return 1.0 if base[0] == new[0] else 0.0
    return float(stats.ttest_ind(new, base, equal_var=False).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN): family-wise error control across metrics.

    Why: a comparison reports dozens of metrics; testing each at alpha would
    make "at least one false regression" far likelier than alpha in an A/A pair.
    """
    p = np.asarray(p_values, dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, np.nan)
    if not len(ok):
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adj
    return out.tolist()


def superiority(base_counts: np.ndarray, new_counts: np.ndarray) -> np.ndarray:
    """P(NEW > BASE) + P(tie) / 2 -- the U statistic over n1 * n2 -- for rows of counts on one grid (R x K)."""
    below = np.cumsum(base_counts, axis=-1) - base_counts
    u = np.sum(new_counts * (below + 0.5 * base_counts), axis=-1)
    return np.asarray(u / (new_counts.sum(axis=-1) * base_counts.sum(axis=-1)))


def clustered_u_test(base: UnitCounts, new: UnitCounts, *, resamples: int = 1000, seed: int = 0) -> float:
    """Two-sided p of the U test with the standard error of P(NEW > BASE) from a bootstrap over units.

    Why: the textbook U-test variance assumes independent requests; with
    requests correlated in time (or runs that differ from each other) it is
    far too small and an A/A pair "differs" at p = 1e-10. Resampling the same
    units as the quantile bootstrap gives a variance that includes that
    correlation; the statistic itself is unchanged.
    """
    rng = np.random.default_rng(seed + 1)
    pb, pn = base.counts.sum(axis=0)[None, :], new.counts.sum(axis=0)[None, :]
    a = float(superiority(pb, pn)[0])
    reps = []
    chunk = max(1, min(resamples, 2_000_000 // max(1, len(base.grid))))
    done = 0
    while done < resamples:
        m = min(chunk, resamples - done)
        reps.append(superiority(_replicates(base, m, rng, False), _replicates(new, m, rng, False)))
        done += m
    se = float(np.concatenate(reps).std(ddof=1))
    if se == 0:
        return 1.0 if a == 0.5 else 0.0
    return float(2 * stats.norm.sf(abs(a - 0.5) / se))


def ks_design_effect(base: UnitCounts, new: UnitCounts, location: float) -> float:
    """Design effect of the share of values at or below the KS gap's location, the larger of the two sides.

    The KS gap is a difference of two such shares; dividing the effective
    sample size by this factor is the Rao-Scott correction for correlated units.
    """
    k = int(np.searchsorted(base.grid, location, side="right"))
    return max(stats_deff(base, k), stats_deff(new, k))


def stats_deff(side: UnitCounts, k: int) -> float:
    return design_effect(side.counts[:, :k].sum(axis=1), side.counts.sum(axis=1))


def ks_clustered(base: UnitCounts, new: UnitCounts) -> ShapeTest:
    """KS from pooled counts, its p-value from the effective sample size after the design effect."""
    cb, cn = base.counts.sum(axis=0), new.counts.sum(axis=0)
    raw = ks_counts(base.grid, cb, cn)
    deff = ks_design_effect(base, new, raw.location)
    n1, n2 = float(cn.sum()), float(cb.sum())
    en = n1 * n2 / (n1 + n2) / deff
    p = float(np.clip(stats.kstwo.sf(raw.statistic, max(1.0, np.round(en))), 0, 1))
    return ShapeTest(p, raw.statistic, raw.location, raw.new_slower)
