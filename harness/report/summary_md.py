"""summary.md: a compact Markdown verdict fit for ``$GITHUB_STEP_SUMMARY``.

Headline first (pass / fail / inconclusive and what decided it, failed turns
and p99 per phase, breaker cycle, alarm firing times, lost turns, backends),
then every check with ✅/❌/❔ -- an inconclusive check shows why and how much
more evidence would decide it. Nothing is dropped: skipped analyzers are
listed too. Pipes in details are escaped so the table never breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.analyzers.base import Verdict

BADGE = {"pass": "✅ PASS", "fail": "❌ FAIL", "inconclusive": "❔ INCONCLUSIVE"}
ICON = {"pass": "✅", "fail": "❌", "inconclusive": "❔"}


def _esc(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _requests_lines(res: Any) -> list[str]:
    parts = [f"{ph} {b['failed']}/{b['requests']}" for ph, b in res.data.get("by_phase", {}).items()]
    return ["**Failed turns:** " + " · ".join(parts)]


def _latency_lines(res: Any) -> list[str]:
    lines: list[str] = []
    use = res.data.get("checks_use", "corrected")
    errs = res.data.get("error_share", {})
    parts = [f"{ph} {b[use].get('p99', '–')} ms (n={b[use].get('count', 0)}, {errs.get(ph, 0):.1%} failed)"
             for ph, b in res.data.get("by_phase", {}).items()]
    if parts:
        lines.append(f"**Chat p99 ({use}, failures included):** " + " · ".join(parts))
    base = res.data.get("dynamodb", {}).get("baseline", {})
    if base:
        lines.append(f"**DynamoDB p99 (baseline, {res.data.get('dynamodb_source')}):** "
                     + " · ".join(f"{op} {st.get('p99')} ms (n={st.get('count')})" for op, st in base.items()))
    for note in ("sub_timeout_note", "dynamodb_error_note"):
        if res.data.get(note):
            lines.append(f"**Note:** {_esc(res.data[note])}")
    if res.data.get("ci_method"):
        lines.append(f"**Percentile checks:** {res.data['ci_method']}")
    return lines


def _breaker_lines(res: Any) -> list[str]:
    cyc = " → ".join(f"{t['to']}@{t['t_rel']}s" for t in res.data.get("transitions", [])[:12]) or "no transitions"
    return [f"**Breaker:** {cyc} (final: {res.data.get('final_state')})"]


def _alarm_lines(res: Any) -> list[str]:
    lines: list[str] = []
    for name, a in res.data.get("alarms", {}).items():
        fired = ", ".join(f"t+{x}s" for x in a["fired_at_rel"]) or "never"
        cleared = ", ".join(f"t+{x}s" for x in a["cleared_at_rel"]) or "–"
        lines.append(f"**Alarm {name}:** fired {fired}; cleared {cleared}")
    for name, why in res.data.get("cannot_fire", {}).items():
        lines.append(f"**Alarm {name} cannot fire in this run:** {_esc(why)}")
    return lines


def _durability_lines(res: Any) -> list[str]:
    np_ = res.data.get("not_persisted", {})
    return [f"**Lost turns:** {res.data.get('lost_count', 0)} of {res.data.get('acknowledged', 0)} "
            f"acknowledged; outbox: {np_.get('arrived_later', 0)} arrived later, "
            f"{np_.get('never_arrived', 0)} never"]


def _partition_lines(res: Any) -> list[str]:
    if "hot" not in res.data:
        return []
    return [f"**Hot partition:** {'yes — ' + '; '.join(res.data['hot_reasons']) if res.data['hot'] else 'no'}"]


SECTIONS: dict[str, Callable[[Any], list[str]]] = {
    "requests": _requests_lines, "latency": _latency_lines, "breaker": _breaker_lines,
    "alarms": _alarm_lines, "durability": _durability_lines, "partitions": _partition_lines,
}
"""One short paragraph per analyzer that ran, in this order, above the check table."""


def build_summary(verdict: Verdict) -> str:
    r = verdict.results
    lines = [f"## {BADGE[verdict.outcome]} — run `{verdict.run_id}` ({verdict.variant})", "",
             f"**Verdict:** {_esc(verdict.headline())}", ""]
    if verdict.backends:
        lines.append("**Backends:** " + ", ".join(f"{k}=`{v}`" for k, v in verdict.backends.items()))
        lines.append("")
    for name, section in SECTIONS.items():
        res = r.get(name)
        if res is not None and res.status == "ok":
            lines += section(res)
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
