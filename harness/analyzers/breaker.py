"""Breaker analyzer: the observed DynamoDB circuit-breaker cycle checked against the design's spec.

The design's state machine is CLOSED --5 failures in 10 s--> OPEN --30 s--> HALF-OPEN
--probe ok--> CLOSED, probe failed --> OPEN. From ``breaker_transition`` and
``breaker_probe`` events this analyzer checks: no illegal edge; opened soon enough
after the fault started (failures can only accrue within window_s + one call
timeout); each open episode lasts ~open_s; exactly one probe per half-open
episode, whose outcome matches the exit edge; closed again after the fault is
removed within open_s + slack. When the run has a wire tap on the DynamoDB
proxy, :mod:`breaker_wire` checks the same claims against the calls actually
made. Every deviation is quoted with run-relative and absolute timestamps so
it can be found in events.jsonl.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analyzers.base import AnalyzerResult, Input, fmt_ts
from harness.analyzers.breaker_wire import (
    Episode,
    check_one_probe,
    check_silent_while_open,
    check_threshold,
    logged_dynamo_failures,
    refused_windows,
)
from harness.analyzers.dynamo_calls import WIRE, dynamodb_calls
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import BreakerSection, Probe, Transition
from harness.slo import Slo

LEGAL = {("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("half_open", "open")}


def _fails_calls(fault: dict[str, Any] | None, timeout_ms: float) -> tuple[bool, float]:
    """Whether this fault makes DynamoDB calls fail, and on what share of connections."""
    dynamodb = fault.get("dynamodb") if fault else None
    if not isinstance(dynamodb, dict):
        return False, 0.0
    share = float(dynamodb.get("toxicity", 1.0))
    if dynamodb.get("down"):
        return True, 1.0
    if dynamodb.get("errors"):
        # API errors on a share of calls; the SDK retries throttling, so fewer still reach the breaker
        return True, float(dynamodb["errors"])
    if dynamodb.get("blackhole") or dynamodb.get("fails_calls"):  # blackhole, reset_peer
        return True, share
    if dynamodb.get("may_fail_calls") or dynamodb.get("timeouts_per_window"):
        # bandwidth, slicer, limit_data, intermittent timeouts: some calls outlast the timeout or lose
        # their connection, others succeed, however many connections are touched -- a partial fault
        return True, min(share, 0.5)
    return float(dynamodb.get("latency_ms") or 0) >= timeout_ms, share


def fault_should_open(fault: dict[str, Any] | None, timeout_ms: float) -> bool:
    """Does this fault make every DynamoDB call fail (so the breaker must open)?

    Reads the structured ``fault.dynamodb`` the chaos runner writes: down, a
    blackhole, or a latency at or above the breaker's call timeout, on every
    connection.
    """
    fails, share = _fails_calls(fault, timeout_ms)
    return fails and share >= 1.0


def fault_may_open(fault: dict[str, Any] | None, timeout_ms: float) -> bool:
    """A fault that fails only a share of calls: the breaker may open or not, as the failures fall.

    Whether it opened rightly is then the threshold checks' question (five
    failures within the window before each opening), not this fault's.
    """
    fails, share = _fails_calls(fault, timeout_ms)
    return fails and share < 1.0


def _episodes(tr: list[dict[str, Any]]) -> list[Episode]:
    return [Episode(t["to"], t["ts"], tr[i + 1]["ts"] if i + 1 < len(tr) else None,
                    tr[i + 1]["to"] if i + 1 < len(tr) else None) for i, t in enumerate(tr)]


class BreakerAnalyzer:
    """Checks the breaker's logged state machine against the design, and its calls on the wire."""

    name = "breaker"
    requires: tuple[Input, ...] = ("events.jsonl",)
    missing_means = "the breaker's transitions are unknown"

    def undecided_without(self, run: RunData) -> bool:
        """Without the event log, is a breaker claim of this run left open?

        The verdict holds the breaker to account under a fault that fails every
        DynamoDB call: that fault must open it. Under any other fault, or none, the
        log would only confirm it stayed closed, so a service that logs no events is
        reported as skipped rather than making every such run inconclusive. Without
        ``run.json`` the fault is unknown, so the log may have been needed.
        """
        return fault_should_open(run.fault, run.breaker_config.timeout_ms) or "run.json" in run.missing

    def judge_without(self, run: RunData, slo: Slo, res: AnalyzerResult) -> None:
        """Without the event log the breaker still says whether the fault should have opened it."""
        res.data["expect_open"] = fault_should_open(run.fault, run.breaker_config.timeout_ms)

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        cfg = run.breaker_config
        expect_open = fault_should_open(run.fault, cfg.timeout_ms)
        res.data["expect_open"] = expect_open
        ev = run.events
        if len(ev) and ev["breaker"].notna().any():
            ev = ev[ev["breaker"].isna() | (ev["breaker"] == "dynamodb")]
        t0 = run.t0
        tr: list[dict[str, Any]] = [
            {"ts": float(r.ts), "t_rel": round(float(r.ts) - t0, 3), "from": str(r["from"]), "to": str(r["to"]),
               **({"failures_in_window": int(r["failures_in_window"])}
                  if "failures_in_window" in r and pd.notna(r["failures_in_window"]) else {})}
              for _, r in ev[ev["event"] == "breaker_transition"].iterrows()]
        pr: list[dict[str, Any]] = [
            {"ts": float(r.ts), "t_rel": round(float(r.ts) - t0, 3), "outcome": str(r["outcome"])}
            for _, r in ev[ev["event"] == "breaker_probe"].iterrows()]
        res.data.update({"config": cfg.to_json(), "transitions": tr, "probes": pr})
        state = self._legal(res, tr, t0)
        episodes = _episodes(tr)
        res.data["episodes"] = [{"state": e.state, "start_rel": round(e.start - t0, 3),
                                 "end_rel": None if e.end is None else round(e.end - t0, 3), "exit_to": e.exit_to}
                                for e in episodes]
        durations = self._durations(res, slo, episodes, cfg.open_s, t0)
        n_half = self._probes(res, episodes, pr, t0)
        self._fault(run, slo, res, tr, state, expect_open)
        self._logged_threshold(res, tr, cfg.threshold, t0)
        evidence = self._wire(run, res, episodes)
        res.data["summary"] = {"opens": sum(1 for t in tr if t["to"] == "open"), "half_open_episodes": n_half,
                               "probes": len(pr), "open_durations_s": durations}
        res.section = BreakerSection(
            tuple(Transition(float(t["t_rel"]), str(t["from"]), str(t["to"])) for t in tr),
            tuple(Probe(float(p["t_rel"]), str(p["outcome"])) for p in pr), state, evidence,
            res.data["wire"].get("disagreement", "") if isinstance(res.data.get("wire"), dict) else "")
        return res

    @staticmethod
    def _logged_threshold(res: AnalyzerResult, tr: list[dict[str, Any]], threshold: int, t0: float) -> None:
        """The service's own count at each closed->open edge: a breaker that admits opening early is caught
        even where the wire cannot tell (the wire checks judge the same claim independently)."""
        edges = [t for t in tr if t["from"] == "closed" and t["to"] == "open"
                 and isinstance(t.get("failures_in_window"), (int, float))]
        if not edges:
            return
        early = [t for t in edges if t["failures_in_window"] < threshold]
        res.check("logged_threshold_before_open", not early, min(t["failures_in_window"] for t in edges),
                  f">= {threshold} failures in the window at each opening (service log)",
                  "; ".join(f"opened at {fmt_ts(t['ts'], t0)} with {t['failures_in_window']} failures in the window"
                            for t in early[:4]) or f"{len(edges)} openings, each at >= {threshold} failures")

    @staticmethod
    def _legal(res: AnalyzerResult, tr: list[dict[str, Any]], t0: float) -> str:
        bad: list[str] = []
        state = "closed"
        for t in tr:
            if (t["from"], t["to"]) not in LEGAL:
                bad.append(f"illegal edge {t['from']}->{t['to']} at {fmt_ts(t['ts'], t0)}")
            elif t["from"] != state:
                bad.append(f"edge {t['from']}->{t['to']} at {fmt_ts(t['ts'], t0)} but state was {state}")
            state = t["to"]
        if tr:
            res.check("legal_transitions", not bad, len(bad), "0 illegal edges",
                      "; ".join(bad) or f"{len(tr)} transitions, all legal")
        res.data["final_state"] = state
        return state

    @staticmethod
    def _durations(res: AnalyzerResult, slo: Slo, episodes: list[Episode], open_s: float, t0: float) -> list[float]:
        tol = float(slo.get("breaker", "open_duration_tolerance_s"))
        dev: list[str] = []
        durations: list[float] = []
        for e in episodes:
            if e.state != "open" or e.end is None or e.exit_to != "half_open":
                continue
            d = e.end - e.start
            durations.append(round(d, 3))
            if not (open_s - 0.25 <= d <= open_s + tol):
                dev.append(f"open {d:.3f}s from {fmt_ts(e.start, t0)} to {fmt_ts(e.end, t0)}")
        if durations:
            res.check("open_duration", not dev, max(durations, key=lambda x: abs(x - open_s)),
                      f"{open_s:g} s (-0.25/+{tol:g} s)", "; ".join(dev) or f"open episodes lasted {durations} s")
        return durations

    @staticmethod
    def _probes(res: AnalyzerResult, episodes: list[Episode], pr: list[dict[str, Any]], t0: float) -> int:
        """Exactly one logged probe per half-open episode, whichever order the service logs them in.

        A probe belongs to the half-open episode it follows, up to the next time
        the breaker enters half-open: a breaker that logs its probe after the
        state change it caused still has it counted, and so does a herd.
        """
        starts = [e.start for e in episodes if e.state == "half_open"]
        pdev: list[str] = []
        for i, e in enumerate(e for e in episodes if e.state == "half_open"):
            hi = starts[i + 1] if i + 1 < len(starts) else float("inf")
            inside = [p for p in pr if e.start - 0.001 <= p["ts"] < hi]
            where = f"half-open from {fmt_ts(e.start, t0)}"
            if e.end is None and not inside:
                continue  # run ended while half-open, waiting for a request
            if len(inside) != 1:
                pdev.append(f"{len(inside)} probes in {where}")
            elif e.exit_to is not None and inside[0]["outcome"] != ("success" if e.exit_to == "closed" else "failure"):
                pdev.append(f"probe {inside[0]['outcome']} but breaker went {e.exit_to} in {where}")
        if starts:
            res.check("one_probe_per_half_open", not pdev, len(pdev), "exactly 1 probe per half-open episode",
                      "; ".join(pdev) or f"{len(starts)} half-open episodes, one probe each")
        return len(starts)

    @staticmethod
    def _fault(run: RunData, slo: Slo, res: AnalyzerResult, tr: list[dict[str, Any]], state: str,
               expect_open: bool) -> None:
        fault = run.fault
        cfg = run.breaker_config
        t0 = run.t0
        # A no-fault run still has a "fault" phase (a second baseline); nothing in it may open the breaker.
        if not fault or not isinstance(fault.get("start"), (int, float)) or fault.get("faults") == []:
            opens = [t for t in tr if t["to"] == "open"]
            res.check("stays_closed_without_fault", not opens, len(opens), "breaker stays closed",
                      f"opened at {fmt_ts(opens[0]['ts'], t0)} with no fault" if opens else
                      "no fault, and the breaker never opened")
            return
        fs = float(fault["start"])
        fe = float(fault["end"]) if isinstance(fault.get("end"), (int, float)) else None
        early = [t for t in tr if t["to"] == "open" and t["ts"] < fs - 0.001]
        res.check("closed_before_fault", not early, len(early), "breaker stays closed before the fault",
                  f"opened at {fmt_ts(early[0]['ts'], t0)}, before the fault started at {fmt_ts(fs, t0)}" if early
                  else "closed through the baseline")
        before = [t for t in tr if t["ts"] < fs - 0.001]
        already = before[-1]["to"] if before and before[-1]["to"] != "closed" else None
        opens = [t for t in tr if t["to"] == "open" and t["from"] == "closed" and t["ts"] >= fs - 0.001]
        if expect_open and already:
            res.inconclusive("opened_after_fault", already, "opens within the window after fault start",
                             f"the breaker was already {already} when the fault began (see closed_before_fault), "
                             "so its time to open under the fault cannot be measured; a run whose baseline keeps "
                             "it closed would decide it")
        elif expect_open:
            bound = cfg.window_s + cfg.timeout_ms / 1000.0 + float(slo.get("breaker",
                                                                                              "open_slack_s"))
            d = opens[0]["ts"] - fs if opens else None
            res.check("opened_after_fault", d is not None and d <= bound, None if d is None else round(d, 3),
                      f"<= {bound:g} s after fault start",
                      f"opened at {fmt_ts(opens[0]['ts'], t0)}; fault started at {fmt_ts(fs, t0)}" if opens
                      else f"breaker never opened after the fault started at {fmt_ts(fs, t0)}")
        elif opens and fault_may_open(run.fault, cfg.timeout_ms):
            res.data["partial_fault"] = ("the fault failed only a share of DynamoDB calls, so opening was allowed; "
                                         "the threshold checks judge whether each opening was earned")
        elif opens:
            res.check("no_open_without_failing_fault", False, round(opens[0]["ts"] - fs, 3), "breaker stays closed",
                      f"fault {fault.get('kind')} should not fail calls, yet the breaker opened at "
                      f"{fmt_ts(opens[0]['ts'], t0)}")
        if fe is None or not (expect_open or opens or early):
            return
        bound = cfg.open_s + float(slo.get("breaker", "close_slack_s"))
        target = f"closed <= {bound:g} s after fault end"
        if not opens and not early:
            res.inconclusive("closed_after_recovery", state, target,
                             "the breaker never opened, so its closing cannot be judged (see opened_after_fault)")
            return
        if state == "closed" and tr and tr[-1]["to"] == "closed":
            # Its last edge closed it for good; a close before the fault ended counts as 0 s.
            d = max(0.0, tr[-1]["ts"] - fe)
            res.check("closed_after_recovery", d <= bound, round(d, 3), target,
                      f"closed at {fmt_ts(tr[-1]['ts'], t0)}; fault removed at {fmt_ts(fe, t0)}")
        else:
            last = tr[-1]
            res.check("closed_after_recovery", False, state, target,
                      f"breaker {state} at end of run; fault removed at {fmt_ts(fe, t0)}; last transition "
                      f"{last['from']}->{last['to']} at {fmt_ts(last['ts'], t0)}")

    @staticmethod
    def _wire(run: RunData, res: AnalyzerResult, episodes: list[Episode]) -> str:
        """Judge the breaker from the calls on the wire; return which evidence the checks used."""
        calls = dynamodb_calls(run)
        res.data["evidence"] = calls.source
        if calls.source != WIRE or calls.frame is None:
            res.data["wire"] = "no wire tap in this run (e.g. a real Toxiproxy): breaker checks use the service log"
            return calls.source
        cfg = run.breaker_config
        t0 = run.t0
        timeout_ms = cfg.timeout_ms
        check_silent_while_open(res, calls.frame, episodes, t0, run.t_end, timeout_ms)
        refused = refused_windows(run.timeline)
        counts = check_one_probe(res, calls.frame, episodes, t0, timeout_ms, refused)
        check_threshold(res, calls.frame, episodes, t0, cfg.threshold, cfg.window_s,
                        timeout_ms, logged_dynamo_failures(run.events), refused)
        logged = res.data["summary"]["probes"] if "summary" in res.data else len(res.data.get("probes", []))
        res.data["wire"] = {"calls": len(calls.frame), "calls_per_half_open": counts, "probes_logged": logged,
                            "disagreement": (f"the service logged {logged} probes; the wire saw {sum(counts)} "
                                             "calls in half-open episodes") if logged != sum(counts) else ""}
        return calls.source
