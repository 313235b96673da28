"""Comparison output: a benchstat-like Markdown table, JSON, and an HTML page with plots.

Why the Markdown leads with what changed: the table goes into a pull-request
comment and the step summary, where a reader wants the regressions first; the
full table of every metric follows in a collapsed block. "~" means no
significant change, as in benchstat.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence

import numpy as np

from harness.compare.engine import Comparison, MetricRow
from harness.compare.runs import PHASE_ORDER, RunSample

ICON = {"regression": "regression", "improvement": "improvement", "~": "~", "inconclusive": "inconclusive"}
HEADER = "| phase | series | metric | base | new | delta | 95% CI | p (Holm) | verdict |"
RULE = "|---|---|---|---:|---:|---:|---:|---:|---|"


def _num(x: float | None, unit: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if unit == "%":
        return f"{100 * x:.2f} %"
    if unit == "ms":
        return f"{x:.3g} ms" if abs(x) < 100 else f"{x:,.0f} ms"
    if unit == "s":
        return f"{x:.2f} s"
    return f"{x:.3g}"


def _delta(r: MetricRow) -> str:
    if r.diff is None:
        return "-"
    unit = "pp" if r.unit == "%" else r.unit
    d = f"{100 * r.diff:+.2f} pp" if unit == "pp" else f"{r.diff:+.3g} {unit}".rstrip()
    if r.rel is not None and math.isfinite(r.rel) and unit != "pp":
        d += f" ({100 * r.rel:+.1f} %)"
    return d


def _ci(r: MetricRow) -> str:
    if r.ci_low is None or r.ci_high is None:
        return "-"
    return f"[{r.ci_low:+.3g}, {r.ci_high:+.3g}]"


def _p(r: MetricRow) -> str:
    if r.p_value is None:
        return "-"
    adj = f" ({r.p_adjusted:.2g})" if r.p_adjusted is not None else ""
    return f"{r.p_value:.2g}{adj}"


def _line(r: MetricRow) -> str:
    verdict = ICON[r.verdict] + (f": {r.note}" if r.verdict in ("inconclusive", "regression") and r.note else "")
    return (f"| {r.phase} | {r.series} | {r.stat} | {_num(r.base, r.unit)} | {_num(r.new, r.unit)} | {_delta(r)} "
            f"| {_ci(r)} | {_p(r)} | {verdict} |")


def markdown(c: Comparison) -> str:
    """The PR comment: verdict, method, what changed, then every metric collapsed."""
    counts = {v: sum(r.verdict == v for r in c.rows) for v in ICON}
    head = [f"### harness compare: **{c.verdict}**", "",
            f"BASE `{c.base}` ({len(c.base_runs)} run{'s' * (len(c.base_runs) != 1)}) vs NEW `{c.new}` "
            f"({len(c.new_runs)} run{'s' * (len(c.new_runs) != 1)}); alpha {c.alpha:g}, min effect "
            f"{c.min_effect:.0%}, effect required {c.threshold:.0%}.", "",
            f"Method: {c.unit_note}.", "",
            f"{counts['regression']} regression(s), {counts['improvement']} improvement(s), {counts['~']} without "
            f"significant change (~), {counts['inconclusive']} inconclusive.", ""]
    changed = [r for r in c.rows if r.verdict in ("regression", "improvement")]
    if changed:
        head += [HEADER, RULE, *(_line(r) for r in changed), ""]
    key = [r for r in c.rows if r.series == "user" and r.family == "latency" and r.verdict not in ("regression",
                                                                                                 "improvement")]
    if key:
        head += ["User-facing latency:", "", HEADER, RULE, *(_line(r) for r in key), ""]
    head += ["<details><summary>Every metric</summary>", "", HEADER, RULE, *(_line(r) for r in c.rows), "",
             "</details>", ""]
    if c.notes:
        head += ["Notes:", "", *(f"- {n}" for n in c.notes), ""]
    return "\n".join(head)


def to_json(c: Comparison) -> str:
    def clean(x: object) -> object:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(c.to_dict()), indent=2)


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _spectra(base: Sequence[RunSample], new: Sequence[RunSample]) -> str:
    """Percentile spectra of user-facing latency per phase, both sides overlaid, on a 1/(1-p) axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PHASE_ORDER), figsize=(4.2 * len(PHASE_ORDER), 3.2), sharey=True)
    ps = 1 - np.logspace(0, -3, 60)
    for ax, phase in zip(np.atleast_1d(axes), PHASE_ORDER, strict=True):
        for label, side, color in (("BASE", base, "tab:blue"), ("NEW", new, "tab:red")):
            v = np.concatenate([s.latency.loc[(s.latency["phase"] == phase) & (s.latency["series"] == "user"),
                                              "latency_ms"].to_numpy() for s in side] or [np.array([])])
            if len(v):
                ax.plot(1 / (1 - ps), np.quantile(v, ps), label=f"{label} (n={len(v)})", color=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(phase)
        ax.set_xlabel("percentile (1/(1-p): 10 = p90, 100 = p99)")
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("user-facing latency (ms)")
    out = _png(fig)
    plt.close(fig)
    return out


def _over_time(base: Sequence[RunSample], new: Sequence[RunSample]) -> str:
    """p50 and p99 per 1 s block of the first run of each side, fault window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3.4))
    for label, side, color in (("BASE", base, "tab:blue"), ("NEW", new, "tab:red")):
        if not side:
            continue
        s = side[0]
        u = s.latency[s.latency["series"] == "user"]
        if not len(u):
            continue
        g = u.groupby("block")["latency_ms"]
        ax.plot(g.median().index, g.median().to_numpy(), color=color, lw=1, label=f"{label} p50 ({s.run_id})")
        ax.plot(g.quantile(0.99).index, g.quantile(0.99).to_numpy(), color=color, lw=1, ls="--",
                label=f"{label} p99")
        if s.fault_window:
            ax.axvspan(*s.fault_window, color=color, alpha=0.08)
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the run's start (shaded: fault window)")
    ax.set_ylabel("user-facing latency (ms)")
    ax.legend(fontsize=7, ncol=2)
    out = _png(fig)
    plt.close(fig)
    return out


def html_page(c: Comparison, base: Sequence[RunSample], new: Sequence[RunSample]) -> str:
    """A self-contained page: verdict, both plots, and the full table."""
    rows = "".join(
        "<tr class='{}'>{}</tr>".format(
            r.verdict.replace("~", "same"),
            "".join(f"<td>{html.escape(x)}</td>" for x in _line(r).strip("|").split(" | ")))
        for r in c.rows)
    head = "".join(f"<th>{html.escape(h.strip())}</th>" for h in HEADER.strip("|").split("|"))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>harness compare: {html.escape(c.verdict)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:2px 6px;font-size:12px}}tr.regression{{background:#fdd}}
tr.improvement{{background:#dfd}}tr.inconclusive{{color:#888}}img{{max-width:100%}}</style></head><body>
<h1>harness compare: {html.escape(c.verdict)}</h1>
<p>BASE <code>{html.escape(c.base)}</code> ({len(c.base_runs)} runs) vs NEW <code>{html.escape(c.new)}</code>
({len(c.new_runs)} runs). {html.escape(c.unit_note)}.</p>
<h2>Percentile spectra, user-facing latency</h2>
<img alt="percentile spectra" src="data:image/png;base64,{_spectra(base, new)}">
<h2>Latency over time</h2>
<img alt="latency over time" src="data:image/png;base64,{_over_time(base, new)}">
<h2>Every metric</h2><table><tr>{head}</tr>{rows}</table></body></html>"""
