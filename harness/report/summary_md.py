"""summary.md: a compact Markdown verdict fit for ``$GITHUB_STEP_SUMMARY``.

Headline first (pass / fail / inconclusive and what decided it, failed turns
and p99 per phase, breaker cycle, alarm firing times, lost turns, backends),
then every check with ✅/❌/❔ -- an inconclusive check shows why and how much
more evidence would decide it. Nothing is dropped: skipped analyzers are
listed too. Pipes in details are escaped so the table never breaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.analyzers.base import Verdict

BADGE = {"pass": "✅ PASS", "fail": "❌ FAIL", "inconclusive": "❔ INCONCLUSIVE"}
ICON = {"pass": "✅", "fail": "❌", "inconclusive": "❔"}


def _esc(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def build_summary(verdict: Verdict) -> str:
    r = verdict.results
    lines = [f"## {BADGE[verdict.outcome]} — run `{verdict.run_id}` ({verdict.variant})", "",
             f"**Verdict:** {_esc(verdict.headline())}", ""]
    if verdict.backends:
        lines.append("**Backends:** " + ", ".join(f"{k}=`{v}`" for k, v in verdict.backends.items()))
        lines.append("")
    rq = r.get("requests")
    if rq and rq.status == "ok":
        parts = [f"{ph} {b['failed']}/{b['requests']}" for ph, b in rq.data.get("by_phase", {}).items()]
        lines.append("**Failed turns:** " + " · ".join(parts))
    lat = r.get("latency")
    if lat and lat.status == "ok":
        use = lat.data.get("checks_use", "corrected")
        errs = lat.data.get("error_share", {})
        parts = [f"{ph} {b[use].get('p99', '–')} ms (n={b[use].get('count', 0)}, {errs.get(ph, 0):.1%} failed)"
                 for ph, b in lat.data.get("by_phase", {}).items()]
        if parts:
            lines.append(f"**Chat p99 ({use}, failures included):** " + " · ".join(parts))
        base = lat.data.get("dynamodb", {}).get("baseline", {})
        if base:
            lines.append(f"**DynamoDB p99 (baseline, {lat.data.get('dynamodb_source')}):** "
                         + " · ".join(f"{op} {st.get('p99')} ms (n={st.get('count')})" for op, st in base.items()))
        if lat.data.get("ci_method"):
            lines.append(f"**Percentile checks:** {lat.data['ci_method']}")
    br = r.get("breaker")
    if br and br.status == "ok":
        cyc = " → ".join(f"{t['to']}@{t['t_rel']}s" for t in br.data.get("transitions", [])[:12]) or "no transitions"
        lines.append(f"**Breaker:** {cyc} (final: {br.data.get('final_state')})")
    al = r.get("alarms")
    if al and al.status == "ok":
        for name, a in al.data.get("alarms", {}).items():
            fired = ", ".join(f"t+{x}s" for x in a["fired_at_rel"]) or "never"
            cleared = ", ".join(f"t+{x}s" for x in a["cleared_at_rel"]) or "–"
            lines.append(f"**Alarm {name}:** fired {fired}; cleared {cleared}")
        for name, why in al.data.get("cannot_fire", {}).items():
            lines.append(f"**Alarm {name} cannot fire in this run:** {_esc(why)}")
    du = r.get("durability")
    if du and du.status == "ok":
        np_ = du.data.get("not_persisted", {})
        lines.append(f"**Lost turns:** {du.data.get('lost_count', 0)} of {du.data.get('acknowledged', 0)} "
                     f"acknowledged; outbox: {np_.get('arrived_later', 0)} arrived later, "
                     f"{np_.get('never_arrived', 0)} never")
    pa = r.get("partitions")
    if pa and pa.status == "ok" and "hot" in pa.data:
        lines.append(f"**Hot partition:** {'yes — ' + '; '.join(pa.data['hot_reasons']) if pa.data['hot'] else 'no'}")
    lines += ["", "| | check | measured | target | detail |", "|---|---|---|---|---|"]
    for c in verdict.checks:
        detail = f"{c.reason} — {c.detail}" if c.reason and c.detail else (c.reason or c.detail)
        req = " (required)" if c.required else (" (optional, reported only)" if c.optional else "")
        lines.append(f"| {ICON[c.outcome]} | `{c.name}`{req} | {_esc(c.measured)} | {_esc(c.target)} | "
                     f"{_esc(detail)[:400]} |")
    for name, res in r.items():
        if res.status != "ok":
            lines.append(f"| ⏭️ | `{name}` | {res.status} | | {_esc(res.reason)} |")
    return "\n".join(lines) + "\n"


def write_summary(path: Path, verdict: Verdict) -> Path:
    path.write_text(build_summary(verdict), encoding="utf-8")
    return path
