"""The comparison's statistics against hand-computed cases and against scipy's own implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from harness.compare import stats


def test_samples_needed_is_the_cloudwatch_rule() -> None:
    assert [stats.samples_needed(q) for q in (0.5, 0.95, 0.99, 0.999)] == [20, 200, 1000, 10000]


@pytest.mark.parametrize("n", [1, 7, 100, 5000])
def test_quantiles_from_counts_are_numpy_inverted_cdf(n: int) -> None:
    rng = np.random.default_rng(n)
    v = np.round(rng.lognormal(2, 1, n), 2)
    grid, idx = stats.make_grid(v)
    counts = np.bincount(idx, minlength=len(grid)).astype(float)[None, :]
    qs = np.array([0.0001, 0.5, 0.95, 0.99, 0.999, 1.0])
    got = stats.quantiles_from_counts(grid, counts, qs)[0]
    assert np.allclose(got, np.quantile(v, qs, method="inverted_cdf"))


def test_log_grid_is_within_a_twentieth_of_a_percent() -> None:
    v = np.random.default_rng(1).lognormal(3, 1, 200_000)
    grid, idx = stats.make_grid(v)
    assert len(grid) < len(np.unique(v))
    assert np.max(np.abs(grid[idx] / v - 1)) <= 0.0005 + 1e-9


def _counts(base: np.ndarray, new: np.ndarray) -> tuple[stats.UnitCounts, stats.UnitCounts]:
    return stats.unit_counts((base, np.arange(len(base))), (new, np.arange(len(new))))


def test_constant_sides_give_the_exact_difference_and_a_degenerate_ci() -> None:
    b, n = _counts(np.full(100, 10.0), np.full(100, 30.0))
    (d,) = stats.bootstrap_quantile_diff(b, n, (0.5,), resamples=200)
    assert (d.base, d.new, d.diff, d.ci_low, d.ci_high, d.p_value) == (10.0, 30.0, 20.0, 20.0, 20.0, 0.0)


def test_bootstrap_median_ci_matches_the_order_statistic_ci() -> None:
    """The percentile-bootstrap CI of a median is close to the distribution-free binomial one.

    Hand-computed reference: for n = 1001 the 95 % order-statistic interval of the
    median runs from the l-th to the u-th smallest value, l = binom.ppf(0.025) and
    u = binom.ppf(0.975) of Binomial(1001, 0.5). Against a constant side the
    bootstrap CI of the difference is the CI of the median itself.
    """
    n = 1001
    v = np.sort(np.random.default_rng(3).uniform(0, 1000, n))
    b, new = _counts(np.zeros(10), v)
    (d,) = stats.bootstrap_quantile_diff(b, new, (0.5,), resamples=4000, seed=1)
    lo_i, hi_i = int(sps.binom.ppf(0.025, n, 0.5)), int(sps.binom.ppf(0.975, n, 0.5))
    spacing = np.median(np.diff(v))
    assert abs(d.ci_low - v[lo_i - 1]) < 4 * spacing
    assert abs(d.ci_high - v[hi_i - 1]) < 4 * spacing
    assert d.new == v[n // 2]


def test_blocks_widen_the_interval_when_neighbours_are_correlated() -> None:
    """A side whose blocks each sit at their own level: resampling blocks must see more spread than requests."""
    rng = np.random.default_rng(5)
    levels = np.repeat(rng.normal(20, 5, 30), 50) + rng.normal(0, 0.5, 1500)
    units = np.repeat(np.arange(30), 50)
    b, n = stats.unit_counts((levels, units), (levels + 0.0, units))
    by_block = stats.bootstrap_quantile_diff(b, n, (0.5,), resamples=1000)[0]
    by_req = stats.bootstrap_quantile_diff(b, n, (0.5,), resamples=1000, by_request=True)[0]
    assert (by_block.ci_high - by_block.ci_low) > 2 * (by_req.ci_high - by_req.ci_low)


def test_shift_ci_covers_the_true_shift() -> None:
    """95 % intervals of a known +20 ms shift must cover 20 in about 95 % of repeated samples."""
    covered = {0.5: 0, 0.95: 0}
    trials = 40
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        base = rng.lognormal(np.log(7), 0.3, 1000)
        new = rng.lognormal(np.log(7), 0.3, 1000) + 20
        b, n = _counts(base, new)
        for d in stats.bootstrap_quantile_diff(b, n, (0.5, 0.95), resamples=400, seed=seed):
            covered[d.q] += d.ci_low <= 20 <= d.ci_high
            assert d.p_value < 1e-6
    assert all(c >= 0.85 * trials for c in covered.values()), covered


def test_mann_whitney_is_scipys_and_hl_is_the_shift() -> None:
    rng = np.random.default_rng(2)
    base, new = rng.normal(10, 1, 300), rng.normal(10.5, 1, 300)
    mw = stats.mann_whitney(base, new)
    assert mw.p_value == pytest.approx(sps.mannwhitneyu(new, base).pvalue)
    assert mw.shift == pytest.approx(0.5, abs=0.2)
    # hand-computed: every pairwise difference of {1,2} - {0} is 1 or 2 -> median 1.5
    assert stats.hodges_lehmann(np.array([0.0]), np.array([1.0, 2.0])) == 1.5


def test_counts_u_test_equals_scipy_asymptotic_with_ties() -> None:
    rng = np.random.default_rng(4)
    base, new = rng.integers(0, 40, 2000).astype(float), rng.integers(1, 41, 1500).astype(float)
    grid, idx = stats.make_grid(np.concatenate([base, new]))
    cb = np.bincount(idx[:2000], minlength=len(grid)).astype(float)
    cn = np.bincount(idx[2000:], minlength=len(grid)).astype(float)
    p, prob = stats.mann_whitney_counts(cb, cn)
    ref = sps.mannwhitneyu(new, base, method="asymptotic")
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert prob == pytest.approx(ref.statistic / (2000 * 1500))


def test_counts_ks_equals_scipy_asymptotic() -> None:
    rng = np.random.default_rng(6)
    base, new = np.round(rng.normal(10, 2, 3000), 1), np.round(rng.normal(10.3, 2, 2500), 1)
    grid, idx = stats.make_grid(np.concatenate([base, new]))
    cb = np.bincount(idx[:3000], minlength=len(grid)).astype(float)
    cn = np.bincount(idx[3000:], minlength=len(grid)).astype(float)
    got = stats.ks_counts(grid, cb, cn)
    ref = sps.ks_2samp(new, base, method="asymp")
    assert got.statistic == pytest.approx(ref.statistic)
    assert got.p_value == pytest.approx(ref.pvalue)
    assert got.new_slower is True


def test_ks_sees_a_bimodal_split_the_median_hides() -> None:
    """A tenth of requests move from 10 ms to 60 ms: the median barely moves, KS must notice."""
    rng = np.random.default_rng(8)
    base = rng.normal(10, 1, 2000)
    new = np.where(rng.random(2000) < 0.1, rng.normal(60, 3, 2000), rng.normal(10, 1, 2000))
    shape = stats.ks_test(base, new)
    assert shape.p_value < 1e-6 and shape.new_slower
    assert abs(np.median(new) - np.median(base)) < 0.5


def test_two_proportions_hand_computed() -> None:
    # 30/100 vs 50/100: pooled 0.4, se = sqrt(0.4 * 0.6 * 2 / 100), z = 0.2 / se = 2.88675
    t = stats.two_proportions(30, 100, 50, 100)
    assert t.p_value == pytest.approx(2 * sps.norm.sf(0.2 / math.sqrt(0.4 * 0.6 * 0.02)), rel=1e-9)
    assert t.diff == pytest.approx(0.2)
    # a design effect of 2 halves the chi-square
    t2 = stats.two_proportions(30, 100, 50, 100, deff=2.0)
    assert t2.p_value == pytest.approx(sps.chi2.sf(2.88675**2 / 2, 1), rel=1e-4)
    # small counts go to Fisher's exact test
    f = stats.two_proportions(0, 20, 4, 20)
    assert f.test == "Fisher exact" and f.p_value == pytest.approx(sps.fisher_exact([[4, 16], [0, 20]]).pvalue)
    assert stats.two_proportions(0, 50, 0, 50).p_value == 1.0


def test_design_effect() -> None:
    rng = np.random.default_rng(9)
    indep = rng.random(20_000) < 0.2
    hits = indep.reshape(400, 50).sum(axis=1)
    assert stats.design_effect(hits, np.full(400, 50)) == pytest.approx(1.0, abs=0.25)
    # whole blocks degrade together: the 50 turns of a block count as one trial
    blocks = rng.random(400) < 0.2
    assert stats.design_effect(blocks * 50, np.full(400, 50)) == pytest.approx(50, rel=0.05)


def test_holm_hand_computed() -> None:
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = stats.holm([0.5, math.nan])
    assert out[0] == 0.5 and math.isnan(out[1])


def test_welch_is_scipys() -> None:
    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 6, 8, 10])
    assert stats.welch(a, b) == pytest.approx(sps.ttest_ind(b, a, equal_var=False).pvalue)
    assert stats.welch(np.ones(5), np.ones(5)) == 1.0
    assert math.isnan(stats.welch(np.ones(1), np.ones(5)))
