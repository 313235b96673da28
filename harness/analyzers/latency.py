"""Latency analyzer: user-facing chat percentiles per phase and memory path, and DynamoDB call p99.

Why two latencies: Locust is closed-loop, so a stalled server shows up as one
slow sample instead of the many requests that should have been sent
(coordinated omission). ``ts - start`` is the uncorrected service time,
``ts - intended_start`` the corrected latency a user would have seen; checks use
the corrected one, and hdrh's expected-interval correction can be shown as a
third variant (``hdr_corrected``). Failed requests stay in, so a fast refusal
cannot make a dead service look quick, and the failed share is reported beside
every percentile. Each p99 check carries binomial order-statistic bounds
(:mod:`quantile_ci`) and is inconclusive when its sample cannot decide it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.alarms import alarm_spec, min_alarm_s
from harness.analyzers.base import AnalyzerResult, Input
from harness.analyzers.dynamo_calls import DynamoCalls, dynamodb_calls
from harness.analyzers.hist import hist_from_us, spectrum, summarize
from harness.analyzers.quantile_ci import METHOD, judge_quantile
from harness.analyzers.requests import classify, records_phase, run_phase
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import LatencySection, OpLatency, PhaseLatency, Quantiles, Timeseries
from harness.records import RECORDS_FILE
from harness.slo import Slo

MODES = ("full", "cache_only", "stateless", "fallback")


def _stats(us: np.ndarray, interval_us: int = 0) -> dict[str, Any]:
    fin = us[np.isfinite(us)]
    mean = float(fin.mean()) if len(fin) and interval_us == 0 else None
    return summarize(hist_from_us(us, interval_us), mean_us=mean)


class LatencyAnalyzer:
    """p50/p95/p99 per phase and memory_mode (uncorrected and CO-corrected), from HdrHistogram."""

    name = "latency"
    requires: tuple[Input, ...] = (f"records/{RECORDS_FILE}",)
    missing_means = ""

    def judge_without(self, run: RunData, slo: Slo, res: AnalyzerResult) -> None:
        """Without the load's records the DynamoDB calls' latency is still known, from the wire tap or the events."""
        self._dynamo(run, slo, res, dynamodb_calls(run))

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        recs = run.records
        calls = dynamodb_calls(run)  # parsed once: the wire frame of a big run is not cheap
        if not len(recs):
            res.skip(f"{RECORDS_FILE} holds no requests")
            self._dynamo(run, slo, res, calls)
            return res
        res.data["checks_use"] = "corrected" if slo.get("latency", "use_corrected") else "uncorrected"
        chat = self._chat(run, slo, res, recs)
        dynamo = self._dynamo(run, slo, res, calls)
        self._sub_timeout(run, slo, res, recs, calls)
        notes = tuple(str(res.data[k]) for k in ("sub_timeout_note", "dynamodb_error_note") if res.data.get(k))
        res.section = replace(chat, dynamodb_source=calls.source, dynamodb=dynamo, notes=notes)
        return res

    @classmethod
    def _sub_timeout(cls, run: RunData, slo: Slo, res: AnalyzerResult, recs: pd.DataFrame,
                     calls: DynamoCalls) -> None:
        """Call out a DynamoDB latency under the breaker's timeout: the users pay it, the breaker never sees it."""
        fault = (run.fault or {}).get("dynamodb")
        timeout_ms = run.breaker_config.timeout_ms
        late = float((fault or {}).get("latency_ms") or 0.0)
        if not 0 < late < timeout_ms or (fault or {}).get("down") or (fault or {}).get("blackhole"):
            return
        phase = records_phase(run, slo)
        turns = int((phase == "fault").sum())
        per_turn = dyn_p99 = None
        if calls.frame is not None and len(calls.frame) and turns:
            in_fault = run_phase(run, calls.frame["start"].to_numpy(dtype=float)) == "fault"
            per_turn = float(in_fault.sum()) / turns
            if in_fault.any():
                dyn_p99 = float(np.percentile(calls.frame["latency_ms"].to_numpy(dtype=float)[in_fault], 99))
        p99 = {ph: (res.data.get("by_phase", {}).get(ph, {}).get("corrected") or {}).get("p99")
               for ph in ("baseline", "fault")}
        base, during = p99["baseline"], p99["fault"]
        rise = None if base is None or during is None else round(float(during) - float(base), 1)
        res.data["sub_timeout"] = {"latency_ms": late, "timeout_ms": timeout_ms, "dynamodb_calls_per_turn":
                                   None if per_turn is None else round(per_turn, 2), "p99_rise_ms": rise,
                                   "dynamodb_p99_ms": None if dyn_p99 is None else round(dyn_p99, 1)}
        expected = "" if per_turn is None else f" x {per_turn:.2f} DynamoDB calls per turn = ~{late * per_turn:.0f} ms"
        res.data["sub_timeout_note"] = (
            f"DynamoDB answered {late:g} ms late, under the breaker's {timeout_ms:g} ms timeout: the breaker "
            f"cannot see it, every turn that calls DynamoDB waits for it ({late:g} ms{expected}); the chat p99 "
            f"rose by {rise} ms from the baseline. Only the DynamoDB p99 alarm can catch this"
            + cls._alarm_words(slo, dyn_p99) + ".")

    @staticmethod
    def _alarm_words(slo: Slo, dyn_p99: float | None) -> str:
        """What the design's DynamoDB p99 alarm makes of the fault phase's calls (its own analyzer times it)."""
        if dyn_p99 is None:
            return ""
        spec = alarm_spec(slo, "dynamodb_latency", float(slo.get("alarms", "period_s")))
        if dyn_p99 <= spec.threshold:
            return (f": the fault phase's DynamoDB p99 was {dyn_p99:.0f} ms, under its {spec.threshold:g} ms, "
                    "so it would not")
        return (f": the fault phase's DynamoDB p99 was {dyn_p99:.0f} ms, over its {spec.threshold:g} ms, so it fires "
                f"once this lasts {spec.datapoints_to_alarm} periods ({min_alarm_s(spec) / 60.0:g} min at the "
                "design's timings; see the alarms section)")

    # ------------------------------------------------------------------ chat
    def _chat(self, run: RunData, slo: Slo, res: AnalyzerResult, recs: pd.DataFrame) -> LatencySection:
        ts = recs["ts"].to_numpy(dtype=float)
        start = recs["start"].to_numpy(dtype=float)
        intended = recs["intended_start"].to_numpy(dtype=float)
        lat_us = recs["latency_us"].to_numpy(dtype=float)
        unc = (ts - start) * 1e6
        unc = np.where(np.isfinite(unc), unc, lat_us)
        cor = (ts - intended) * 1e6
        cor = np.where(np.isfinite(cor), cor, unc)
        use = cor if slo.get("latency", "use_corrected") else unc
        phase = records_phase(run, slo)
        mode = recs["memory_mode"].fillna("none").astype(str).to_numpy()
        interval_us = int(float(slo.get("latency", "expected_interval_ms")) * 1000)

        def block(mask: np.ndarray) -> dict[str, Any]:
            d = {"uncorrected": _stats(unc[mask]), "corrected": _stats(cor[mask])}
            if interval_us > 0:
                d["hdr_corrected"] = _stats(unc[mask], interval_us)
            return d

        allmask = np.ones(len(use), dtype=bool)
        res.data["overall"] = block(allmask)
        by_phase: dict[str, Any] = {}
        by_phase_mode: dict[str, Any] = {}
        spectra: dict[str, Any] = {}
        phase_names = [str(p["name"]) for p in run.phases] or [""]
        for ph in phase_names:
            m = phase == ph if ph else allmask
            if not m.any():
                continue
            key = ph or "all"
            by_phase[key] = block(m)
            spectra[key] = spectrum(hist_from_us(use[m]))
            by_phase_mode[key] = {md: block(m & (mode == md)) for md in sorted(set(mode[m].tolist()))}
        res.data["by_phase"] = by_phase
        res.data["by_mode"] = {md: block(mode == md) for md in sorted(set(mode.tolist()))}
        res.data["by_phase_mode"] = by_phase_mode
        res.data["spectrum"] = spectra
        ms = run.missed_starts
        res.data["missed_starts"] = len(ms)
        series = res.data["timeseries"] = self._timeseries(run, slo, ts, use, mode)

        failed = classify(recs)["failed"].to_numpy()
        errors = res.data["error_share"] = {
            ph: round(float(failed[phase == ph].mean()), 6) for ph in by_phase if ph != "all" and (phase == ph).any()
        }
        res.data["ci_method"] = METHOD
        conf = float(slo.get("latency", "confidence"))
        label = "corrected" if slo.get("latency", "use_corrected") else "uncorrected"
        self._judge_chat(res, slo, phase, use, failed, conf, label)
        return _section(label, by_phase, by_phase_mode, errors, series, spectra)

    @staticmethod
    def _judge_chat(res: AnalyzerResult, slo: Slo, phase: np.ndarray, use: np.ndarray, failed: np.ndarray,
                    conf: float, label: str) -> None:
        for ph, target in slo.get("latency", "chat_p99_ms").items():
            m = phase == ph
            values = use[m] / 1000.0
            name, goal = f"{ph}.p99", f"<= {float(target):g} ms"
            if not m.any():
                res.inconclusive(name, None, goal, f"no requests in the {ph} phase")
                continue
            decision, b, why = judge_quantile(values, 0.99, float(target), conf)
            err = float(failed[m].mean())
            detail = (f"user-facing chat p99 ({label}, failed requests included at their time to failure; "
                      f"{err:.2%} of these {b.n} failed), {b.describe()}")
            res.judge(name, decision, None if b.estimate is None else round(b.estimate, 3), goal, detail, why)

    def _timeseries(self, run: RunData, slo: Slo, ts: np.ndarray, use: np.ndarray,
                    mode: np.ndarray) -> dict[str, Any]:
        t0, t1 = run.t0, run.t_end
        nb = max(1, int(slo.get("latency", "timeseries_bins")))
        if not t1 > t0:
            t1 = t0 + 1.0
        width = (t1 - t0) / nb
        idx = np.clip(((ts - t0) // width).astype(np.int64, copy=False), 0, nb - 1)
        ok = np.isfinite(ts) & np.isfinite(use)
        df = pd.DataFrame({"b": idx[ok], "v": use[ok] / 1000.0, "m": mode[ok]})
        g = df.groupby("b")["v"]
        p50 = g.quantile(0.5)
        p99 = g.quantile(0.99)
        counts = df.groupby(["b", "m"]).size().unstack(fill_value=0)
        bins = list(range(nb))
        out: dict[str, Any] = {
            "t_rel": [round(b * width + width / 2, 3) for b in bins],
            "bin_s": width,
            "p50_ms": [None if b not in p50.index else round(float(p50[b]), 3) for b in bins],
            "p99_ms": [None if b not in p99.index else round(float(p99[b]), 3) for b in bins],
            "modes": {str(m): [int(counts[m].get(b, 0)) for b in bins] for m in counts.columns},
        }
        return out

    # ---------------------------------------------------------------- dynamo
    @staticmethod
    def _sdk_attempts(run: RunData) -> int | None:
        """How many attempts the service's DynamoDB SDK makes per call, from ``run.json`` (None: unknown)."""
        client = run.run.get("service_dynamodb_client")
        retries = client.get("retries") if isinstance(client, dict) else None
        if not isinstance(retries, dict):
            return None
        if isinstance(retries.get("total_max_attempts"), int):
            return int(retries["total_max_attempts"])
        if isinstance(retries.get("max_attempts"), int):  # botocore: retries after the first attempt
            return int(retries["max_attempts"]) + 1
        return None

    @classmethod
    def _dynamo_errors(cls, run: RunData, frame: pd.DataFrame, res: AnalyzerResult) -> None:
        """Answered-with-an-error calls per phase, operation and status: throttling shows here as 400s.

        Whether the user waited for SDK retries of them depends on the service's retry
        policy, which ``run.json`` records; the note says which it was.
        """
        bad = frame[~frame["ok"] & frame["status"].notna()] if "status" in frame.columns else frame.iloc[:0]
        if not len(bad):
            return
        phase = run_phase(run, bad["ts"].to_numpy(dtype=float))
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for ph, op, status in zip(phase, bad["op"].astype(str), bad["status"], strict=True):
            by_op = counts.setdefault(ph or "outside", {}).setdefault(op, {})
            key = str(int(status)) if status == status else "none"
            by_op[key] = by_op.get(key, 0) + 1
        res.data["dynamodb_error_answers"] = counts
        attempts = cls._sdk_attempts(run)
        res.data["dynamodb_sdk_attempts"] = attempts
        head = (f"{len(bad)} DynamoDB calls were answered with an error status "
                "(throttling is 400 ProvisionedThroughputExceededException)")
        if attempts == 1:
            tail = ("the service's SDK makes one attempt per call (run.json), so none was retried "
                    "underneath: each error reached the service's own code (breaker, outbox, fallback)")
        elif attempts is None:
            tail = "the service's SDK retry policy is unknown (not in run.json)"
        else:
            tail = (f"the service's SDK makes up to {attempts} attempts per call (run.json), so each "
                    "error answer is a retry the user waited for, inside the call's latency")
        res.data["dynamodb_error_note"] = f"{head}; {tail}"

    def _dynamo(self, run: RunData, slo: Slo, res: AnalyzerResult, calls: DynamoCalls) -> tuple[OpLatency, ...]:
        """p99 of every DynamoDB call per operation and phase, as CloudWatch reports SuccessfulRequestLatency."""
        res.data["dynamodb_source"] = calls.source
        if calls.frame is None or not len(calls.frame):
            res.data["dynamodb_skipped"] = calls.why_missing or "no DynamoDB calls recorded"
            return ()
        self._dynamo_errors(run, calls.frame, res)
        df = calls.frame[calls.frame["ok"]]
        phase = run_phase(run, df["ts"].to_numpy(dtype=float))
        ops = df["op"].astype(str).to_numpy()
        lat_us = df["latency_ms"].to_numpy(dtype=float) * 1000.0
        out: dict[str, Any] = {}
        for ph in sorted(set(phase.tolist())):
            out[ph or "outside"] = {op: _stats(lat_us[(phase == ph) & (ops == op)])
                                    for op in sorted(set(ops[phase == ph].tolist()))}
        res.data["dynamodb"] = out
        rows = tuple(OpLatency(ph, op, Quantiles.of(st)) for ph, ops_ in out.items() for op, st in ops_.items())
        target = float(slo.get("latency", "dynamodb_read_p99_ms"))
        conf = float(slo.get("latency", "confidence"))
        base = phase == ("baseline" if run.phases else "")
        for op in sorted(set(ops[base].tolist())):
            decision, b, why = judge_quantile(lat_us[base & (ops == op)] / 1000.0, 0.99, target, conf, strict=True)
            res.judge(f"dynamodb.baseline.{op}.p99", decision, None if b.estimate is None else round(b.estimate, 3),
                      f"< {target:g} ms", f"DynamoDB {op} latency in the baseline ({calls.source}), "
                      f"{b.describe()}", why)
        return rows


def _section(use: str, by_phase: dict[str, Any], by_phase_mode: dict[str, Any], errors: dict[str, float],
             ts: dict[str, Any], spectra: dict[str, list[list[float]]]) -> LatencySection:
    """The typed view of the chat latency the reports draw (the JSON keeps the full blocks)."""
    def row(ph: str, b: dict[str, Any], mode: str = "") -> PhaseLatency:
        return PhaseLatency(ph, Quantiles.of(b["corrected"]), Quantiles.of(b["uncorrected"]), mode,
                            float(errors.get(ph, 0.0)))

    series = Timeseries(tuple(ts["t_rel"]), float(ts["bin_s"]), tuple(ts["p50_ms"]), tuple(ts["p99_ms"]),
                        {m: tuple(v) for m, v in ts["modes"].items()})
    return LatencySection(
        checks_use=use, phases=tuple(row(ph, b) for ph, b in by_phase.items()),
        phase_modes=tuple(row(ph, b, md) for ph, modes in by_phase_mode.items() for md, b in modes.items()),
        ci_method=METHOD, timeseries=series,
        spectra={ph: tuple((float(p), float(v)) for p, v in pts) for ph, pts in spectra.items()})
