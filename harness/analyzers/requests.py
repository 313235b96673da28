"""Request outcomes: every turn the simulated users sent either got its answer or failed.

Why this analyzer comes first: the design promises "never block the user from
getting a response", and a service that refuses connections answers fast, so
if failures only sat in a counter a dead service would show a fine p99 and no
wrong answers. A turn fails when the transport failed (including requests
still in flight when load stopped), the reply was not 2xx (101 for a WebSocket
upgrade), a WebSocket exchange errored, or a chat reply lacks its contract
fields. A wrong *answer* on a 200 is the correctness analyzer's business.
Requests before the first phase count in the baseline, and after the last in
the recovery, so none drop out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harness.analyzers.base import AnalyzerResult, Input
from harness.analyzers.rundata import RunData
from harness.analyzers.sections import PhaseCount, RequestsSection
from harness.records import RECORDS_FILE
from harness.slo import Slo

TURN_NAMES = ("POST /chat", "WS /ws message")


@dataclass(frozen=True)
class Outcomes:
    """Counts of one group of requests, by why they failed."""

    requests: int
    failed: int
    transport: int
    timeout: int
    http_status: int
    contract: int

    @property
    def share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def classify(recs: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns ``failed``, ``transport``, ``timeout``, ``http_status``, ``contract`` per record."""
    status = pd.to_numeric(recs["status"], errors="coerce")
    error = recs["error"].astype("string")
    verdict = recs["verdict"].astype("string").fillna("")
    ok_status = status.between(200, 299) | (status == 101)
    wrong_answer = (verdict == "wrong") & ok_status  # judged by correctness, not a failed request
    has_error = error.notna() & ~wrong_answer
    low = error.fillna("").str.lower()
    timeout = has_error & (low.str.contains("timeout", regex=False) | low.str.contains("timed out", regex=False)
                           | low.str.contains("in flight", regex=False))
    is_turn = recs["name"].isin(TURN_NAMES).to_numpy()
    contract = pd.Series(is_turn, index=recs.index) & ok_status & recs["memory_mode"].isna() & ~has_error
    bad_status = ~ok_status & status.notna()
    transport = has_error & ~timeout & ~bad_status
    failed = has_error | bad_status | contract | (status.isna() & ~has_error & (verdict == "error"))
    return pd.DataFrame({"failed": failed.fillna(True).astype(bool), "transport": transport.fillna(False),
                         "timeout": timeout.fillna(False), "http_status": bad_status.fillna(False),
                         "contract": contract.fillna(False)}, index=recs.index)


def _count(flags: pd.DataFrame) -> Outcomes:
    return Outcomes(len(flags), int(flags["failed"].sum()), int(flags["transport"].sum()),
                    int(flags["timeout"].sum()), int(flags["http_status"].sum()), int(flags["contract"].sum()))


def onset_grace_s(slo: Slo) -> float:
    """How long a baseline request may have been in flight at the fault's onset and still be the fault's."""
    return float(slo.get("latency", "chat_p99_ms")["baseline"]) / 1000.0


def run_phase(run: RunData, ts: np.ndarray) -> np.ndarray:
    """Phase of each timestamp, with requests before the first phase in the first, after the last in the last."""
    return _clamped(run, run.phase_of(ts), ts)


def records_phase(run: RunData, slo: Slo) -> np.ndarray:
    """Phase of each of ``run.records`` as every analyzer judges it (``RunData.record_phases``), clamped likewise.

    A baseline request the fault's onset caught in flight, younger than the
    SLO's baseline chat p99 target, is the fault phase's.
    """
    recs = run.records
    start = recs["intended_start"].fillna(recs["ts"]).to_numpy(dtype=float)
    return _clamped(run, run.record_phases(onset_grace_s(slo)), start)


def _clamped(run: RunData, phase: np.ndarray, ts: np.ndarray) -> np.ndarray:
    if run.phases:
        first, last = run.phases[0], run.phases[-1]
        phase = np.where((phase == "") & (ts < float(first["start"])), str(first["name"]), phase)
        phase = np.where((phase == "") & (ts >= float(last["end"])), str(last["name"]), phase)
    return phase


def _examples(recs: pd.DataFrame, flags: pd.DataFrame, t0: float) -> str:
    bad = recs[flags["failed"].to_numpy()].head(3)
    out = []
    for r in bad.to_dict("records"):
        why = r.get("error") or (f"HTTP {r.get('status')}" if r.get("status") else "no debug_metadata")
        out.append(f"{r.get('name')} at t+{float(r['ts']) - t0:.3f}s: {str(why)[:100]}")
    return "; ".join(out)


class RequestsAnalyzer:
    """Share of failed turns per phase and per scenario, against ``requests.max_failed_share``."""

    name = "requests"
    requires: tuple[Input, ...] = (f"records/{RECORDS_FILE}",)
    missing_means = ""

    def judge_without(self, run: RunData, slo: Slo, res: AnalyzerResult) -> None:
        """An early abort fails the run even with no records at all: ``run.json`` says why the load was stopped."""
        self._early_abort(run, res)

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult:
        res = AnalyzerResult(self.name)
        self._early_abort(run, res)
        recs = run.records
        if not len(recs):
            return res.skip(f"{RECORDS_FILE} holds no requests: the load generator sent nothing")
        flags = classify(recs)
        phase = records_phase(run, slo)
        scen = recs["scenario"].fillna("none").astype(str).to_numpy()
        res.data["overall"] = asdict(_count(flags))
        limits = slo.get("requests", "max_failed_share")
        names = [str(p["name"]) for p in run.phases] or ["all"]
        by_phase: dict[str, dict[str, object]] = {}
        counts: list[PhaseCount] = []
        for ph in names:
            m = phase == ph if ph != "all" else np.ones(len(recs), dtype=bool)
            limit = float(limits.get(ph, 0.0))
            by_phase[ph] = self._judge(res, f"{ph}.failed", recs[m], flags[m], limit, run.t0,
                                       f"{ph} phase")
            o = _count(flags[m])
            counts.append(PhaseCount(ph, o.requests, o.failed))
            scenarios = sorted(set(scen[m].tolist()))
            if len(scenarios) > 1:
                for sc in scenarios:
                    ms = m & (scen == sc)
                    self._judge(res, f"{ph}.{sc}.failed", recs[ms], flags[ms], limit, run.t0,
                                f"{ph} phase, scenario {sc}")
        res.data["by_phase"] = by_phase
        res.section = RequestsSection(tuple(counts))
        return res

    @staticmethod
    def _early_abort(run: RunData, res: AnalyzerResult) -> None:
        aborted = run.run.get("aborted")
        if isinstance(aborted, dict) and aborted.get("reason"):
            res.check("early_abort", False, aborted.get("requests"), "the target answers in the baseline",
                      str(aborted["reason"]))

    def _judge(self, res: AnalyzerResult, name: str, recs: pd.DataFrame, flags: pd.DataFrame,
               limit: float, t0: float, where: str) -> dict[str, object]:
        o = _count(flags)
        target = "no failed turns" if limit == 0 else f"<= {limit:.2%} failed turns"
        if not o.requests:
            res.inconclusive(name, 0, target, f"no requests in the {where}: nothing to judge")
        else:
            detail = (f"{o.failed} of {o.requests} failed in the {where} (transport {o.transport}, "
                      f"timeout {o.timeout}, non-2xx {o.http_status}, missing contract fields {o.contract})")
            if o.failed:
                detail += "; e.g. " + _examples(recs, flags, t0)
            res.check(name, o.share <= limit, o.failed, target, detail)
        return {**asdict(o), "share": round(o.share, 6)}
