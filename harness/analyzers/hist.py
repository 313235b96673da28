"""HdrHistogram helpers: bulk-load numpy arrays and read percentile spectra.

Why bulk: ``HdrHistogram.record_value`` is a Python call per sample; a million
records would cost seconds. Values are first collapsed with ``numpy.unique``
(latencies repeat a lot at microsecond resolution) and recorded once per
distinct value with its count, which is exact.
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


def hist_from_us(values_us: np.ndarray, expected_interval_us: int = 0) -> HdrHistogram:
    """Histogram of microsecond values; with ``expected_interval_us`` use hdrh's CO correction.

    The expected-interval correction (``record_corrected_value``) back-fills the
    samples a closed-loop generator would have sent while one request stalled.
    """
    h = new_hist()
    arr = np.asarray(values_us, dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return h
    ints = np.clip(np.rint(arr), LOWEST_US, HIGHEST_US).astype(np.int64)
    # Quantize to the histogram's own slot (its lowest equivalent value) so that
    # np.unique leaves a few thousand values, not one per sample. Exact: values in
    # one slot are indistinguishable to hdrh anyway.
    mask = np.int64(h.sub_bucket_mask)
    bit_len = np.frexp((ints | mask).astype(np.float64))[1].astype(np.int64)
    shift = np.maximum(bit_len - (h.sub_bucket_half_count_magnitude + 1), h.unit_magnitude)
    ints = (ints >> shift) << shift
    vals, counts = np.unique(ints, return_counts=True)
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
