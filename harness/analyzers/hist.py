"""HdrHistogram helpers: bulk-load numpy arrays and read percentile spectra.

Why bulk: ``HdrHistogram.record_value`` is a Python call per sample; a million
records would cost seconds. Values are first counted per histogram slot with
numpy (``np.bincount`` over hdrh's own slot index) and each occupied slot -- a few
thousand at most -- is recorded once with its count, which is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIG_FIGS = 3


def new_hist() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIG_FIGS)


def _slot_counts(h: HdrHistogram, ints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest equivalent value, count) of every occupied slot of ``h`` for integer values ``ints``."""
    half_mag = int(h.sub_bucket_half_count_magnitude)
    unit = int(h.unit_magnitude)
    # bit length of (v | sub_bucket_mask); frexp's exponent is exact for ints < 2**53
    bit_len = np.frexp((ints | np.int64(h.sub_bucket_mask)).astype(np.float64))[1].astype(np.int64)
    bucket = bit_len - unit - (half_mag + 1)
    sub = ints >> (bucket + unit)
    index = ((bucket + 1) << half_mag) + sub - int(h.sub_bucket_half_count)
    counts = np.bincount(index, minlength=int(h.counts_len))
    occupied = np.flatnonzero(counts)
    # inverse of the index arithmetic (hdrh's get_value_from_index)
    b = (occupied >> half_mag) - 1
    sb = (occupied & (int(h.sub_bucket_half_count) - 1)) + int(h.sub_bucket_half_count)
    low = b < 0
    sb = np.where(low, sb - int(h.sub_bucket_half_count), sb)
    b = np.where(low, 0, b)
    return sb << (b + unit), counts[occupied]


def hist_from_us(values_us: np.ndarray, expected_interval_us: int = 0) -> HdrHistogram:
    """Histogram of microsecond values; with ``expected_interval_us`` use hdrh's CO correction.

    The expected-interval correction (``record_corrected_value``) back-fills the
    samples a closed-loop generator would have sent while one request stalled.
    Without it the result equals recording every value one by one; with it the
    back-fill starts from each slot's lowest equivalent value, which moves the
    back-filled samples by less than one slot width (0.1 % at 3 significant figures).
    """
    h = new_hist()
    arr = np.asarray(values_us, dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return h
    ints = np.clip(np.rint(arr), LOWEST_US, HIGHEST_US).astype(np.int64)
    # Count per histogram slot with numpy, using hdrh's own index arithmetic
    # (_get_bucket_index / _counts_index), then record each occupied slot once at
    # its lowest equivalent value with its count. Exact: values in one slot are
    # indistinguishable to hdrh anyway, and a bincount avoids sorting 1M values.
    vals, counts = _slot_counts(h, ints)
    if expected_interval_us > 0:
        for v, c in zip(vals.tolist(), counts.tolist(), strict=True):
            h.record_corrected_value(v, expected_interval_us, c)
    else:
        for v, c in zip(vals.tolist(), counts.tolist(), strict=True):
            h.record_value(v, c)
    return h


def summarize(h: HdrHistogram, percentiles: tuple[float, ...] = (50.0, 95.0, 99.0, 99.9),
              mean_us: float | None = None) -> dict[str, Any]:
    """Count, min/mean/max and percentiles, all in milliseconds.

    ``mean_us`` (exact, from numpy) avoids hdrh's ``get_mean_value``, which walks
    every bucket in Python and dominated the run time.
    """
    n = int(h.get_total_count())
    out: dict[str, Any] = {"count": n}
    if n == 0:
        return out
    out["min_ms"] = h.get_min_value() / 1000.0
    if mean_us is not None:
        out["mean_ms"] = round(mean_us / 1000.0, 3)
    out["max_ms"] = h.get_max_value() / 1000.0
    values = h.get_percentile_to_value_dict(list(percentiles))
    for p in percentiles:
        key = f"p{p:g}".replace(".", "_")
        out[key] = values[p] / 1000.0
    return out


def spectrum(h: HdrHistogram, max_points: int = 60) -> list[list[float]]:
    """[percentile, value_ms] pairs on a log scale of 1/(1-p), for the percentile-spectrum plot."""
    if h.get_total_count() == 0:
        return []
    nines = np.linspace(0.0, 5.0, max_points)  # 0 .. 99.999 %
    ps = [100.0 * (1.0 - 10.0 ** (-x)) for x in nines]
    values = h.get_percentile_to_value_dict(ps)
    return [[round(p, 5), values[p] / 1000.0] for p in ps]
