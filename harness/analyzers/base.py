"""The one small interface every analyzer implements, and the verdict they add up to.

Why a shared shape: the reports (HTML, Markdown, JSON, JUnit) and the chaos
runner's exit code must not know anything analyzer-specific. Each analyzer turns
the run directory into a list of :class:`Check` (pass/fail with what was measured
against what target) plus a free-form ``data`` dict of raw results; the reports
render checks generically and pick plot series out of ``data`` by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from harness.analyzers.rundata import RunData
    from harness.slo import Slo

Status = Literal["ok", "skipped", "error"]


@dataclass
class Check:
    """One pass/fail judgement, e.g. ``latency.fault.p99`` measured 412 ms against ``<= 1000 ms``."""

    name: str
    passed: bool
    measured: Any
    target: str
    detail: str = ""
    analyzer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "analyzer": self.analyzer,
            "passed": bool(self.passed),
            "measured": self.measured,
            "target": self.target,
            "detail": self.detail,
        }


@dataclass
class AnalyzerResult:
    """What one analyzer found: its checks plus raw data for reports.

    ``status`` is ``skipped`` (with ``reason``) when the run lacks the inputs the
    analyzer needs -- a missing file is a property of the run, not a crash.
    """

    name: str
    status: Status = "ok"
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, passed: bool, measured: Any, target: str, detail: str = "") -> Check:
        """Append a check named ``<analyzer>.<name>`` and return it."""
        c = Check(f"{self.name}.{name}", bool(passed), measured, target, detail, analyzer=self.name)
        self.checks.append(c)
        return c

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
            **self.data,
        }


@dataclass
class Verdict:
    """All analyzers' results for one run; ``passed`` drives the exit code (0 pass / 1 fail)."""

    run_id: str
    variant: str
    backends: dict[str, Any]
    results: dict[str, AnalyzerResult]
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def checks(self) -> list[Check]:
        return [c for r in self.results.values() for c in r.checks]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        """The contracts §6 shape of verdict.json."""
        return {
            "run_id": self.run_id,
            "variant": self.variant,
            "backends": self.backends,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "analyzers": {name: r.to_dict() for name, r in self.results.items()},
        }


class Analyzer(Protocol):
    """An analyzer: a ``name`` and a pure function of the loaded run and the SLO."""

    name: str

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult: ...


def fmt_ts(ts: float, t0: float) -> str:
    """Quote a timestamp both relative to run start and absolute, for deviation messages."""
    return f"t+{ts - t0:.3f}s (epoch {ts:.3f})"
