"""Analyzers declare what they cannot judge without; the runner alone handles a run that lacks it.

Why: a missing file is a property of the run, handled in one place, so every
analyzer reports it the same way and none judges an absent file as an empty one.
The runner's two optional hooks (``undecided_without``, ``judge_without``) cover
the analyzers whose missing inputs matter only in some runs, or that still decide
something without them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

from harness.analyzers import ANALYZERS, analyze_loaded, analyze_run, load_run
from harness.analyzers.base import AnalyzerResult, ConditionalEvidence, Input, JudgesWithout, Verdict
from harness.analyzers.dynamo_calls import WIRE
from harness.records import RECORDS_FILE

RECORDS = f"records/{RECORDS_FILE}"


def check(v: Verdict, name: str):  # type: ignore[no-untyped-def]
    found = [c for c in v.checks if c.name == name]
    assert found, f"no check {name}; have {[c.name for c in v.checks]}"
    return found[0]


class Plain:
    """Declares its inputs, no hooks: missing ones are always an undecided ``evidence`` check."""

    def __init__(self, name: str, requires: tuple[Input, ...], means: str = "") -> None:
        self.name, self.requires, self.missing_means = name, requires, means
        self.called = False

    def analyze(self, run: object, slo: object) -> AnalyzerResult:
        self.called = True
        r = AnalyzerResult(self.name)
        r.check("judged", True, 1, "target")
        return r


class Sometimes(Plain):
    def __init__(self, name: str, requires: tuple[Input, ...], means: str, undecided: bool) -> None:
        super().__init__(name, requires, means)
        self._undecided = undecided

    def undecided_without(self, run: object) -> bool:
        return self._undecided


class Partly(Plain):
    def judge_without(self, run: object, slo: object, res: AnalyzerResult) -> None:
        res.check("from_run_json", False, 0, "decided without the missing file")


class BrokenHook(Plain):
    def undecided_without(self, run: object) -> bool:
        raise ValueError("hook bug")


def _bare_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r", "variant": "seed"}))
    (tmp_path / "events.jsonl").write_text("")
    return load_run(tmp_path)


def test_the_hooks_are_recognised_only_where_defined() -> None:
    assert isinstance(Sometimes("s", (), "", True), ConditionalEvidence)
    assert isinstance(Partly("p", ()), JudgesWithout)
    assert not isinstance(Plain("x", ()), ConditionalEvidence) and not isinstance(Plain("x", ()), JudgesWithout)


def test_a_missing_input_that_decides_nothing_skips_without_an_evidence_check(tmp_path: Path) -> None:
    quiet = Sometimes("quiet", ("table.jsonl",), "the keys are unknown", undecided=False)
    loud = Sometimes("loud", ("table.jsonl",), "the keys are unknown", undecided=True)
    v = analyze_loaded(_bare_run(tmp_path), None, [quiet, loud])
    assert not quiet.called and not loud.called
    assert v.results["quiet"].status == "skipped" and v.results["quiet"].checks == []
    assert v.results["quiet"].reason == "table.jsonl not found: the keys are unknown"
    assert v.skipped["quiet"] == v.results["quiet"].reason  # listed, never silently dropped
    ev = check(v, "loud.evidence")
    assert ev.inconclusive and ev.reason == "table.jsonl not found: the keys are unknown"


def test_a_skipped_analyzer_still_adds_what_it_decides_without_the_missing_input(tmp_path: Path) -> None:
    partly = Partly("partly", ("table.jsonl",))
    v = analyze_loaded(_bare_run(tmp_path), None, [partly])
    r = v.results["partly"]
    assert not partly.called and r.status == "skipped" and r.reason == "table.jsonl not found"
    assert [c.name for c in r.checks] == ["partly.evidence", "partly.from_run_json"]
    assert check(v, "partly.evidence").inconclusive and check(v, "partly.from_run_json").failed
    # with its inputs present the hook is not used: analyze judges everything
    present = Partly("present", ("events.jsonl",))
    v = analyze_loaded(_bare_run(tmp_path), None, [present])
    assert present.called and [c.name for c in v.results["present"].checks] == ["present.judged"]


def test_a_crashing_hook_is_a_failing_check_not_a_silent_skip(tmp_path: Path) -> None:
    v = analyze_loaded(_bare_run(tmp_path), None, [BrokenHook("broken", ("table.jsonl",))])
    assert v.results["broken"].status == "error" and check(v, "broken.crashed").failed
    assert v.outcome == "fail"


def test_every_analyzer_declares_what_it_cannot_judge_without() -> None:
    assert all(a.requires for a in ANALYZERS), [a.name for a in ANALYZERS if not a.requires]


def test_no_analyzer_checks_for_its_own_required_files() -> None:
    """The runner is the one place a missing required file is handled. The run-integrity analyzer is the
    exception by design: the missing files are its finding."""
    for a in ANALYZERS:
        if a.name != "run":
            assert "run.missing" not in inspect.getsource(type(a).analyze), a.name


# ---------------------------------------------------------------- the analyzers that use the hooks
def test_breaker_without_its_log_under_a_fault_that_cannot_open_it_is_skipped_not_undecided(
        make_run: Callable[..., Path]) -> None:
    d = make_run(fault_value="100ms")  # under the breaker's 200 ms timeout: it must not open
    (d / "events.jsonl").unlink()
    v = analyze_run(d)
    r = v.results["breaker"]
    assert r.status == "skipped" and "events.jsonl not found" in r.reason and "transitions" in r.reason
    assert r.checks == [] and r.data["expect_open"] is False
    assert not [c for c in v.checks if c.analyzer == "breaker"]


def test_breaker_without_its_log_or_run_json_is_undecided(make_run: Callable[..., Path]) -> None:
    d = make_run(fault_value="100ms")
    (d / "events.jsonl").unlink()
    (d / "run.json").unlink()  # the fault is unknown, so the log may have been needed
    v = analyze_run(d)
    c = check(v, "breaker.evidence")
    assert c.inconclusive and c.required and "events.jsonl" in c.reason


def test_partitions_without_events_or_table_is_skipped_naming_both(make_run: Callable[..., Path]) -> None:
    d = make_run()
    (d / "events.jsonl").unlink()
    (d / "table.jsonl").unlink()
    r = analyze_run(d).results["partitions"]
    assert r.status == "skipped" and r.checks == []
    assert "events.jsonl" in r.reason and "table.jsonl" in r.reason and "keys are unknown" in r.reason


def test_partitions_runs_on_either_file(make_run: Callable[..., Path]) -> None:
    d = make_run()
    (d / "events.jsonl").unlink()
    v = analyze_run(d)
    assert v.results["partitions"].status == "ok" and check(v, "partitions.uuid4_keys").passed


def test_latency_without_records_still_reports_the_dynamodb_calls(make_run: Callable[..., Path]) -> None:
    d = make_run(wire_tap=True)
    (d / RECORDS).unlink()
    v = analyze_run(d)
    r = v.results["latency"]
    assert r.status == "skipped" and r.reason.startswith(f"{RECORDS} not found")
    assert r.checks[0].name == "latency.evidence" and r.checks[0].inconclusive
    dynamo = [c for c in r.checks if c.name.startswith("latency.dynamodb.baseline.")]
    assert dynamo and all(c.optional for c in dynamo)
    assert r.data["dynamodb"] and r.data["dynamodb_source"] == WIRE
