"""``harness chaos`` flags are checked before anything starts: each bad value is one clear usage error."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chaos.faults import BandwidthFault, BlackholeFault, LatencyFault, ResetPeerFault, ToxicFault
from harness.chaos.flags import ChaosFlags, UsageError, build_options
from harness.state import Component


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (ChaosFlags(dynamo_latency=""), "empty duration"),
        (ChaosFlags(dynamo_latency="2 s"), "invalid duration"),
        (ChaosFlags(redis_latency="-1s"), "invalid duration"),
        (ChaosFlags(llm_errors=""), "invalid rate"),
        (ChaosFlags(target="http://user:pw@127.0.0.1:8000"), "127.0.0.1"),
        (ChaosFlags(target="http://192.168.1.5:8000"), "not a loopback address"),
        (ChaosFlags(scenario=" , "), "--scenario: unknown empty"),
        (ChaosFlags(users=1001), "--users must be between"),
        (ChaosFlags(workers=-1), "--workers must be between"),
        (ChaosFlags(seed=-5), "--seed must be between"),
        (ChaosFlags(arrival_rate=0), "--arrival-rate must be above 0"),
        (ChaosFlags(baseline="0s"), "phase lengths"),
        (ChaosFlags(fault="2h"), "phase lengths"),
        (ChaosFlags(breaker="threshold=5"), "--breaker"),
        (ChaosFlags(toxicity="30%"), "--toxicity applies to latency, blackhole and --toxic faults"),
        (ChaosFlags(dynamo_blackhole=True, toxicity="130%"), "invalid rate"),
        (ChaosFlags(dynamo_down=True, toxicity="0.5"), "--toxicity applies to latency, blackhole and --toxic faults"),
    ],
)
def test_each_bad_flag_is_a_usage_error(flags: ChaosFlags, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        build_options(flags)
    assert message in str(exc.value)


def test_slo_directory_and_bad_slo_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        build_options(ChaosFlags(slo=tmp_path))
    bad = tmp_path / "slo.yaml"
    bad.write_text("latency:\n  baseline_p99_ms: fast\n")
    with pytest.raises(UsageError):
        build_options(ChaosFlags(slo=bad))


def test_good_flags_build_the_quick_run() -> None:
    opts, _slo = build_options(ChaosFlags(dynamo_latency="2s", quick=True, seed=7))
    assert opts.phases == (8.0, 14.0, 10.0) and opts.users == 20 and opts.seed == 7
    assert opts.fault_label == "dynamo-latency-2s"
    assert opts.breaker.open_s == 3.0


def test_bad_slo_exits_2_before_any_stack_starts(tmp_path: Path) -> None:
    bad = tmp_path / "slo.yaml"
    bad.write_text("latency: [1, 2\n")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--slo", str(bad), "--report-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_blackhole_and_toxicity_become_faults_with_their_effect() -> None:
    opts, _ = build_options(ChaosFlags(dynamo_blackhole=True, dynamo_latency="150ms", toxicity="30%", quick=True))
    assert opts.fault_label == "dynamo-latency-150ms-30pct+dynamo-blackhole-30pct"
    latency, blackhole = opts.faults
    assert isinstance(latency, LatencyFault) and isinstance(blackhole, BlackholeFault)
    assert latency.effect() == {"latency_ms": 150, "jitter_ms": 0, "toxicity": 0.3, "stream": "downstream"}
    assert blackhole.effect() == {"blackhole": True, "toxicity": 0.3}
    assert "blackhole on 30% of connections" in blackhole.describe()
    latency.tag = blackhole.tag = "r1"
    assert latency.toxic_name == "harness_r1_dynamodb_latency"
    assert blackhole.toxic_name == "harness_r1_dynamodb_blackhole"  # named for what it does, not its toxic type


def test_dynamodb_api_errors_become_stand_in_faults() -> None:
    (throttle,) = build_options(ChaosFlags(dynamo_throttle="20%", quick=True))[0].faults
    assert throttle.effect() == {"errors": 0.2, "error_code": "ProvisionedThroughputExceededException"}
    opts, _ = build_options(ChaosFlags(dynamo_throttle="20%", dynamo_throttle_code="ThrottlingException", quick=True))
    assert opts.faults[0].effect() == {"errors": 0.2, "error_code": "ThrottlingException"}
    assert opts.fault_label == "dynamo-throttle-20-throttling-exception"
    (errors,) = build_options(ChaosFlags(dynamo_errors="0.05", quick=True))[0].faults
    assert errors.effect()["error_code"] == "InternalServerError"


@pytest.mark.parametrize("flags", [
    {"dynamo_throttle": "20%", "dynamo_errors": "5%"}, {"dynamo_throttle": "20%", "dynamo_timeouts": "3/10s"},
    {"llm_errors": "30%", "llm_throttle": "20%"}])
def test_two_settings_of_one_stand_in_at_once_are_refused(flags: dict[str, str]) -> None:
    # The stand-in holds one fault setting: the second PUT would silently replace the first.
    with pytest.raises(UsageError, match="which holds one value at a time"):
        build_options(ChaosFlags(quick=True, **flags))  # type: ignore[arg-type]


def test_api_errors_refuse_a_dynamodb_that_is_not_our_stand_in() -> None:
    from harness.chaos.faults.dynamo_errors import NoControlApi

    opts, _ = build_options(ChaosFlags(dynamo_throttle="20%", quick=True))
    with pytest.raises(NoControlApi, match="dynalite"):
        opts.faults[0].bind({"dynamodb": Component(backend="dynalite", url="http://127.0.0.1:1")})
    with pytest.raises(NoControlApi, match="--target"):
        opts.faults[0].bind({})


def test_toxic_flags_become_stream_faults_and_the_breaker_reads_their_effect() -> None:
    from harness.analyzers.breaker import fault_may_open, fault_should_open

    opts, _ = build_options(ChaosFlags(toxic=("dynamodb:reset_peer", "redis:bandwidth=5@upstream"), quick=True))
    assert opts.fault_label == "dynamo-reset-peer+redis-bandwidth"
    reset, slow = opts.faults
    assert isinstance(reset, ResetPeerFault) and isinstance(slow, BandwidthFault)
    assert (reset.proxy, reset.stream, slow.proxy, slow.stream) == ("dynamodb", "upstream", "redis", "upstream")
    assert reset.describe() == "dynamodb reset_peer 0ms (upstream)"
    assert slow.describe() == "redis bandwidth 5KB/s (upstream)"
    assert fault_should_open({"dynamodb": reset.effect()}, 200.0)  # every call reset: the breaker must open
    opts, _ = build_options(ChaosFlags(toxic=("dynamodb:limit_data=200",), toxicity="50%", quick=True))
    assert opts.fault_label == "dynamo-limit-data-50pct" and opts.faults[0].effect()["toxicity"] == 0.5
    assert fault_may_open({"dynamodb": opts.faults[0].effect()}, 200.0)  # some calls fail: may open


@pytest.mark.parametrize(("spec", "name"), [
    ("dynamodb:reset_peer", "harness_r1_dynamodb_reset_peer"),
    ("redis:bandwidth=5", "harness_r1_redis_bandwidth"),
    ("llm:slicer", "harness_r1_llm_slicer"),
    ("dynamodb:limit_data=200@upstream", "harness_r1_dynamodb_limit_data"),
])
def test_stream_toxic_names_carry_the_run_tag_proxy_and_kind(spec: str, name: str) -> None:
    """Stale-run cleanup finds a dead run's toxics by ``harness_<tag>_``; rollback removes them by full name."""
    opts, _ = build_options(ChaosFlags(toxic=(spec,), quick=True))
    [fault] = opts.faults
    assert isinstance(fault, ToxicFault)
    fault.tag = "r1"
    assert fault.toxic_name == name


@pytest.mark.parametrize("spec", ["dynamodb:nope", "sqs:reset_peer", "dynamodb:bandwidth=-3"])
def test_a_bad_toxic_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError, match="invalid --toxic"):
        build_options(ChaosFlags(toxic=(spec,), quick=True))


def test_a_target_dynamodb_url_is_bound_only_when_it_answers_our_stand_ins_control_api() -> None:
    from harness.chaos.faults.dynamo_errors import NoControlApi
    from harness.chaos.target import PROBED_STANDIN, external_components
    from harness.standins.dynamodb import DynamoServer

    opts, _ = build_options(ChaosFlags(dynamo_timeouts="3/10s", quick=True))
    with DynamoServer() as standin:
        comps = external_components(standin.url)
        assert comps["dynamodb"].backend == PROBED_STANDIN and not comps["dynamodb"].started_by_us
        opts.faults[0].bind(comps)  # a --target run can hold calls on our stand-in
    closed = external_components("http://127.0.0.1:9")
    assert closed["dynamodb"].backend == "url"
    with pytest.raises(NoControlApi, match="url"):
        opts.faults[0].bind(closed)
    assert external_components(None) == {}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (ChaosFlags(repeat=0), "--repeat must be between 1 and 100"),
        (ChaosFlags(repeat=101), "--repeat must be between 1 and 100"),
        (ChaosFlags(repeat=2, experiment=Path("x.yaml")), "--repeat with --experiment is not supported yet"),
    ],
)
def test_repeat_is_checked_with_the_other_flags(flags: ChaosFlags, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_options(flags)


def test_an_experiment_keeps_the_command_lines_repeat(tmp_path: Path) -> None:
    from harness.chaos.experiment import load_experiment
    from harness.chaos.flags import with_experiment

    path = Path(__file__).resolve().parents[2] / "experiments" / "dynamo-slow.yaml"
    declared = load_experiment(path, tmp_path).flags
    merged = with_experiment(ChaosFlags(experiment=path, repeat=3, report_dir=tmp_path), declared)
    assert (merged.experiment, merged.repeat, merged.more_faults[0].dynamo_latency) == (path, 3, "2s")
    with pytest.raises(UsageError, match="--repeat with --experiment"):
        build_options(merged)
    assert build_options(dataclasses.replace(merged, repeat=1))[0].fault_label == "dynamo-latency-2s"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repeat", "0"], "--repeat must be between 1 and 100"),
        (["--repeat", "2", "--experiment", "experiments/dynamo-slow.yaml"], "--repeat with --experiment is not "
                                                                            "supported yet"),
        (["--variant", "gold"], "--variant must be seed or hardened, not 'gold'"),
    ],
)
def test_the_cli_exits_2_on_what_build_options_refuses(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with every way to start a run replaced by a failure: a usage error must stop before one."""
    from typer.testing import CliRunner

    import harness.chaos.repeat
    import harness.chaos.runner
    from harness.cli import app

    def no_run(*_: object, **__: object) -> None:
        raise AssertionError("a usage error started a run")

    monkeypatch.setattr(harness.chaos.runner, "ChaosRun", no_run)
    monkeypatch.setattr(harness.chaos.repeat, "run_repeated", no_run)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["chaos", "--quick", "--report-dir", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "r").exists()
