"""The report's plots, drawn with matplotlib's Agg backend into base64 PNGs.

Every plot reads only the verdict (analyzer ``data``), so reports can be rebuilt
from verdict.json without the raw 1M-line records. A plot whose data is absent
is simply omitted.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.analyzers.base import Verdict
from harness.analyzers.sections import BreakerSection, LatencySection, PartitionsSection

STATE_Y = {"closed": 0, "half_open": 1, "open": 2}
MODE_COLORS = {"full": "#2e7d32", "cache_only": "#f9a825", "stateless": "#ef6c00", "fallback": "#c62828"}


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shade(ax: Any, verdict: Verdict) -> None:
    fr = verdict.info.fault_window_rel
    if fr:
        ax.axvspan(fr[0], fr[1], color="#d32f2f", alpha=0.12, label="fault window")


def _nan(xs: tuple[float | None, ...]) -> list[float]:
    return [v if v is not None else float("nan") for v in xs]


def latency_over_time(verdict: Verdict) -> str | None:
    lat = verdict.section(LatencySection)
    ts = lat.timeseries if lat else None
    if lat is None or ts is None:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(ts.t_rel, _nan(ts.p50_ms), label="p50", lw=1.2)
    ax.plot(ts.t_rel, _nan(ts.p99_ms), label="p99", lw=1.2)
    _shade(ax, verdict)
    ax.set_xlabel("seconds since run start")
    ax.set_ylabel(f"chat latency, ms ({lat.checks_use})")
    ax.set_yscale("log")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("User-facing latency over time")
    return _png(fig)


def breaker_timeline(verdict: Verdict) -> str | None:
    br = verdict.section(BreakerSection)
    if br is None:
        return None
    t_end = verdict.info.t_end - verdict.info.t0
    xs, ys = [0.0], [0]
    for t in br.transitions:
        xs.append(t.t_rel)
        ys.append(STATE_Y.get(t.to_state, 0))
    xs.append(max(t_end, xs[-1]))
    ys.append(ys[-1])
    fig, ax = plt.subplots(figsize=(9, 2.2))
    ax.step(xs, ys, where="post", color="#1565c0")
    for p in br.probes:
        ax.plot(p.t_rel, 1, marker="o", color="#2e7d32" if p.outcome == "success" else "#c62828", ms=5)
    _shade(ax, verdict)
    ax.set_yticks(list(STATE_Y.values()), list(STATE_Y.keys()))
    ax.set_ylim(-0.4, 2.4)
    ax.set_xlabel("seconds since run start")
    ax.set_title("DynamoDB breaker state (dots: half-open probes)")
    return _png(fig)


def memory_modes(verdict: Verdict) -> str | None:
    lat = verdict.section(LatencySection)
    ts = lat.timeseries if lat else None
    if ts is None or not ts.modes:
        return None
    modes = sorted(ts.modes, key=lambda m: list(MODE_COLORS).index(m) if m in MODE_COLORS else 99)
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.stackplot(ts.t_rel, [ts.modes[m] for m in modes], labels=modes,
                 colors=[MODE_COLORS.get(m, "#9e9e9e") for m in modes], alpha=0.85)
    _shade(ax, verdict)
    ax.set_xlabel("seconds since run start")
    ax.set_ylabel(f"turns per {ts.bin_s:.1f} s")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Memory modes over time")
    return _png(fig)


def percentile_spectrum(verdict: Verdict) -> str | None:
    lat = verdict.section(LatencySection)
    if lat is None or not lat.spectra:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for ph, pts in lat.spectra.items():
        if not pts:
            continue
        ax.plot([1.0 / (1.0 - p / 100.0) for p, _ in pts], [v for _, v in pts], label=ph)
    ax.set_xscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000]
    ax.set_xticks(ticks, ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
    ax.set_xlabel("percentile (HdrHistogram, x = 1/(1-p))")
    ax.set_ylabel("latency, ms")
    ax.legend(fontsize=8)
    ax.set_title("Latency percentile spectrum per phase")
    return _png(fig)


def partition_load(verdict: Verdict) -> str | None:
    pa = verdict.section(PartitionsSection)
    if pa is None or not pa.per_partition_requests:
        return None
    reqs = pa.per_partition_requests
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.bar(range(len(reqs)), reqs, color="#c62828" if pa.hot else "#1565c0")
    mean = sum(reqs) / max(len(reqs), 1)
    ax.axhline(mean, color="k", lw=0.8, ls="--", label="mean")
    ax.set_xlabel("simulated partition (MD5 of partition key mod P)")
    ax.set_ylabel("DynamoDB requests")
    ax.legend(fontsize=8)
    ax.set_title("Partition load" + (" — HOT" if pa.hot else ""))
    return _png(fig)


ALL_PLOTS = [
    ("Latency over time", latency_over_time),
    ("Breaker state", breaker_timeline),
    ("Memory modes", memory_modes),
    ("Latency percentile spectrum", percentile_spectrum),
    ("Partition load", partition_load),
]


def render_all(verdict: Verdict) -> list[tuple[str, str]]:
    """[(title, base64 PNG)] for every plot whose data is present."""
    out = []
    for title, fn in ALL_PLOTS:
        png = fn(verdict)
        if png:
            out.append((title, png))
    return out
