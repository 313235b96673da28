"""Alarms that cannot fire: warned at the start of ``harness chaos``, and judged inconclusive, not pass or fail.

An alarm needs M breaching periods (``datapoints_to_alarm`` x period) before it
can go to ALARM. When that is longer than the fault phase, "it must fire" cannot
be decided by the run: ``harness chaos`` says so on stderr before anything else
happens, and the alarms analyzer makes an expectation on it ``inconclusive``
with the reason, where the same evidence under a period that fits is a fail.

The CLI half uses a closed-port ``--target``: the warning is printed after the
flags are checked and before the run, whose preflight then aborts without load.
The analyzer half uses synthetic run directories (tests/analyzers/synth.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# plain `pytest` does not put the repo root on sys.path; `tests.analyzers.synth` needs it
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analyzers import Verdict, analyze_run
from harness.analyzers.alarms import AlarmsAnalyzer
from harness.analyzers.rundata import load_run
from harness.chaos.flags import ChaosFlags, build_options, unfireable_alarms
from harness.slo import load_slo
from tests.analyzers.synth import SynthConfig, generate

WARN = "warning: alarm {name} cannot fire in this run: it needs {need} s of breach but the fault phase lasts {fault} s"


# --- the warning at start -------------------------------------------------------------------------


def test_the_cli_warns_before_the_preflight_aborts(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    home = tmp_path / "home"
    home.mkdir()
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "chaos", "--quick", "--alarm-period", "20s", "--target", url,
             "--home", str(home), "--report-dir", str(tmp_path / "reports")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "COLUMNS": "60", "HARNESS_HOME": str(home)},
        )
    finally:
        sock.close()
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    # Each warning is one line (even on a narrow terminal), and they come first: before the run's seed line.
    assert lines[:3] == [WARN.format(name="dynamodb_latency", need=60, fault=14),
                         WARN.format(name="circuit_open", need=20, fault=14),
                         WARN.format(name="stateless", need=20, fault=14)]
    assert lines[3].startswith("seed: ")
    assert lines[-1] == f"FAIL: target {url} is not accepting connections (Connection refused)"
    [run] = list((tmp_path / "reports").iterdir())
    assert json.loads((run / "run.json").read_text())["alarm_period_s"] == 20.0


def test_which_alarms_are_warned_follows_m_times_the_period() -> None:
    # --quick as is: 3 x 2 s and 1 x 2 s fit in 14 s.
    opts, slo = build_options(ChaosFlags(quick=True))
    assert unfireable_alarms(slo, opts.alarm_period_s, opts.phases[1]) == {}
    # The design's timings: 3 x 60 s periods do not fit the 60 s fault phase; 1 x 60 s does, exactly.
    opts, slo = build_options(ChaosFlags())
    assert unfireable_alarms(slo, opts.alarm_period_s, opts.phases[1]) == {
        "dynamodb_latency": "it needs 180 s of breach but the fault phase lasts 60 s"}
    assert unfireable_alarms(slo, 5.0, 15.0) == {}  # 3 x 5 s == 15 s: it can
    assert unfireable_alarms(slo, 5.0, 14.0) == {"dynamodb_latency": "it needs 15 s of breach but the fault "
                                                                     "phase lasts 14 s"}
    assert set(unfireable_alarms(slo, 14.5, 14.0)) == {"dynamodb_latency", "circuit_open", "stateless"}


def test_the_slos_datapoints_to_alarm_decide_it(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text("alarms:\n  circuit_open:\n    evaluation_periods: 4\n    datapoints_to_alarm: 4\n")
    slo = load_slo(path)
    assert unfireable_alarms(slo, 4.0, 14.0) == {"circuit_open": "it needs 16 s of breach but the fault phase "
                                                                 "lasts 14 s"}


# --- the verdict ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    made: dict[tuple[str, float], Path] = {}

    def _run(fault_value: str, period: float) -> Path:
        key = (fault_value, period)
        if key not in made:
            made[key] = generate(tmp_path_factory.mktemp("run"),
                                 SynthConfig(fault_value=fault_value, alarm_period_s=period))  # fault 40 s
        return made[key]

    return _run


def slo_file(tmp_path: Path, expect: dict[str, str], required_alarms: bool = False) -> Path:
    body: dict[str, object] = {"expect_alarms": expect}
    if required_alarms:
        body["verdict"] = {"required": [*load_slo().raw["verdict"]["required"], "alarms.*"]}
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def alarm_check(v: Verdict, name: str) -> dict[str, object]:
    [found] = [c.to_dict() for c in v.checks if c.name == name]
    return found


@pytest.mark.parametrize(("fault", "alarm", "short", "long", "why"), [
    # A 100 ms fault never opens the 200 ms breaker: circuit_open does not fire.
    ("100ms", "circuit_open", 5.0, 50.0, "needs 50 s of breach (1 x 50 s periods) but the fault phase lasts 40 s"),
    # A 2 s fault times every call out: no slow successful call, dynamodb_latency does not fire.
    ("2s", "dynamodb_latency", 5.0, 20.0, "needs 60 s of breach (3 x 20 s periods) but the fault phase lasts 40 s"),
])
def test_an_alarm_that_cannot_fire_is_inconclusive_where_one_that_could_fails(
    runs: Callable[..., Path], tmp_path: Path, fault: str, alarm: str, short: float, long: float, why: str
) -> None:
    slo = load_slo(slo_file(tmp_path, {alarm: "must_fire"}))

    could = alarm_check(analyze_run(runs(fault, short), slo), f"alarms.{alarm}.fires")
    assert could["outcome"] == "fail" and "fired: never" in str(could["detail"])

    v = analyze_run(runs(fault, long), slo)
    cannot = alarm_check(v, f"alarms.{alarm}.fires")
    assert cannot["outcome"] == "inconclusive", cannot
    assert cannot["reason"] == f"cannot fire in this run: {why}"
    assert cannot["measured"] == 0
    assert v.results["alarms"].data["cannot_fire"][alarm] == why
    assert "alarms" not in {c.analyzer for c in v.failed_checks}


def test_required_alarms_that_cannot_fire_make_the_run_inconclusive(runs: Callable[..., Path], tmp_path: Path) -> None:
    path = slo_file(tmp_path, {"dynamodb_latency": "must_fire"}, required_alarms=True)
    run = runs("2s", 20.0)
    v = analyze_run(run, load_slo(path))
    assert v.outcome == "inconclusive" and v.exit_code == 3
    reason = "cannot fire in this run: needs 60 s of breach (3 x 20 s periods) but the fault phase lasts 40 s"
    assert v.headline() == f"INCONCLUSIVE: alarms.dynamodb_latency.fires: {reason}"

    # The same through the CLI, which rewrites the run's reports.
    proc = subprocess.run([sys.executable, "-m", "harness", "analyze", str(run), "--slo", str(path)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"INCONCLUSIVE: alarms.dynamodb_latency.fires: {reason}"
    verdict = json.loads((run / "verdict.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["alarms.dynamodb_latency.fires"]["outcome"] == "inconclusive"
    assert checks["alarms.dynamodb_latency.fires"]["required"] is True


def test_an_alarm_that_fired_anyway_is_judged_on_what_it_did(runs: Callable[..., Path]) -> None:
    """'Cannot fire' is about a breach too short to decide; an alarm that did fire is never left undecided."""
    v = analyze_run(runs("2s", 50.0))  # the breaker opens; circuit_open's 50 s period exceeds the 40 s fault
    assert "circuit_open" in v.results["alarms"].data["cannot_fire"]
    fires = alarm_check(v, "alarms.circuit_open.fires")
    assert fires["outcome"] == "pass", fires


@pytest.mark.parametrize("period", [5.0, 20.0, 50.0])
def test_the_warning_and_the_analyzer_agree_on_which_alarms_cannot_fire(
    runs: Callable[..., Path], period: float
) -> None:
    slo = load_slo()
    run = runs("2s", period)
    fault = 40.0  # SynthConfig's fault phase
    assert set(AlarmsAnalyzer.cannot_fire(load_run(run), slo, period)) == set(unfireable_alarms(slo, period, fault))
