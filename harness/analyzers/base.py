"""The one small interface every analyzer implements, and the verdict they add up to.

Why three outcomes: a chaos harness exists to say *no*, and "nothing was
measured" must never read as "nothing went wrong". Every :class:`Check` is
``pass`` (the evidence shows the target holds), ``fail`` (the evidence shows it
does not) or ``inconclusive`` (the evidence is missing or too thin to decide;
``reason`` says why and how much more would decide it). An analyzer whose
inputs are absent never silently vanishes from the verdict: it is listed as
skipped, with one inconclusive ``<name>.evidence`` check whenever the run
claims something those inputs would show.

The verdict is ``fail`` if any check fails, else ``inconclusive`` if any
*required* check is inconclusive, else ``pass``. The SLO's ``verdict.required``
patterns name the required checks; ``verdict.optional`` ones are reported but
never decide the verdict (for a service without an event log, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from harness.analyzers.sections import RunInfo, Section

if TYPE_CHECKING:
    from harness.analyzers.rundata import RunData
    from harness.slo import Slo

Status = Literal["ok", "skipped", "error"]
Outcome = Literal["pass", "fail", "inconclusive"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "inconclusive")
EXIT_CODES: dict[Outcome, int] = {"pass": 0, "fail": 1, "inconclusive": 3}
S = TypeVar("S")


@dataclass
class Check:
    """One judgement, e.g. ``latency.fault.p99`` measured 412 ms against ``<= 1000 ms``."""

    name: str
    outcome: Outcome
    measured: Any
    target: str
    detail: str = ""
    analyzer: str = ""
    reason: str = ""
    required: bool = False
    optional: bool = False  # reported, never decides the verdict

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def failed(self) -> bool:
        return self.outcome == "fail"

    @property
    def inconclusive(self) -> bool:
        return self.outcome == "inconclusive"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "analyzer": self.analyzer,
            "outcome": self.outcome,
            "passed": self.passed,
            "required": self.required,
            "optional": self.optional,
            "measured": self.measured,
            "target": self.target,
            "detail": self.detail,
            "reason": self.reason,
        }


@dataclass
class AnalyzerResult:
    """What one analyzer found: its checks plus raw data for reports.

    ``status`` is ``skipped`` (with ``reason``) when the run lacks the inputs the
    analyzer needs -- a missing file is a property of the run, not a crash --
    and the analyzer's ``evidence`` check is then inconclusive (unless nothing
    the run claims rests on those inputs: see :class:`ConditionalEvidence`).
    """

    name: str
    status: Status = "ok"
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # verdict.json's analyzer block (the JSON contract)
    section: Section | None = None  # what the reports show (harness.analyzers.sections)

    def check(self, name: str, passed: bool, measured: Any, target: str, detail: str = "") -> Check:
        """Append a decided check named ``<analyzer>.<name>`` and return it."""
        return self.judge(name, "pass" if passed else "fail", measured, target, detail)

    def judge(self, name: str, outcome: Outcome, measured: Any, target: str, detail: str = "",
              reason: str = "") -> Check:
        """Append a check with an explicit outcome (``reason`` explains an inconclusive one)."""
        c = Check(f"{self.name}.{name}", outcome, measured, target, detail, analyzer=self.name, reason=reason)
        self.checks.append(c)
        return c

    def inconclusive(self, name: str, measured: Any, target: str, reason: str, detail: str = "") -> Check:
        """Append an undecided check: the evidence does not settle it; ``reason`` says what would."""
        return self.judge(name, "inconclusive", measured, target, detail, reason)

    def skip(self, reason: str, *, evidence: bool = True) -> AnalyzerResult:
        """Mark the analyzer skipped and record an inconclusive ``evidence`` check saying why.

        ``evidence=False`` records the skip alone: nothing the run claims rests on what is missing.
        """
        self.status, self.reason = "skipped", reason
        if evidence:
            self.inconclusive("evidence", None, "inputs present", reason)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
            **self.data,
        }


def matches(name: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """True when ``name`` matches any glob in ``patterns`` (``*`` crosses dots)."""
    return any(fnmatchcase(name, p) for p in patterns)


@dataclass
class Verdict:
    """All analyzers' results for one run, and the one outcome they add up to."""

    run_id: str
    variant: str
    backends: dict[str, Any]
    results: dict[str, AnalyzerResult]
    run: dict[str, Any] = field(default_factory=dict)
    info: RunInfo = field(default_factory=RunInfo)

    def section(self, kind: type[S]) -> S | None:
        """The typed report section of that kind, when an analyzer that produces it ran."""
        for r in self.results.values():
            if r.status == "ok" and isinstance(r.section, kind):
                return r.section
        return None

    @property
    def checks(self) -> list[Check]:
        return [c for r in self.results.values() for c in r.checks]

    @property
    def outcome(self) -> Outcome:
        checks = self.checks
        if any(c.failed and not c.optional for c in checks):
            return "fail"
        if any(c.inconclusive and c.required for c in checks):
            return "inconclusive"
        if not any(c.passed and c.required for c in checks):
            return "inconclusive"  # nothing required was decided: no evidence, no pass
        return "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def failed_checks(self) -> list[Check]:
        """Failed checks that decide the verdict (optional ones are only reported)."""
        return [c for c in self.checks if c.failed and not c.optional]

    @property
    def inconclusive_checks(self) -> list[Check]:
        return [c for c in self.checks if c.inconclusive]

    @property
    def skipped(self) -> dict[str, str]:
        """Analyzers that could not run, with why."""
        return {n: r.reason for n, r in self.results.items() if r.status == "skipped"}

    def headline(self) -> str:
        """One line: the outcome and what decided it."""
        if self.outcome == "fail":
            names = ", ".join(c.name for c in self.failed_checks[:4])
            more = f" (+{len(self.failed_checks) - 4} more)" if len(self.failed_checks) > 4 else ""
            return f"FAIL: {names}{more}"
        if self.outcome == "inconclusive":
            req = [c for c in self.inconclusive_checks if c.required]
            first = req[0] if req else None
            why = f"{first.name}: {first.reason}" if first else "no required check was decided"
            return f"INCONCLUSIVE: {why}" + (f" (+{len(req) - 1} more)" if len(req) > 1 else "")
        return f"PASS: {sum(c.passed for c in self.checks)} checks passed"

    def to_dict(self) -> dict[str, Any]:
        """The verdict.json shape (docs/contracts.md)."""
        return {
            "run_id": self.run_id,
            "variant": self.variant,
            "backends": self.backends,
            "outcome": self.outcome,
            "passed": self.passed,
            "headline": self.headline(),
            "counts": {o: sum(c.outcome == o for c in self.checks) for o in OUTCOMES},
            "skipped": self.skipped,
            "checks": [c.to_dict() for c in self.checks],
            "analyzers": {name: r.to_dict() for name, r in self.results.items()},
        }


#: One required input of an analyzer: a run-directory file, or a tuple of files any one of which will do.
Input = str | tuple[str, ...]


class Analyzer(Protocol):
    """An analyzer: a ``name``, the run files it cannot judge without, and a pure function of the run.

    The runner of analyzers checks ``requires`` before calling ``analyze``: an
    analyzer is never asked to judge a run that lacks its inputs, and says so
    with one inconclusive ``<name>.evidence`` check (``missing_means`` says
    what the missing file leaves unknown). Two optional hooks say more, so no
    analyzer checks for its own files: :class:`ConditionalEvidence` and
    :class:`JudgesWithout`. Inputs that only *narrow* what an analyzer can
    judge are its own business, inside ``analyze``.
    """

    name: str
    requires: tuple[Input, ...]
    missing_means: str

    def analyze(self, run: RunData, slo: Slo) -> AnalyzerResult: ...


@runtime_checkable
class ConditionalEvidence(Protocol):
    """An analyzer whose missing inputs leave something undecided only in some runs.

    The breaker's event log matters when the fault should open the breaker; in a
    run whose fault cannot, a service without an event log has no breaker claim
    left open. ``undecided_without(run)`` False: the analyzer is skipped with its
    reason, but without an inconclusive ``evidence`` check. Absent: always True.
    """

    def undecided_without(self, run: RunData) -> bool: ...


@runtime_checkable
class JudgesWithout(Protocol):
    """An analyzer with checks that do not need the inputs it is missing.

    An early abort fails the run from ``run.json`` alone, with no records at all.
    ``judge_without`` is called on the skipped result (its reason and
    ``evidence`` check already recorded) to add what the run still decides.
    """

    def judge_without(self, run: RunData, slo: Slo, res: AnalyzerResult) -> None: ...


def without_inputs(analyzer: Analyzer, run: RunData, slo: Slo) -> AnalyzerResult | None:
    """``analyzer``'s result on a run lacking one of its inputs, in place of ``analyze`` (None: it has them all)."""
    why = missing_input(analyzer, run.missing)
    if why is None:
        return None
    undecided = analyzer.undecided_without(run) if isinstance(analyzer, ConditionalEvidence) else True
    res = AnalyzerResult(analyzer.name).skip(why, evidence=undecided)
    if isinstance(analyzer, JudgesWithout):
        analyzer.judge_without(run, slo, res)
    return res


def missing_input(analyzer: Analyzer, missing: dict[str, str]) -> str | None:
    """Why ``analyzer`` cannot run on a run whose missing files are ``missing`` (None: it can)."""
    for need in analyzer.requires:
        group = (need,) if isinstance(need, str) else need
        if all(f in missing for f in group):
            why = missing[group[0]] if len(group) == 1 else (
                f"neither {' nor '.join(group)} found" if len(group) == 2 else f"none of {', '.join(group)} found")
            return f"{why}: {analyzer.missing_means}" if analyzer.missing_means else why
    return None


def fmt_ts(ts: float, t0: float) -> str:
    """Quote a timestamp both relative to run start and absolute, for deviation messages."""
    return f"t+{ts - t0:.3f}s (epoch {ts:.3f})"
