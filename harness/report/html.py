"""report.html: one self-contained page (inline CSS, plots as base64 PNG) for a human reviewer.

Self-contained so it can be attached as a CI artifact or mailed and still render
offline. Shows the verdict, which backend served each component (run.json
``backends`` -- a moto-backed run's DynamoDB latencies mean something different
from a dynalite one), every check with pass/fail, the plots, and the alarm and
breaker timelines.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from harness.analyzers.base import Verdict
from harness.analyzers.sections import AlarmsSection, LatencySection
from harness.report.plots import render_all

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5} tr.fail td{background:#fdecea} tr.pass td.st{color:#2e7d32;font-weight:600}
tr.fail td.st{color:#c62828;font-weight:600}
tr.inconclusive td{background:#fff8e1} tr.inconclusive td.st{color:#8d6e00;font-weight:600} .unsure{background:#b58900}
.badge{display:inline-block;padding:4px 10px;border-radius:4px;color:#fff}
.ok{background:#2e7d32}.bad{background:#c62828} img{max-width:100%;display:block;margin:8px 0}
code{background:#f5f5f5;padding:0 3px}
"""


BADGE_CLASS = {"pass": "ok", "fail": "bad", "inconclusive": "unsure"}


def _e(x: Any) -> str:
    return escape(str(x))


def build_html(verdict: Verdict, scale: str = "") -> str:
    p: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Chaos run {_e(verdict.run_id)}</title><style>{CSS}</style></head><body>",
        f"<h1>Chaos run <code>{_e(verdict.run_id)}</code> — variant {_e(verdict.variant)} "
        f"<span class='badge {BADGE_CLASS[verdict.outcome]}'>{verdict.outcome.upper()}</span></h1>",
        f"<p class='headline'>{_e(verdict.headline())}</p>",
    ]
    info = verdict.info
    if info.fault_kind:
        injected = ", ".join(info.faults)
        p.append(f"<p>Fault: <b>{_e(info.fault_kind)}</b>" + (f" ({_e(injected)})" if injected else "") + "</p>")
    p.append("<h2>Backends</h2><table><tr><th>component</th><th>backend</th></tr>")
    for k, v in (verdict.backends or {}).items():
        p.append(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>")
    if not verdict.backends:
        p.append("<tr><td colspan='2'>run.json names no backends</td></tr>")
    p.append("</table>")
    p.append("<h2>Checks</h2><table><tr><th>status</th><th>check</th><th>measured</th><th>target</th>"
             "<th>detail</th></tr>")
    for c in verdict.checks:
        why = f"<b>{_e(c.reason)}</b> " if c.reason else ""
        opt = " <i>(required)</i>" if c.required else (" <i>(optional, reported only)</i>" if c.optional else "")
        p.append(f"<tr class='{c.outcome}'><td class='st'>{c.outcome.upper()}</td><td>{_e(c.name)}{opt}</td>"
                 f"<td>{_e(c.measured)}</td><td>{_e(c.target)}</td><td>{why}{_e(c.detail)}</td></tr>")
    for name, r in verdict.results.items():
        if r.status != "ok":
            p.append(f"<tr><td class='st'>{_e(r.status.upper())}</td><td>{_e(name)}</td><td></td><td></td>"
                     f"<td>{_e(r.reason)}</td></tr>")
    p.append("</table>")
    p.append("<h2>Plots</h2>")
    for title, png in render_all(verdict):
        p.append(f"<h3>{_e(title)}</h3><img alt='{_e(title)}' src='data:image/png;base64,{png}'>")
    p += _alarms_table(verdict.section(AlarmsSection))
    p += _modes_table(verdict.section(LatencySection))
    if scale:
        p.append(scale)
    p.append("</body></html>")
    return "\n".join(p)


def _alarms_table(sec: AlarmsSection | None) -> list[str]:
    if sec is None:
        return []
    p = [f"<h2>Alarms (period {sec.period_s} s)</h2><table><tr><th>alarm</th>"
         "<th>state changes (t since start)</th><th>final</th></tr>"]
    for a in sec.alarms:
        ch = ", ".join(f"{c.from_state}→{c.to_state} @ t+{c.t_rel}s" for c in a.changes) or "none"
        p.append(f"<tr><td>{_e(a.name)}</td><td>{_e(ch)}</td><td>{_e(a.final_state)}</td></tr>")
    p.append("</table>")
    return p


def _modes_table(sec: LatencySection | None) -> list[str]:
    if sec is None or not sec.phase_modes:
        return []
    p = ["<h2>Latency per phase and memory mode (ms)</h2><table><tr><th>phase</th><th>mode</th><th>n</th>"
         "<th>p50</th><th>p95</th><th>p99</th><th>p99 uncorrected</th></tr>"]
    for r in sec.phase_modes:
        c, u = r.corrected, r.uncorrected
        p.append(f"<tr><td>{_e(r.phase)}</td><td>{_e(r.mode)}</td><td>{c.count}</td><td>{_v(c.p50)}</td>"
                 f"<td>{_v(c.p95)}</td><td>{_v(c.p99)}</td><td>{_v(u.p99)}</td></tr>")
    p.append("</table>")
    return p


def _v(x: float | None) -> str:
    return "" if x is None else str(x)


def _scale_section(run_dir: Path) -> str:
    """The ``harness project`` section, when a projection of this run exists (``scale/projection.json``)."""
    path = run_dir / "scale" / "projection.json"
    if not path.is_file():
        return ""
    from harness.project.render import load_projection, render_scale_section

    return render_scale_section(load_projection(path))


def write_html(path: Path, verdict: Verdict) -> Path:
    path.write_text(build_html(verdict, _scale_section(path.parent)), encoding="utf-8")
    return path
