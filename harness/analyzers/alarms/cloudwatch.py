"""A CloudWatch metric-alarm evaluator, so a run can be judged the way production would page.

Why our own: moto stores alarms but never evaluates them. It follows AWS's
"Using Amazon CloudWatch alarms" and PutMetricAlarm: periods aligned to the
epoch; evaluation at each period's end over the last ``EvaluationPeriods`` (N),
ALARM when ``DatapointsToAlarm`` (M) of them breach, not necessarily in a row;
a new alarm starts in INSUFFICIENT_DATA. ``TreatMissingData``: ``notBreaching``
/ ``breaching`` substitute a good / bad datapoint, ``missing`` evaluates only
those present (INSUFFICIENT_DATA when all N are missing), ``ignore`` likewise
but keeps the current state. A percentile period with fewer than 10/(1-p)
samples counts as missing under ``EvaluateLowSampleCountPercentile=ignore``
and is evaluated under ``evaluate`` (the API default). A documented
simplification: no look-back beyond N periods when data is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT = "INSUFFICIENT_DATA"

COMPARISONS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass
class AlarmSpec:
    """The PutMetricAlarm fields that matter for evaluation."""

    name: str
    threshold: float
    period_s: float = 60.0
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    statistic: str = "Maximum"  # Maximum | Minimum | Average | Sum | SampleCount | pNN[.N]
    comparison: str = "GreaterThanThreshold"
    treat_missing_data: str = "missing"
    evaluate_low_sample_count_percentile: str = "evaluate"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"unknown comparison {self.comparison}")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError("need 1 <= datapoints_to_alarm <= evaluation_periods")
        if self.period_s <= 0:
            raise ValueError("period_s must be > 0")

    @property
    def percentile(self) -> float | None:
        s = self.statistic
        if s.startswith("p") and s[1:].replace(".", "", 1).isdigit():
            return float(s[1:])
        return None


@dataclass
class Datapoint:
    """One period's aggregated value (``None`` = missing)."""

    start: float
    value: float | None
    samples: int = 0
    low_sample: bool = False


@dataclass
class Evaluation:
    """The state after evaluating at the end of the period starting at ``start``."""

    start: float
    end: float
    value: float | None
    breaching: bool | None
    state: str


@dataclass
class AlarmResult:
    """An alarm's state timeline and its state changes (when it fired / cleared)."""

    spec: AlarmSpec
    evaluations: list[Evaluation] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fired_at(self) -> list[float]:
        return [c["ts"] for c in self.changes if c["to"] == ALARM]

    @property
    def cleared_at(self) -> list[float]:
        return [c["ts"] for c in self.changes if c["from"] == ALARM]

    def to_dict(self, t0: float) -> dict[str, Any]:
        s = self.spec
        return {
            "spec": {"threshold": s.threshold, "comparison": s.comparison, "period_s": s.period_s,
                     "evaluation_periods": s.evaluation_periods, "datapoints_to_alarm": s.datapoints_to_alarm,
                     "statistic": s.statistic, "treat_missing_data": s.treat_missing_data,
                     "evaluate_low_sample_count_percentile": s.evaluate_low_sample_count_percentile},
            "timeline": [{"t_rel": round(e.end - t0, 3), "ts": e.end, "value": e.value, "breaching": e.breaching,
                          "state": e.state} for e in self.evaluations],
            "changes": [{**c, "t_rel": round(c["ts"] - t0, 3)} for c in self.changes],
            "fired_at_rel": [round(t - t0, 3) for t in self.fired_at],
            "cleared_at_rel": [round(t - t0, 3) for t in self.cleared_at],
            "final_state": self.evaluations[-1].state if self.evaluations else INSUFFICIENT,
        }


def period_starts(start: float, end: float, period: float) -> np.ndarray:
    """Epoch-aligned period starts covering [start, end)."""
    first = math.floor(start / period) * period
    n = max(1, math.ceil((end - first) / period))
    return first + period * np.arange(n)


def _stat(vals: np.ndarray, statistic: str, pct: float | None) -> float:
    if pct is not None:
        return float(np.percentile(vals, pct, method="inverted_cdf"))
    if statistic == "Maximum":
        return float(vals.max())
    if statistic == "Minimum":
        return float(vals.min())
    if statistic == "Average":
        return float(vals.mean())
    if statistic == "Sum":
        return float(vals.sum())
    if statistic == "SampleCount":
        return float(len(vals))
    raise ValueError(f"unknown statistic {statistic}")


def aggregate(spec: AlarmSpec, ts: np.ndarray, values: np.ndarray, start: float, end: float) -> list[Datapoint]:
    """Turn raw samples into one datapoint per period (missing where a period has no samples)."""
    starts = period_starts(start, end, spec.period_s)
    ts = np.asarray(ts, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(ts) & np.isfinite(values)
    ts, values = ts[ok], values[ok]
    idx = np.floor((ts - starts[0]) / spec.period_s).astype(np.int64)
    inside = (idx >= 0) & (idx < len(starts))
    idx, values = idx[inside], values[inside]
    order = np.argsort(idx, kind="stable")
    idx, values = idx[order], values[order]
    bounds = np.searchsorted(idx, np.arange(len(starts) + 1))
    pct = spec.percentile
    need = math.ceil(10.0 / (1.0 - pct / 100.0)) if pct is not None and pct < 100 else 0
    out: list[Datapoint] = []
    for i, s in enumerate(starts.tolist()):
        v = values[bounds[i]:bounds[i + 1]]
        if not len(v):
            out.append(Datapoint(s, None, 0))
            continue
        out.append(Datapoint(s, _stat(v, spec.statistic, pct), len(v), low_sample=len(v) < need))
    return out


def evaluate(spec: AlarmSpec, datapoints: list[Datapoint]) -> AlarmResult:
    """Run the alarm over the datapoints, period by period, from INSUFFICIENT_DATA."""
    cmp = COMPARISONS[spec.comparison]
    res = AlarmResult(spec)
    state = INSUFFICIENT
    ignore_low = spec.percentile is not None and spec.evaluate_low_sample_count_percentile == "ignore"
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    for k, dp in enumerate(datapoints):
        window = datapoints[max(0, k - n + 1): k + 1]
        flags: list[bool | None] = []
        for d in window:
            if d.value is None or (ignore_low and d.low_sample):
                flags.append(None)
            else:
                flags.append(bool(cmp(d.value, spec.threshold)))
        newest_breach = flags[-1]
        if ignore_low and dp.low_sample:
            new = state  # too few samples for the percentile: keep the state
        else:
            tmd = spec.treat_missing_data
            if tmd in ("notBreaching", "breaching"):
                filled = [f if f is not None else (tmd == "breaching") for f in flags]
                # before N periods exist, the absent history counts as missing
                new = ALARM if sum(filled) >= m else OK
            else:
                present = [f for f in flags if f is not None]
                if not present:
                    new = INSUFFICIENT if tmd == "missing" else state
                else:
                    new = ALARM if sum(present) >= m else OK
        end = dp.start + spec.period_s
        if new != state:
            res.changes.append({"ts": end, "from": state, "to": new})
            state = new
        res.evaluations.append(Evaluation(dp.start, end, dp.value, newest_breach, state))
    return res
