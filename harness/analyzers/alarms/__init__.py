"""Alarms analyzer: the design's three CloudWatch alarms, evaluated over the run as CloudWatch would.

* ``dynamodb_latency``: p99 of successful DynamoDB calls > 50 ms for 3 of 3
  periods, from the wire tap when present (so, unlike AWS's server-side
  SuccessfulRequestLatency, it sees a Toxiproxy delay), else the service's log;
* ``circuit_open``: 1 in every period the breaker spent any time not closed;
* ``stateless``: sessions with a level >= 2 turn > 1 % of active sessions.

The period is run.json ``alarm_period_s`` (compressed runs), else the SLO's
``alarms.period_s``. By default (``expect_alarms: as_design``) ``circuit_open``
must fire when the breaker opened, ``stateless`` when sessions went stateless
past its threshold, and neither on baseline data; an alarm the fault phase is
too short to fire makes "it fires" inconclusive, never a fail or a pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analyzers.alarms.cloudwatch import (
    ALARM,
    INSUFFICIENT,
    AlarmResult,
    AlarmSpec,
    Datapoint,
    aggregate,
    evaluate,
)
from harness.analyzers.alarms.cloudwatch import period_starts as _period_starts
from harness.analyzers.base import AnalyzerResult, Input, fmt_ts
from harness.analyzers.dynamo_calls import dynamodb_calls
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import AlarmChange, AlarmsSection, AlarmTrack
from harness.records import RECORDS_FILE
from harness.slo import Slo

__all__ = ["AlarmSpec", "AlarmsAnalyzer", "Datapoint", "aggregate", "alarm_spec", "evaluate", "min_alarm_s"]

STATISTIC = {"dynamodb_latency": "p99", "circuit_open": "Maximum", "stateless": "Maximum"}


def alarm_spec(slo: Slo, name: str, period: float) -> AlarmSpec:
    """One of the design's alarms as the SLO file configures it, evaluated every ``period`` seconds."""
    a = slo.get("alarms", name)
    return AlarmSpec(
        name=name, threshold=float(a["threshold"]), period_s=period,
        evaluation_periods=int(a["evaluation_periods"]), datapoints_to_alarm=int(a["datapoints_to_alarm"]),
        statistic=STATISTIC[name], treat_missing_data=str(a["treat_missing_data"]),
        evaluate_low_sample_count_percentile=str(a["evaluate_low_sample_count_percentile"]),
    )


def _not_closed_intervals(run: RunData) -> list[tuple[float, float]]:
    tr = run.events_of("breaker_transition")
    if len(tr) and tr["breaker"].notna().any():
        tr = tr[tr["breaker"].isna() | (tr["breaker"] == "dynamodb")]
    out: list[tuple[float, float]] = []
    opened: float | None = None
    for _, r in tr.iterrows():
        if r["to"] != "closed" and opened is None:
            opened = float(r["ts"])
        elif r["to"] == "closed" and opened is not None:
            out.append((opened, float(r["ts"])))
            opened = None
    if opened is not None:
        out.append((opened, max(run.t_end, opened)))
    return out


def min_alarm_s(spec: AlarmSpec) -> float:
    """Shortest breach that can put the alarm in ALARM: M breaching periods."""
    return spec.datapoints_to_alarm * spec.period_s


class AlarmsAnalyzer:
    """Evaluates the design's three alarms and checks the SLO's ``expect_alarms``."""

    name = "alarms"
    requires: tuple[Input, ...] = (("events.jsonl", f"records/{RECORDS_FILE}"),)
    missing_means = ""

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        period = float(run.run.get("alarm_period_s") or slo.get("alarms", "period_s"))
        res.data["period_s"] = period
        results, skipped = self._evaluate(run, slo, period, run.t0, run.t_end)
        base = run.phase_bounds("baseline")
        # Baseline judgements use every period that overlaps the baseline, fed with
        # baseline data only, so a period straddling the fault start is neither
        # skipped nor blamed for the fault.
        baseline = self._evaluate(run, slo, period, base[0], base[1])[0] if base else {}
        res.data["alarms"] = {k: v.to_dict(run.t0) for k, v in results.items()}
        res.data["skipped"] = skipped
        res.data["cannot_fire"] = self.cannot_fire(run, slo, period)
        self._checks(run, slo, res, results, baseline, skipped)
        res.section = AlarmsSection(period, tuple(_track(k, v, run.t0) for k, v in results.items()),
                                    dict(res.data["cannot_fire"]))
        return res

    @staticmethod
    def cannot_fire(run: RunData, slo: Slo, period: float) -> dict[str, str]:
        """Alarms whose shortest possible breach is longer than the fault phase, with why."""
        fault = run.phase_bounds("fault")
        if fault is None:
            return {}
        length = fault[1] - fault[0]
        out: dict[str, str] = {}
        for name in STATISTIC:
            spec = alarm_spec(slo, name, period)
            need = min_alarm_s(spec)
            if need > length + 1e-9:
                out[name] = (f"needs {need:g} s of breach ({spec.datapoints_to_alarm} x "
                             f"{period:g} s periods) but the fault phase lasts {length:g} s")
        return out

    def _evaluate(self, run: RunData, slo: Slo, period: float, start: float,
                  end: float) -> tuple[dict[str, AlarmResult], dict[str, str]]:
        results: dict[str, AlarmResult] = {}
        skipped: dict[str, str] = {}
        for name, fn in (("dynamodb_latency", self._latency), ("circuit_open", self._circuit),
                         ("stateless", self._stateless)):
            sp = alarm_spec(slo, name, period)
            dps, why = fn(run, sp, start, end)
            if dps is None:
                skipped[name] = why
            else:
                results[name] = evaluate(sp, dps)
        return results, skipped

    @staticmethod
    def _latency(run: RunData, sp: AlarmSpec, start: float, end: float) -> tuple[list[Datapoint] | None, str]:
        calls = dynamodb_calls(run)
        if calls.frame is None or not len(calls.frame):
            return None, calls.why_missing or "no DynamoDB calls"
        df = calls.frame[calls.frame["ok"] & (calls.frame["ts"] >= start) & (calls.frame["ts"] < end)]
        return aggregate(sp, df["ts"].to_numpy(dtype=float), df["latency_ms"].to_numpy(dtype=float),
                         start, end), calls.source

    @staticmethod
    def _circuit(run: RunData, sp: AlarmSpec, start: float, end: float) -> tuple[list[Datapoint] | None, str]:
        if "events.jsonl" in run.missing:
            return None, run.missing["events.jsonl"]
        ivals = _not_closed_intervals(run)
        dps = []
        for s in _period_starts(start, end, sp.period_s).tolist():
            e = min(s + sp.period_s, end)
            v = 1.0 if any(a < e and b >= max(s, start) for a, b in ivals) else 0.0
            dps.append(Datapoint(s, v, 1))
        return dps, "service event log"

    @staticmethod
    def _stateless(run: RunData, sp: AlarmSpec, start: float, end: float) -> tuple[list[Datapoint] | None, str]:
        src = run.events_of("chat") if len(run.events) else pd.DataFrame()
        if not len(src):
            src = run.records
        if not len(src) or not src["session_id"].notna().any():
            return None, "no chat events or records with session_id"
        ts = src["ts"].to_numpy(dtype=float)
        keep = (ts >= start) & (ts < end)
        starts = _period_starts(start, end, sp.period_s)
        df = pd.DataFrame({"ts": ts[keep], "sid": src["session_id"].astype(str).to_numpy()[keep],
                           "lvl": pd.to_numeric(src["level"], errors="coerce").fillna(0).to_numpy()[keep]})
        df["p"] = np.floor((df["ts"] - starts[0]) / sp.period_s).astype("int64")
        active = df.groupby("p")["sid"].nunique()
        stateless = df[df["lvl"] >= 2].groupby("p")["sid"].nunique()
        dps = []
        for i, s in enumerate(starts.tolist()):
            a = int(active.get(i, 0))
            dps.append(Datapoint(s, None if a == 0 else 100.0 * int(stateless.get(i, 0)) / a, a))
        return dps, "records"

    def _checks(self, run: RunData, slo: Slo, res: AnalyzerResult, results: dict[str, AlarmResult],
                baseline: dict[str, AlarmResult], skipped: dict[str, str]) -> None:
        cannot = res.data["cannot_fire"]
        for name, expect in slo.get("expect_alarms").items():
            if expect == "report":
                continue
            if name not in results:
                res.inconclusive(f"{name}.evidence", None, f"alarm {expect}", skipped.get(name, "no data"))
                continue
            wants: list[str] = [expect]
            if expect == "as_design":
                wants = ["must_not_fire_in_baseline"]
                why = self._should_fire(run, slo, name)
                if why:
                    wants.append("must_fire")
                    res.data.setdefault("expected_to_fire", {})[name] = why
            for want in wants:
                self._expect(run, res, name, want, results[name], baseline.get(name), cannot.get(name))

    @staticmethod
    def _should_fire(run: RunData, slo: Slo, name: str) -> str:
        """Why the design says ``name`` must fire in this run ("" when it need not)."""
        if name == "circuit_open":
            opened = run.events_of("breaker_transition")
            opened = opened[opened["to"] == "open"] if len(opened) else opened
            return f"the breaker opened {len(opened)} time(s)" if len(opened) else ""
        if name == "stateless":
            src = run.records
            if not len(src) or "level" not in src.columns:
                return ""
            sessions = src["session_id"].dropna().astype(str)
            lvl = pd.to_numeric(src["level"], errors="coerce").fillna(0)
            share = 100.0 * sessions[lvl >= 2].nunique() / max(1, sessions.nunique())
            limit = float(slo.get("alarms", "stateless", "threshold"))
            return f"{share:.1f} % of sessions were stateless (> {limit:g} %)" if share > limit else ""
        return ""

    @staticmethod
    def _expect(run: RunData, res: AnalyzerResult, name: str, want: str, r: AlarmResult,
                base: AlarmResult | None, cannot: str | None) -> None:
        t0 = run.t0
        fired = r.fired_at
        when = ", ".join(fmt_ts(t, t0) for t in fired) or "never"
        if want == "must_fire":
            why = res.data.get("expected_to_fire", {}).get(name, "the SLO expects it")
            if cannot and not fired:
                res.inconclusive(f"{name}.fires", 0, "fires at least once", f"cannot fire in this run: {cannot}")
            else:
                res.check(f"{name}.fires", bool(fired), len(fired), "fires at least once",
                          f"expected because {why}; fired: {when}")
        elif want == "must_not_fire":
            res.check(f"{name}.silent", not fired, len(fired), "never fires", f"fired: {when}")
        elif want == "must_not_fire_in_baseline" and base is not None:
            bad = [e for e in base.evaluations if e.state == ALARM]
            res.check(f"{name}.baseline_silent", not bad, len(bad), "not in ALARM on baseline data",
                      "; ".join(f"ALARM at {fmt_ts(e.end, t0)} (value {e.value})" for e in bad)
                      or f"no ALARM over the {len(base.evaluations)} period(s) overlapping the baseline; "
                      f"fired overall: {when}")


def _track(name: str, r: AlarmResult, t0: float) -> AlarmTrack:
    """One alarm's firing history in run-relative seconds, for the reports."""
    return AlarmTrack(name, tuple(round(t - t0, 3) for t in r.fired_at), tuple(round(t - t0, 3) for t in r.cleared_at),
                      tuple(AlarmChange(round(float(c["ts"]) - t0, 3), str(c["from"]), str(c["to"]))
                            for c in r.changes),
                      r.evaluations[-1].state if r.evaluations else INSUFFICIENT)
