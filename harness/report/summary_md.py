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
from harness.analyzers.sections import (
    AlarmsSection,
    BreakerSection,
    DurabilitySection,
    LatencySection,
    PartitionsSection,
    RequestsSection,
)

BADGE = {"pass": "✅ PASS", "fail": "❌ FAIL", "inconclusive": "❔ INCONCLUSIVE"}
ICON = {"pass": "✅", "fail": "❌", "inconclusive": "❔"}


def _esc(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _requests_lines(v: Verdict) -> list[str]:
    sec = v.section(RequestsSection)
    if sec is None:
        return []
    return ["**Failed turns:** " + " · ".join(f"{p.phase} {p.failed}/{p.requests}" for p in sec.phases)]


def _latency_lines(v: Verdict) -> list[str]:
    sec = v.section(LatencySection)
    if sec is None:
        return []
    lines: list[str] = []
    parts = [f"{p.phase} {_ms(sec.chosen(p).p99)} ms (n={sec.chosen(p).count}, {p.error_share:.1%} failed)"
             for p in sec.phases]
    if parts:
        lines.append(f"**Chat p99 ({sec.checks_use}, failures included):** " + " · ".join(parts))
    base = [o for o in sec.dynamodb if o.phase == "baseline"]
    if base:
        lines.append(f"**DynamoDB p99 (baseline, {sec.dynamodb_source}):** "
                     + " · ".join(f"{o.op} {_ms(o.latency.p99)} ms (n={o.latency.count})" for o in base))
    lines += [f"**Note:** {_esc(n)}" for n in sec.notes]
    if sec.ci_method:
        lines.append(f"**Percentile checks:** {sec.ci_method}")
    return lines


def _ms(x: float | None) -> str:
    return "–" if x is None else str(x)


def _breaker_lines(v: Verdict) -> list[str]:
    sec = v.section(BreakerSection)
    if sec is None:
        return []
    cyc = " → ".join(f"{t.to_state}@{t.t_rel}s" for t in sec.transitions[:12]) or "no transitions"
    lines = [f"**Breaker:** {cyc} (final: {sec.final_state}; evidence: {sec.evidence or 'service log'})"]
    if sec.disagreement:  # the wire decides; the service's account is shown, not trusted
        lines.append(f"**Service log vs wire:** {_esc(sec.disagreement)}")
    return lines


def _alarm_lines(v: Verdict) -> list[str]:
    sec = v.section(AlarmsSection)
    if sec is None:
        return []
    lines: list[str] = []
    for a in sec.alarms:
        fired = ", ".join(f"t+{x}s" for x in a.fired_at_rel) or "never"
        cleared = ", ".join(f"t+{x}s" for x in a.cleared_at_rel) or "–"
        lines.append(f"**Alarm {a.name}:** fired {fired}; cleared {cleared}")
    for name, why in sec.cannot_fire.items():
        lines.append(f"**Alarm {name} cannot fire in this run:** {_esc(why)}")
    return lines


def _durability_lines(v: Verdict) -> list[str]:
    sec = v.section(DurabilitySection)
    if sec is None:
        return []
    return [f"**Lost turns:** {sec.lost} of {sec.acknowledged} acknowledged; outbox: "
            f"{sec.arrived_later} arrived later, {sec.never_arrived} never"
            + (f" (drain: {_esc(sec.drain)})" if sec.drain else "")]


def _partition_lines(v: Verdict) -> list[str]:
    sec = v.section(PartitionsSection)
    if sec is None or sec.hot is None:
        return []
    return [f"**Hot partition:** {'yes — ' + '; '.join(sec.hot_reasons) if sec.hot else 'no'}"]


SECTIONS: tuple[Callable[[Verdict], list[str]], ...] = (
    _requests_lines, _latency_lines, _breaker_lines, _alarm_lines, _durability_lines, _partition_lines,
)
"""One short paragraph per analyzer that ran, in this order, above the check table."""


def build_summary(verdict: Verdict) -> str:
    r = verdict.results
    lines = [f"## {BADGE[verdict.outcome]} — run `{verdict.run_id}` ({verdict.variant})", "",
             f"**Verdict:** {_esc(verdict.headline())}", ""]
    if verdict.backends:
        lines.append("**Backends:** " + ", ".join(f"{k}=`{v}`" for k, v in verdict.backends.items()))
        lines.append("")
    for section in SECTIONS:
        lines += section(verdict)
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
