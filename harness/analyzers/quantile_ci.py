"""Percentile checks that know how much their sample can say.

Why: a p99 from 60 samples is the 60th-largest value and says almost nothing
about the true p99. A check on it passes or fails by chance. Each percentile
check here gets distribution-free bounds from the binomial distribution of
order statistics. If B ~ Binomial(n, q) counts the samples below the true
q-quantile, then the k-th smallest sample is at or above that quantile with
probability P(B <= k-1). The smallest such k at the chosen confidence gives a
one-sided upper bound, and the mirror gives a lower bound.

A check passes only when the upper bound meets the target, and fails only when
the lower bound misses it. Anything between is inconclusive, and
:func:`samples_to_decide` says how many samples would settle it if the observed
share above the target held. A 95 % upper bound on a p99 needs at least 299
samples (1 - 0.99**299 >= 0.95), whatever the latencies are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binom

METHOD = "binomial order-statistic bounds (distribution-free), one-sided at the stated confidence"
Decision = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class QuantileBound:
    """An empirical quantile with its one-sided lower and upper confidence bounds (None = unbounded)."""

    q: float
    n: int
    confidence: float
    estimate: float | None
    lower: float | None
    upper: float | None

    def describe(self, unit: str = "ms") -> str:
        lo = "-inf" if self.lower is None else f"{self.lower:g}"
        hi = "+inf" if self.upper is None else f"{self.upper:g}"
        return f"n={self.n}, {self.confidence:.0%} bounds [{lo}, {hi}] {unit}"


def upper_rank(n: int, q: float, confidence: float) -> int | None:
    """1-based rank of the order statistic that bounds the q-quantile from above, or None if n is too small."""
    if n <= 0:
        return None
    k = int(binom.ppf(confidence, n, q)) + 1
    # ppf can land one below the exact answer through floating point; make sure the bound holds
    while k <= n and binom.cdf(k - 1, n, q) < confidence:
        k += 1
    return k if k <= n else None


def lower_rank(n: int, q: float, confidence: float) -> int | None:
    """1-based rank of the order statistic that bounds the q-quantile from below, or None if n is too small."""
    if n <= 0:
        return None
    m = int(binom.ppf(1.0 - confidence, n, q))
    while m >= 0 and binom.cdf(m, n, q) > 1.0 - confidence:
        m -= 1
    return m + 1 if m >= 0 else None


def bound(values: np.ndarray, q: float, confidence: float = 0.95) -> QuantileBound:
    """Empirical ``q`` quantile of the finite ``values`` and its confidence bounds."""
    arr = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = len(arr)
    if not n:
        return QuantileBound(q, 0, confidence, None, None, None)
    est = float(arr[min(n - 1, max(0, math.ceil(q * n) - 1))])
    hi = upper_rank(n, q, confidence)
    lo = lower_rank(n, q, confidence)
    return QuantileBound(q, n, confidence, est, None if lo is None else float(arr[lo - 1]),
                         None if hi is None else float(arr[hi - 1]))


def decide(b: QuantileBound, target: float, strict: bool = False) -> Decision:
    """pass if the upper bound meets ``target`` (``<``, with ``strict``), fail if the lower bound misses it."""
    def ok(v: float) -> bool:
        return v < target if strict else v <= target

    if b.upper is not None and ok(b.upper):
        return "pass"
    if b.lower is not None and not ok(b.lower):
        return "fail"
    return "inconclusive"


def samples_to_decide(n: int, above_share: float, q: float, confidence: float,
                      limit: int = 100_000_000) -> int | None:
    """Smallest sample count that would decide the check if ``above_share`` of samples stayed above target.

    Steps up geometrically to the first count that decides, then bisects back
    to the smallest one (so a p99 with no exceedances asks for 299, not "about
    366").  None when no count up to ``limit`` decides it: the observed
    quantile sits on the target itself.
    """

    def decides(size: int) -> bool:
        below = size * (1.0 - above_share)
        hi = upper_rank(size, q, confidence)
        if hi is not None and hi <= math.floor(below):
            return True
        lo = lower_rank(size, q, confidence)
        return lo is not None and lo > math.ceil(below)

    size = max(n, 1)
    if decides(size):
        return size
    prev = size
    while size <= limit:
        size = max(size + 1, int(size * 1.25))
        if decides(size):
            lo, hi = prev, size  # decides(lo) is False, decides(hi) is True
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if decides(mid) else (mid, hi)
            return hi
        prev = size
    return None


def judge_quantile(values: np.ndarray, q: float, target: float, confidence: float,
                   strict: bool = False) -> tuple[Decision, QuantileBound, str]:
    """(decision, bounds, reason) for "the q-quantile of ``values`` meets ``target``"."""
    b = bound(values, q, confidence)
    d = decide(b, target, strict)
    if d != "inconclusive":
        return d, b, ""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    above = float(np.mean(arr >= target if strict else arr > target)) if len(arr) else 0.0
    need = samples_to_decide(b.n, above, q, confidence)
    floor = upper_rank_min(q, confidence)
    if need is None:
        why = (f"{b.describe()} straddle the target and the observed p{q * 100:g} sits on it; "
               "no feasible sample count decides it")
    else:
        why = f"{b.describe()} straddle the target; about {need} samples would decide it"
        if b.n < floor:
            why += f" (at least {floor} are needed for any {confidence:.0%} upper bound on p{q * 100:g})"
    return d, b, why


def upper_rank_min(q: float, confidence: float) -> int:
    """Fewest samples for which any upper bound on the q-quantile exists: 1 - q**n >= confidence."""
    return math.ceil(math.log(1.0 - confidence) / math.log(q))
