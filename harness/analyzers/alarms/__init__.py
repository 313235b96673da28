"""Alarms analyzer: the design's three CloudWatch alarms, evaluated over the run as CloudWatch would.

* ``dynamodb_latency`` -- p99 of DynamoDB call latency (memory_read/memory_write
  store=dynamodb, client side; circuit-open rejections excluded) > 50 ms for 3 of 3
  periods. Note: AWS's SuccessfulRequestLatency is server side and would not see
  a network (Toxiproxy) delay; ours is what the service experienced.
* ``circuit_open`` -- DynamoDBCircuitOpen > 0: 1 in every period the breaker spent
  any time not closed (open or half-open), else 0.
* ``stateless`` -- StatelessModeSessions > 1 % of sessions: distinct sessions with
  a level >= 2 turn among distinct sessions active in the period (``chat``
  events, else records).

The period is run.json ``alarm_period_s`` when present (compressed runs), else the
SLO's ``alarms.period_s``. By default alarms are only reported; the single
default check is that the stateless alarm does not fire in the baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analyzers.alarms.cloudwatch import ALARM, AlarmResult, AlarmSpec, Datapoint, aggregate, evaluate
from harness.analyzers.alarms.cloudwatch import period_starts as _period_starts
from harness.analyzers.base import AnalyzerResult, fmt_ts
from harness.analyzers.rundata import RunData
from harness.slo import Slo

__all__ = ["AlarmSpec", "AlarmsAnalyzer", "Datapoint", "aggregate", "evaluate"]

STATISTIC = {"dynamodb_latency": "p99", "circuit_open": "Maximum", "stateless": "Maximum"}


def _spec(slo: Slo, name: str, period: float) -> AlarmSpec:
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


class AlarmsAnalyzer:
    """Evaluates the design's three alarms and checks the SLO's ``expect_alarms``."""

    name = "alarms"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        if "events.jsonl" in run.missing and "records/records.jsonl" in run.missing:
            res.status, res.reason = "skipped", "neither events.jsonl nor records/records.jsonl found"
            return res
        period = float(run.run.get("alarm_period_s") or slo.get("alarms", "period_s"))
        start, end = run.t0, run.t_end
        res.data["period_s"] = period
        results: dict[str, AlarmResult] = {}
        skipped: dict[str, str] = {}

        # 1. DynamoDB p99 latency
        calls = run.events[run.events["event"].isin(["memory_read", "memory_write"])] if len(run.events) \
            else run.events
        if len(calls):
            calls = calls[(calls["store"] == "dynamodb") & (calls["outcome"] != "circuit_open")]
        if len(calls):
            sp = _spec(slo, "dynamodb_latency", period)
            dps = aggregate(sp, calls["ts"].to_numpy(dtype=float),
                            pd.to_numeric(calls["latency_ms"], errors="coerce").to_numpy(dtype=float), start, end)
            results["dynamodb_latency"] = evaluate(sp, dps)
        else:
            skipped["dynamodb_latency"] = "no DynamoDB memory_read/memory_write events"

        # 2. DynamoDBCircuitOpen
        if "events.jsonl" not in run.missing:
            sp = _spec(slo, "circuit_open", period)
            ivals = _not_closed_intervals(run)
            dps = []
            for s in _period_starts(start, end, period).tolist():
                e = s + period
                v = 1.0 if any(a < e and b >= s for a, b in ivals) else 0.0
                dps.append(Datapoint(s, v, 1))
            results["circuit_open"] = evaluate(sp, dps)
        else:
            skipped["circuit_open"] = run.missing["events.jsonl"]

        # 3. StatelessModeSessions %
        src = run.events_of("chat") if len(run.events) else pd.DataFrame()
        source = "events.chat"
        if not len(src):
            src, source = run.records, "records"
        if len(src) and src["session_id"].notna().any():
            sp = _spec(slo, "stateless", period)
            starts = _period_starts(start, end, period)
            df = pd.DataFrame({"ts": src["ts"].to_numpy(dtype=float), "sid": src["session_id"].astype(str),
                               "lvl": pd.to_numeric(src["level"], errors="coerce").fillna(0).to_numpy()})
            df["p"] = np.floor((df["ts"] - starts[0]) / period).astype("int64")
            active = df.groupby("p")["sid"].nunique()
            stateless = df[df["lvl"] >= 2].groupby("p")["sid"].nunique()
            dps = []
            for i, s in enumerate(starts.tolist()):
                a = int(active.get(i, 0))
                dps.append(Datapoint(s, None if a == 0 else 100.0 * int(stateless.get(i, 0)) / a, a))
            results["stateless"] = evaluate(sp, dps)
            res.data["stateless_source"] = source
        else:
            skipped["stateless"] = "no chat events or records with session_id"

        res.data["alarms"] = {k: v.to_dict(start) for k, v in results.items()}
        res.data["skipped"] = skipped
        self._checks(run, slo, res, results)
        return res

    def _checks(self, run: RunData, slo: Slo, res: AnalyzerResult, results: dict[str, AlarmResult]) -> None:
        t0 = run.t0
        for name, expect in slo.get("expect_alarms").items():
            if expect == "report" or name not in results:
                continue
            r = results[name]
            fired = r.fired_at
            when = ", ".join(fmt_ts(t, t0) for t in fired) or "never"
            if expect == "must_fire":
                res.check(f"{name}.fires", bool(fired), len(fired), "fires at least once", f"fired: {when}")
            elif expect == "must_not_fire":
                res.check(f"{name}.silent", not fired, len(fired), "never fires", f"fired: {when}")
            elif expect == "must_not_fire_in_baseline":
                b = run.phase_bounds("baseline")
                if b is None:
                    continue
                # Only periods wholly inside the baseline: a period straddling the fault start holds fault data.
                bad = [e for e in r.evaluations if e.state == ALARM and e.start >= b[0] - 1e-9 and e.end <= b[1]]
                res.check(f"{name}.baseline_silent", not bad, len(bad), "not in ALARM during baseline",
                          "; ".join(f"ALARM at {fmt_ts(e.end, t0)} (value {e.value})" for e in bad)
                          or f"no ALARM in baseline periods; fired overall: {when}")
