"""The typed report schema: what each analyzer hands the reports, beside its checks.

Why a schema and not the analyzers' ``data`` dicts: ``data`` is the JSON
contract of ``verdict.json`` (docs/contracts.md) and grows with every analyzer;
a report reading it by string keys breaks silently when a key is renamed, and
shows a blank where it should fail. Each analyzer fills one of these frozen
dataclasses from the values it computed, the reports (summary.md, report.html,
the plots, the Chaos Toolkit journal) import them, and mypy checks every field
a report uses. This module imports nothing of the harness, so any analyzer or
report can import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


# ------------------------------------------------------------------ requests
@dataclass(frozen=True)
class PhaseCount:
    """Requests and failed turns in one phase, as the client recorded them."""

    phase: str
    requests: int
    failed: int


@dataclass(frozen=True)
class RequestsSection:
    phases: tuple[PhaseCount, ...] = ()


# ------------------------------------------------------------------- latency
@dataclass(frozen=True)
class Quantiles:
    """One HdrHistogram summary in milliseconds (``None`` where there were no samples)."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, summary: dict[str, Any]) -> Quantiles:
        """From :func:`harness.analyzers.hist.summarize`'s output (the one place its keys are read)."""
        return cls(int(summary.get("count", 0)), _num(summary.get("p50")), _num(summary.get("p95")),
                   _num(summary.get("p99")))


@dataclass(frozen=True)
class PhaseLatency:
    """User-facing latency of one phase (and memory mode, for the per-mode table)."""

    phase: str
    corrected: Quantiles
    uncorrected: Quantiles
    mode: str = ""
    error_share: float = 0.0


@dataclass(frozen=True)
class OpLatency:
    """DynamoDB call latency of one operation in one phase."""

    phase: str
    op: str
    latency: Quantiles


@dataclass(frozen=True)
class Timeseries:
    """Latency and memory modes in equal time bins over the run, for the plots."""

    t_rel: tuple[float, ...]
    bin_s: float
    p50_ms: tuple[float | None, ...]
    p99_ms: tuple[float | None, ...]
    modes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LatencySection:
    checks_use: str = "corrected"
    phases: tuple[PhaseLatency, ...] = ()
    phase_modes: tuple[PhaseLatency, ...] = ()
    dynamodb_source: str = ""
    dynamodb: tuple[OpLatency, ...] = ()
    notes: tuple[str, ...] = ()
    ci_method: str = ""
    timeseries: Timeseries | None = None
    spectra: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)

    def chosen(self, p: PhaseLatency) -> Quantiles:
        """The summary the checks judge (CO-corrected or not, per the SLO)."""
        return p.corrected if self.checks_use == "corrected" else p.uncorrected


# ------------------------------------------------------------------- breaker
@dataclass(frozen=True)
class Transition:
    t_rel: float
    from_state: str
    to_state: str


@dataclass(frozen=True)
class Probe:
    t_rel: float
    outcome: str


@dataclass(frozen=True)
class BreakerSection:
    transitions: tuple[Transition, ...] = ()
    probes: tuple[Probe, ...] = ()
    final_state: str = "closed"
    evidence: str = ""
    disagreement: str = ""  # where the service's own log and the wire tell different stories


# -------------------------------------------------------------------- alarms
@dataclass(frozen=True)
class AlarmChange:
    t_rel: float
    from_state: str
    to_state: str


@dataclass(frozen=True)
class AlarmTrack:
    name: str
    fired_at_rel: tuple[float, ...]
    cleared_at_rel: tuple[float, ...]
    changes: tuple[AlarmChange, ...]
    final_state: str


@dataclass(frozen=True)
class AlarmsSection:
    period_s: float
    alarms: tuple[AlarmTrack, ...] = ()
    cannot_fire: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- durability
@dataclass(frozen=True)
class DurabilitySection:
    acknowledged: int = 0
    lost: int = 0
    said_not_persisted: int = 0
    arrived_later: int = 0
    never_arrived: int = 0
    drain: str = ""  # how the bounded wait for the service's write-behind queue ended


# ---------------------------------------------------------------- partitions
@dataclass(frozen=True)
class PartitionsSection:
    hot: bool | None = None  # None: no DynamoDB memory events to judge skew from
    hot_reasons: tuple[str, ...] = ()
    per_partition_requests: tuple[int, ...] = ()


Section = RequestsSection | LatencySection | BreakerSection | AlarmsSection | DurabilitySection | PartitionsSection
"""What :attr:`AnalyzerResult.section` may hold."""


# ----------------------------------------------------------------- the run
@dataclass(frozen=True)
class RunInfo:
    """What the reports show of ``run.json``: the injected fault and the run's window."""

    t0: float = 0.0
    t_end: float = 0.0
    fault_kind: str = ""
    faults: tuple[str, ...] = ()
    fault_start: float | None = None
    fault_end: float | None = None
    launched_at: float | None = None
    ended_at: float | None = None

    @property
    def fault_window_rel(self) -> tuple[float, float] | None:
        """The fault window in seconds since the run's start, for shading plots."""
        if self.fault_start is None:
            return None
        end = self.fault_end if self.fault_end is not None else self.t_end
        return self.fault_start - self.t0, end - self.t0

    @classmethod
    def of(cls, run: dict[str, Any], t0: float, t_end: float) -> RunInfo:
        """From ``run.json`` as docs/contracts.md specifies it (``fault.kind``, ``fault.faults``, ...)."""
        f = run.get("fault")
        f = f if isinstance(f, dict) else {}
        faults = f.get("faults")
        return cls(t0=t0, t_end=t_end, fault_kind=str(f.get("kind") or ""),
                   faults=tuple(str(x) for x in faults) if isinstance(faults, list) else (),
                   fault_start=_num(f.get("start")), fault_end=_num(f.get("end")),
                   launched_at=_num(run.get("launched_at")), ended_at=_num(run.get("ended_at")))
