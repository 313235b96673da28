"""Latency analyzer: user-facing chat percentiles per phase and memory path, and DynamoDB read p99.

Why two latencies: Locust is closed-loop, so a stalled server shows up as one
slow sample instead of the many requests that should have been sent
(coordinated omission). Records carry ``intended_start``; ``ts - start`` is the
*uncorrected* service time, ``ts - intended_start`` the *corrected* latency a user
would have seen (they are equal for closed-loop users, larger for late open-model
arrivals). Checks use the corrected figure by default. Optionally hdrh's
expected-interval correction (``record_corrected_value``) is shown as a third
variant, labelled ``hdr_corrected``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult
from harness.analyzers.hist import hist_from_us, spectrum, summarize
from harness.analyzers.rundata import RunData
from harness.slo import Slo

MODES = ("full", "cache_only", "stateless", "fallback")


def _stats(us: np.ndarray, interval_us: int = 0) -> dict[str, Any]:
    fin = us[np.isfinite(us)]
    mean = float(fin.mean()) if len(fin) and interval_us == 0 else None
    return summarize(hist_from_us(us, interval_us), mean_us=mean)


class LatencyAnalyzer:
    """p50/p95/p99 per phase and memory_mode (uncorrected and CO-corrected), from HdrHistogram."""

    name = "latency"

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        recs = run.records
        reads = run.events_of("memory_read")
        if not len(recs) and not len(reads):
            res.status = "skipped"
            res.reason = "; ".join(v for k, v in run.missing.items() if k in ("records/records.jsonl",
                                                                           "events.jsonl")) or "no records"
            return res
        res.data["checks_use"] = "corrected" if slo.get("latency", "use_corrected") else "uncorrected"
        if len(recs):
            self._chat(run, slo, res, recs)
        else:
            res.data["chat_skipped"] = run.missing.get("records/records.jsonl", "no request records")
        self._dynamo(run, slo, res, reads)
        return res

    # ------------------------------------------------------------------ chat
    def _chat(self, run: RunData, slo: Slo, res: AnalyzerResult, recs: pd.DataFrame) -> None:
        ts = recs["ts"].to_numpy(dtype=float)
        start = recs["start"].to_numpy(dtype=float)
        intended = recs["intended_start"].to_numpy(dtype=float)
        lat_us = recs["latency_us"].to_numpy(dtype=float)
        unc = (ts - start) * 1e6
        unc = np.where(np.isfinite(unc), unc, lat_us)
        cor = (ts - intended) * 1e6
        cor = np.where(np.isfinite(cor), cor, unc)
        use = cor if slo.get("latency", "use_corrected") else unc
        phase = run.phase_of(np.where(np.isfinite(intended), intended, ts))
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
        status = recs["status"]
        res.data["errors"] = int(((status.fillna(0) != 200) | recs["error"].notna()).sum())
        res.data["timeseries"] = self._timeseries(run, slo, ts, use, mode)

        targets = slo.get("latency", "chat_p99_ms")
        label = res.data["checks_use"]
        for ph, target in targets.items():
            if ph not in by_phase:
                continue
            st = by_phase[ph][label]
            if not st.get("count"):
                continue
            p99 = float(st["p99"])
            res.check(f"{ph}.p99", p99 <= float(target), round(p99, 3), f"<= {float(target):g} ms",
                      f"user-facing chat p99 ({label}, n={st['count']}, p50={st['p50']} ms, "
                      f"p95={st['p95']} ms)")

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
    def _dynamo(self, run: RunData, slo: Slo, res: AnalyzerResult, reads: pd.DataFrame) -> None:
        if not len(reads):
            res.data["dynamodb_read_skipped"] = run.missing.get("events.jsonl", "no memory_read events")
            return
        r = reads[(reads["store"] == "dynamodb") & (reads["outcome"] != "circuit_open")]
        lat = pd.to_numeric(r["latency_ms"], errors="coerce").to_numpy(dtype=float) * 1000.0
        phase = run.phase_of(r["ts"].to_numpy(dtype=float))
        out: dict[str, Any] = {}
        for ph in sorted(set(phase.tolist())):
            out[ph or "outside"] = _stats(lat[phase == ph])
        res.data["dynamodb_read"] = out
        base = out.get("baseline") if run.phases else out.get("outside")
        target = float(slo.get("latency", "dynamodb_read_p99_ms"))
        if base and base.get("count"):
            p99 = float(base["p99"])
            res.check("baseline.dynamodb_read.p99", p99 < target, round(p99, 3), f"< {target:g} ms",
                      f"DynamoDB memory_read latency in baseline, client side (n={base['count']}, "
                      f"p50={base['p50']} ms)")
