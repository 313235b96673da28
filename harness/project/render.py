"""A projection as Markdown, JSON and an HTML ``scale`` section with plots.

Why an HTML *fragment*: the run's report.html embeds it as one more section
(the report builder calls ``render_scale_section``), and ``scale.html`` wraps
the same fragment in a page of its own, so both show the same figures. Plots
are matplotlib PNGs inlined as base64, so the page stays self-contained.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.project.projection import Projection

SOURCES = [
    ("Partitions and data distribution", "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                                         "HowItWorks.Partitions.html"),
    ("Read/write capacity units and item sizes", "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                                                 "read-write-operations.html"),
    ("On-demand capacity mode: initial throughput, previous peak, quotas",
     "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"),
    ("Burst and adaptive capacity", "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                                    "burst-adaptive-capacity.html"),
    ("Time to Live: deletion typically within 48 hours of expiry",
     "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html"),
]
NOT_MODELLED = ("DynamoDB's partition-key hash (unpublished: a uniform hash stands in), the timing of real "
                "splits, the exact burst and adaptive-capacity accounting, SDK retries after a throttle, "
                "and any traffic pattern the run did not show.")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _hours(p: Projection) -> list[float]:
    return [m / 60.0 for m in p.series["minute"]]


def plot_heat(p: Projection) -> str:
    util = p.heat["utilisation"]
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.bar(range(len(util)), util, color="#1565c0", label="partition (all its keys)")
    hk = p.heat.get("hot_key_utilisation") or 0.0
    if hk:
        ax.bar([len(util)], [hk], color="#c62828" if hk > 1 else "#ef6c00", label="hottest key, isolated")
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label="3,000 RCU / 1,000 WCU")
    ax.set_xlabel("partition at the busiest second")
    ax.set_ylabel("share of partition limit")
    ax.legend(fontsize=8)
    ax.set_title("Per-partition heat (RCU/3000 + WCU/1000)")
    return _png(fig)


def plot_partitions(p: Projection) -> str:
    x = _hours(p)
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.plot(x, p.series["partitions"], label="partitions (never merge)", lw=1.6)
    ax.plot(x, p.series["partitions_size"], label="for size", lw=1, ls="--")
    ax.plot(x, p.series["partitions_throughput"], label="for throughput", lw=1, ls=":")
    ax.set_xlabel("hours")
    ax.set_ylabel("partitions")
    ax.legend(fontsize=8)
    ax.set_title("Partitions over the simulated days")
    return _png(fig)


def plot_throttled(p: Projection) -> str:
    x = _hours(p)
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.plot(x, p.series["turns_per_s"], color="#1565c0", lw=1, label="turns/s")
    ax2 = ax.twinx()
    ax2.plot(x, p.series["throttled_requests"], color="#c62828", lw=1.2, label="throttled requests / min")
    ax.set_xlabel("hours")
    ax.set_ylabel("turns/s")
    ax2.set_ylabel("throttled per minute")
    ax.set_title("Load and throttled DynamoDB requests over time")
    fig.legend(fontsize=8, loc="upper left")
    return _png(fig)


def plot_cost(p: Projection) -> str:
    per_day = p.cost["per_day"]
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.barh(list(per_day), [30 * v for v in per_day.values()], color=["#1565c0", "#c62828", "#2e7d32"])
    ax.set_xlabel(f"{p.cost['currency']} per 30 days (prices of {p.cost['as_of']}, {p.cost['region']})")
    ax.set_title(f"DynamoDB cost, {p.cost['mode']}: {p.cost['per_30_days']:,.2f} per 30 days")
    return _png(fig)


PLOTS = [("Per-partition heat", plot_heat), ("Partitions over the day", plot_partitions),
         ("Throttled requests over time", plot_throttled), ("Cost", plot_cost)]


def _e(x: Any) -> str:
    return escape(str(x))


def _param_rows(p: Projection) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, v in p.model.items():
        if isinstance(v, dict) and "samples" in v and name != "skew":
            val = v.get("value", v.get("mean"))
            shown = f"{val}" if "value" in v else f"mean {v.get('mean')}, p50 {v.get('p50')}, p99 {v.get('p99')}"
            rows.append((name, shown, f"{v['samples']} ({v.get('source', '')})"))
        elif name == "skew":
            shown = "uniform" if v["kind"] == "uniform" else f"Zipf s = {v['s']} over {v['population']} keys"
            rows.append(("key skew", shown, f"{v['samples']} zipf-scenario turns"))
        elif name == "degradation":
            for k, d in v.items():
                rows.append((k, "not measured" if d is None else str(d["value"]),
                             "" if d is None else f"{d['samples']} ({d['source']})"))
        else:
            rows.append((name, str(v), ""))
    return rows


def _kv_table(title: str, d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in d.items() if not isinstance(v, dict))
    return f"<h3>{_e(title)}</h3><table>{rows}</table>"


def render_scale_section(projection: Projection) -> str:
    """The report's ``scale`` section as an HTML fragment (a ``<section>``), plots inlined."""
    p = projection
    s = p.summary
    verdict = "PASS" if p.passed else "FAIL"
    out = [f"<section id='scale'><h2>Scale projection: {s['sessions_per_day']:,} sessions/day "
           f"<span class='badge {'ok' if p.passed else 'bad'}'>{verdict}</span></h2>",
           f"<p>From run <code>{_e(p.run_id)}</code>, peak-to-mean {p.params['peak_to_mean']}, "
           f"{p.params['days']} day(s), {_e(p.params['mode'])}, seed {p.params['seed']}. "
           f"{s['throttled_requests']:,} of {s['dynamodb_requests']:,} DynamoDB requests throttled; "
           f"{p.partitions['final']} partitions; Redis peak {p.redis['peak_gb']} GB; "
           f"{p.cost['per_30_days']:,.2f} {p.cost['currency']} per 30 days.</p>"]
    if p.gate:
        out.append("<table><tr><th>status</th><th>check</th><th>measured</th><th>target</th><th>detail</th></tr>")
        for g in p.gate:
            cls = "pass" if g["passed"] else "fail"
            out.append(f"<tr class='{cls}'><td class='st'>{cls.upper()}</td><td>{_e(g['name'])}</td>"
                       f"<td>{_e(g['measured'])}</td><td>{_e(g['target'])}</td><td>{_e(g['detail'])}</td></tr>")
        out.append("</table>")
    out.append("<h3>Fitted parameters</h3><table><tr><th>parameter</th><th>value</th><th>samples</th></tr>")
    out += [f"<tr><td>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td></tr>" for a, b, c in _param_rows(p)]
    out.append("</table>")
    for title, d in (("Partitions", p.partitions), ("Throttling", p.throttling), ("Hottest key", p.hot_key),
                     ("Redis", p.redis), ("Alarms: 60 s DynamoDB outage at peak", p.alarms)):
        out.append(_kv_table(title, d))
    for k in ("stateless", "dynamodb_latency"):
        out.append(_kv_table(f"Alarm: {k}", p.alarms[k]))
    for title, fn in PLOTS:
        out.append(f"<h3>{_e(title)}</h3><img alt='{_e(title)}' src='data:image/png;base64,{fn(p)}'>")
    out.append("<h3>Sources</h3><ul>" + "".join(f"<li><a href='{_e(u)}'>{_e(t)}</a> (AWS DynamoDB developer "
                                                 "guide)</li>" for t, u in SOURCES) + "</ul>")
    out.append(f"<p><b>Not modelled</b> (AWS does not publish it): {_e(NOT_MODELLED)}</p>")
    if p.notes:
        out.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in p.notes) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


PAGE_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left} th{background:#f5f5f5}
tr.fail td{background:#fdecea} .badge{padding:4px 10px;border-radius:4px;color:#fff}
.ok{background:#2e7d32}.bad{background:#c62828} img{max-width:100%;display:block}"""


def html_page(p: Projection) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Scale projection "
            f"{_e(p.run_id)}</title><style>{PAGE_CSS}</style></head><body>{render_scale_section(p)}</body></html>")


def markdown(p: Projection) -> str:
    s, pa, hk = p.summary, p.partitions, p.hot_key
    lines = [f"# Scale projection: {s['sessions_per_day']:,} sessions/day ({'PASS' if p.passed else 'FAIL'})", "",
             f"Run `{p.run_id}`, peak-to-mean {p.params['peak_to_mean']}, {p.params['days']} day(s), "
             f"{p.params['mode']}, seed {p.params['seed']}.", "",
             "| what | projected |", "|---|---|",
             f"| turns/day | {s['turns_per_day']:,} |", f"| peak turns/s | {s['peak_turns_per_s']:,} |",
             f"| peak RCU/s, WCU/s | {s['peak_rcu_per_s']:,}, {s['peak_wcu_per_s']:,} |",
             f"| partitions (size, throughput, final) | {pa['by_size_max']}, {pa['by_throughput_max']}, "
             f"{pa['final']} |", f"| table size (max) | {pa['table_gb_max']} GB |",
             f"| throttled DynamoDB requests | {s['throttled_requests']:,} of {s['dynamodb_requests']:,} "
             f"({s['throttled_share']:.4%}) |",
             f"| Redis peak | {p.redis['peak_gb']} GB, {p.redis['peak_live_sessions']:,} sessions |",
             f"| cost per 30 days | {p.cost['per_30_days']:,.2f} {p.cost['currency']} (prices {p.cost['as_of']}) |",
             f"| stateless alarm, 60 s outage at peak | {p.alarms['stateless'].get('fires')} |",
             f"| DynamoDB latency alarm, same outage | {p.alarms['dynamodb_latency'].get('fires')} |"]
    if hk.get("tracked"):
        lines.append(f"| hottest key (rank {hk['rank']}, {hk['share']:.2%} of turns) | "
                     f"{hk['peak_wcu_per_s']:,.0f} WCU/s, {hk['peak_rcu_per_s']:,.0f} RCU/s at peak; "
                     f"{'THROTTLED' if hk['throttled'] else 'not throttled'} |")
    lines += ["", "## Checks", "", "| check | passed | measured | target |", "|---|---|---|---|"]
    lines += [f"| {g['name']} | {g['passed']} | {g['measured']} | {g['target']} |" for g in p.gate]
    lines += ["", "## Fitted parameters", "", "| parameter | value | samples |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in _param_rows(p)]
    lines += ["", "Sources: " + "; ".join(f"[{t}]({u})" for t, u in SOURCES) + ".", "",
              f"Not modelled: {NOT_MODELLED}", *[f"- {n}" for n in p.notes]]
    return "\n".join(lines) + "\n"


def to_json(p: Projection) -> str:
    return json.dumps(p.to_dict(), indent=1)


def load_projection(path: Path) -> Projection:
    """A projection written by ``harness project`` (``projection.json``), for the run report."""
    return Projection.from_dict(json.loads(path.read_text(encoding="utf-8")))


def write_outputs(p: Projection, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "projection.json", "md": out_dir / "projection.md", "html": out_dir / "scale.html"}
    paths["json"].write_text(to_json(p), encoding="utf-8")
    paths["md"].write_text(markdown(p), encoding="utf-8")
    paths["html"].write_text(html_page(p), encoding="utf-8")
    return paths
