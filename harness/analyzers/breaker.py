"""Breaker analyzer: the observed DynamoDB circuit-breaker cycle checked against the design's spec.

The design's state machine is CLOSED --5 failures in 10 s--> OPEN --30 s--> HALF-OPEN
--probe ok--> CLOSED, probe failed --> OPEN. From ``breaker_transition`` and
``breaker_probe`` events this analyzer checks: no illegal edge; opened soon enough
after the fault started (failures can only accrue within window_s + one call
timeout); each open episode lasts ~open_s; exactly one probe per half-open
episode, whose outcome matches the exit edge; closed again after the fault is
removed within open_s + slack. Every deviation is quoted with run-relative and
absolute timestamps so it can be found in events.jsonl.
"""

from __future__ import annotations

from typing import Any

from harness.analyzers.base import AnalyzerResult, fmt_ts
from harness.analyzers.rundata import RunData
from harness.durations import DurationError, parse_duration
from harness.slo import Slo

LEGAL = {("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open")}


def parse_duration_ms(value: Any) -> float | None:
    """'2s' -> 2000, '500ms' -> 500, 1.5 -> 1500 (bare numbers are seconds); None if unparsable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) * 1000.0
    if not isinstance(value, str):
        return None
    try:
        return parse_duration(value) * 1000.0
    except DurationError:
        pass
    try:
        return float(value) * 1000.0
    except ValueError:
        return None


def fault_should_open(fault: dict[str, Any] | None, timeout_ms: float) -> bool:
    """Does this fault make DynamoDB calls fail (so the breaker must open)?"""
    if not fault:
        return False
    dynamodb = fault.get("dynamodb")
    if isinstance(dynamodb, dict):  # structured description written by the chaos runner
        if dynamodb.get("down"):
            return True
        return float(dynamodb.get("latency_ms") or 0) >= timeout_ms
    kind = str(fault.get("kind", ""))
    if not kind.startswith("dynamo"):
        return False
    if "latency" in kind:
        lat = parse_duration_ms(fault.get("value"))
        return lat is None or lat >= timeout_ms
    return True


class BreakerAnalyzer:
    """Checks the transitions/probes in events.jsonl against the spec'd state machine."""

    name = "breaker"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        if "events.jsonl" in run.missing:
            res.status, res.reason = "skipped", run.missing["events.jsonl"]
            return res
        ev = run.events
        if len(ev) and ev["breaker"].notna().any():
            ev = ev[ev["breaker"].isna() | (ev["breaker"] == "dynamodb")]
        trans = ev[ev["event"] == "breaker_transition"]
        probes = ev[ev["event"] == "breaker_probe"]
        t0 = run.t0
        cfg = run.breaker_config
        open_s = float(cfg["open_s"])
        window_s = float(cfg["window_s"])
        timeout_s = float(cfg["timeout_ms"]) / 1000.0
        tr: list[dict[str, Any]] = [
            {"ts": float(r.ts), "t_rel": round(float(r.ts) - t0, 3),
             "from": str(r["from"]), "to": str(r["to"])}
            for _, r in trans.iterrows()
        ]
        pr: list[dict[str, Any]] = [
            {"ts": float(r.ts), "t_rel": round(float(r.ts) - t0, 3), "outcome": str(r["outcome"])}
            for _, r in probes.iterrows()
        ]
        res.data.update({"config": cfg, "transitions": tr, "probes": pr})

        # 1. legal edges and continuity
        bad: list[str] = []
        state = "closed"
        for t in tr:
            if (t["from"], t["to"]) not in LEGAL:
                bad.append(f"illegal edge {t['from']}->{t['to']} at {fmt_ts(t['ts'], t0)}")
            elif t["from"] != state:
                bad.append(f"edge {t['from']}->{t['to']} at {fmt_ts(t['ts'], t0)} but state was {state}")
            state = t["to"]
        res.check("legal_transitions", not bad, len(bad), "0 illegal edges",
                  "; ".join(bad) or f"{len(tr)} transitions, all legal")
        res.data["final_state"] = state

        # 2. episodes: open durations and probes per half-open
        episodes: list[dict[str, Any]] = []
        for i, t in enumerate(tr):
            end = tr[i + 1]["ts"] if i + 1 < len(tr) else None
            nxt = tr[i + 1]["to"] if i + 1 < len(tr) else None
            episodes.append({"state": t["to"], "start": t["ts"], "end": end, "exit_to": nxt})
        res.data["episodes"] = [{**e, "start_rel": round(e["start"] - t0, 3),
                                 "end_rel": None if e["end"] is None else round(e["end"] - t0, 3)}
                                for e in episodes]
        tol = float(slo.get("breaker", "open_duration_tolerance_s"))
        dev: list[str] = []
        durations: list[float] = []
        for e in episodes:
            if e["state"] != "open" or e["end"] is None or e["exit_to"] != "half_open":
                continue
            d = e["end"] - e["start"]
            durations.append(round(d, 3))
            if not (open_s - 0.25 <= d <= open_s + tol):
                dev.append(f"open {d:.3f}s from {fmt_ts(e['start'], t0)} to {fmt_ts(e['end'], t0)}")
        if durations:
            res.check("open_duration", not dev, max(durations, key=lambda x: abs(x - open_s)),
                      f"{open_s:g} s (-0.25/+{tol:g} s)",
                      "; ".join(dev) or f"open episodes lasted {durations} s")
        pdev: list[str] = []
        n_half = 0
        for e in episodes:
            if e["state"] != "half_open":
                continue
            n_half += 1
            hi = e["end"] if e["end"] is not None else float("inf")
            inside = [p for p in pr if e["start"] <= p["ts"] <= hi]
            where = f"half-open from {fmt_ts(e['start'], t0)}"
            if e["end"] is None and not inside:
                continue  # run ended while half-open, waiting for a request
            if len(inside) != 1:
                pdev.append(f"{len(inside)} probes in {where}")
            elif e["exit_to"] is not None:
                want = "success" if e["exit_to"] == "closed" else "failure"
                if inside[0]["outcome"] != want:
                    pdev.append(f"probe {inside[0]['outcome']} but breaker went {e['exit_to']} in {where}")
        if n_half:
            res.check("one_probe_per_half_open", not pdev, len(pdev), "exactly 1 probe per half-open episode",
                      "; ".join(pdev) or f"{n_half} half-open episodes, one probe each")

        # 3. opened after the fault, closed after it was removed
        fault = run.fault
        if fault and isinstance(fault.get("start"), (int, float)):
            fs = float(fault["start"])
            fe = float(fault["end"]) if isinstance(fault.get("end"), (int, float)) else None
            opens = [t for t in tr if t["to"] == "open" and t["from"] == "closed" and t["ts"] >= fs - 0.001]
            expect_open = fault_should_open(fault, float(cfg["timeout_ms"]))
            res.data["expect_open"] = expect_open
            if expect_open:
                bound = window_s + timeout_s + float(slo.get("breaker", "open_slack_s"))
                if opens:
                    d = opens[0]["ts"] - fs
                    res.check("opened_after_fault", d <= bound, round(d, 3), f"<= {bound:g} s after fault start",
                              f"opened at {fmt_ts(opens[0]['ts'], t0)}; fault started at {fmt_ts(fs, t0)}")
                else:
                    res.check("opened_after_fault", False, None, f"<= {bound:g} s after fault start",
                              f"breaker never opened after the fault started at {fmt_ts(fs, t0)}")
            elif opens:
                res.check("no_open_without_failing_fault", False, round(opens[0]["ts"] - fs, 3),
                          "breaker stays closed",
                          f"fault {fault.get('kind')}={fault.get('value')} should not fail calls, yet breaker "
                          f"opened at {fmt_ts(opens[0]['ts'], t0)}")
            if fe is not None and (expect_open or opens):
                bound = open_s + float(slo.get("breaker", "close_slack_s"))
                closes = [t for t in tr if t["to"] == "closed" and t["ts"] >= fe - open_s]
                if state == "closed" and closes:
                    d = closes[-1]["ts"] - fe
                    res.check("closed_after_recovery", d <= bound, round(d, 3), f"<= {bound:g} s after fault end",
                              f"closed at {fmt_ts(closes[-1]['ts'], t0)}; fault removed at {fmt_ts(fe, t0)}")
                else:
                    last = tr[-1] if tr else None
                    where = f"; last transition {last['from']}->{last['to']} at {fmt_ts(last['ts'], t0)}" \
                        if last else ""
                    res.check("closed_after_recovery", False, state, f"closed <= {bound:g} s after fault end",
                              f"breaker {state} at end of run; fault removed at {fmt_ts(fe, t0)}{where}")
        cycles = sum(1 for t in tr if t["to"] == "open")
        res.data["summary"] = {"opens": cycles, "half_open_episodes": n_half, "probes": len(pr),
                               "open_durations_s": durations}
        return res
