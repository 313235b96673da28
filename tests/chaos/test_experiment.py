"""Experiment files: validated before anything starts (line and field named), mapped onto the flags, judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chaos.experiment import Experiment, ExperimentError, judge, load_experiment
from harness.chaos.faults import LatencyFault
from harness.chaos.flags import ChaosFlags, UsageError, build_options, with_experiment
from harness.chaos.schedule import Flap

LIBRARY = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))


def test_the_library_has_the_incidents() -> None:
    assert {p.stem for p in LIBRARY} >= {"dynamo-slow", "dynamo-brownout", "hot-partition-throttling",
                                         "intermittent-timeouts", "redis-failover", "flapping-network",
                                         "everything-down", "llm-overload", "sub-timeout-latency"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_every_library_experiment_is_valid_and_maps_onto_flags(path: Path, tmp_path: Path) -> None:
    exp = load_experiment(path, tmp_path)
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), exp.flags))
    assert opts.faults and exp.expectations and exp.description
    assert opts.seed == 11 and opts.quick


def test_the_flags_mean_what_the_file_says(tmp_path: Path) -> None:
    exp = load_experiment(LIBRARY[0].with_name("intermittent-timeouts.yaml"), tmp_path)
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), exp.flags))
    assert [f.describe() for f in opts.faults] == ["dynamodb blackhole on 30% of connections"]
    flap = load_experiment(LIBRARY[0].with_name("flapping-network.yaml"), tmp_path)
    flapping = build_options(with_experiment(ChaosFlags(), flap.flags))[0].faults
    assert [f.window.flap for f in flapping] == [Flap(2.0, 3.0)]


def test_each_fault_keeps_its_own_values_and_schedule(tmp_path: Path) -> None:
    # Two latencies on DynamoDB, Redis down in a window, throttling as ThrottlingException:
    # nothing collapses into one flag, and the file's schedule reaches only the faults it fits.
    path = tmp_path / "multi.yaml"
    path.write_text("""name: multi
quick: true
faults:
  - {target: dynamodb, kind: latency, latency: 2s, flap: 2s/3s}
  - {target: dynamodb, kind: latency, latency: 100ms, jitter: 50ms, stream: upstream, at: 6s, for: 4s}
  - {target: redis, kind: down, at: 3s, for: 4s}
  - {target: redis, kind: latency, latency: 300ms, jitter: 100ms}
  - {target: dynamodb, kind: throttle, rate: 20%, code: ThrottlingException, at: 10s}
schedule: {toxicity: 50%}
""")
    exp = load_experiment(path, tmp_path)
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), exp.flags))
    assert [f.describe() for f in opts.faults] == [
        "dynamodb latency 2000ms on 50% of connections",
        "dynamodb latency 100ms ± 50ms (upstream) on 50% of connections",
        "redis down",
        "redis latency 300ms ± 100ms on 50% of connections",
        "dynamodb ThrottlingException on 20% of calls",
    ]
    assert [(f.window.at_s, f.window.for_s, f.window.flap) for f in opts.faults] == [
        (0.0, None, Flap(2.0, 3.0)), (6.0, 4.0, None), (3.0, 4.0, None), (0.0, None, None), (10.0, None, None)]
    first, second = opts.faults[0], opts.faults[1]
    first.tag = second.tag = "run"
    assert isinstance(first, LatencyFault) and isinstance(second, LatencyFault)
    assert (first.toxic_name, second.toxic_name) == ("harness_run_dynamodb_latency", "harness_run_dynamodb_latency_2")
    assert opts.fault_label.startswith("dynamo-latency-2s-50pct-flap-2s-3s+dynamo-latency-100ms-upstream-50pct-at-6s-")


@pytest.mark.parametrize(("faults", "message"), [
    ("  - {target: dynamodb, kind: down}\n  - {target: dynamodb, kind: down, at: 5s}\n", "overlap in time"),
    ("  - {target: dynamodb, kind: throttle, rate: 5%}\n  - {target: dynamodb, kind: errors, rate: 5%, at: 2s}\n",
     "both set dynamodb's errors"),
    ("  - {target: dynamodb, kind: down, at: 20s}\n", "must fall inside the 14 s fault phase"),
    ("  - {target: dynamodb, kind: down, at: 10s, for: 5s}\n", "ending inside the 14 s fault phase"),
])
def test_faults_that_cannot_run_together_are_refused_before_the_run(tmp_path: Path, faults: str,
                                                                    message: str) -> None:
    path = tmp_path / "clash.yaml"
    path.write_text("name: clash\nquick: true\nfaults:\n" + faults)
    exp = load_experiment(path, tmp_path)
    with pytest.raises(UsageError, match=message):
        build_options(with_experiment(ChaosFlags(report_dir=tmp_path), exp.flags))


def test_one_setting_held_in_turn_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "turns.yaml"
    path.write_text("name: turns\nquick: true\nfaults:\n  - {target: dynamodb, kind: down, for: 4s}\n"
                    "  - {target: dynamodb, kind: down, at: 8s, for: 4s}\n")
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), load_experiment(path, tmp_path).flags))
    assert [f.slot for f in opts.faults] == ["", "2"]


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nfaults:\n  - {target: dynamodb, kind: latency}\n", "line 3: faults.0: 'latency' is a required"),
    ("name: x\nfaults:\n  - target: dynamodb\n    kind: melt\n", "line 4: faults.0.kind"),
    ("name: x\nfaults: []\n", "line 2: faults"),
    ("name: x\nfaults:\n  - {target: redis, kind: throttle, rate: 20%}\n", "line 3: faults.0.target"),
    ("name: x\nfaults:\n  - {target: dynamodb, kind: down}\nphases: {fault: 2 s}\n", "line 4: phases.fault"),
    ("name: x\nfaults:\n  - {target: dynamodb, kind: down}\nexpect:\n  - {check: a, outcome: maybe}\n",
     "line 5: expect.0.outcome"),
    ("name: x\nfaults:\n  - {target: dynamodb, kind: down}\ncolour: red\n", "Additional properties"),
    ("name: x\nfaults:\n  - target: redis\n    kind: latency\n    latency: 1s\n    value: 3\n",
     "line 6: faults.0.value: value is not a parameter of this fault's kind"),
    ("name: x\nfaults:\n  - {target: dynamodb, kind: reset_peer, stream: sideways}\n", "line 3: faults.0.stream"),
    ("name: [unclosed\n", "not valid YAML"),
    ("- just a list\n", "an experiment is a mapping"),
])
def test_errors_name_the_line_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentError) as exc:
        load_experiment(path, tmp_path)
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_a_flag_the_file_declares_is_a_usage_error(tmp_path: Path) -> None:
    exp = load_experiment(LIBRARY[0].with_name("dynamo-slow.yaml"), tmp_path)
    with pytest.raises(UsageError, match="--dynamo-down"):
        with_experiment(ChaosFlags(dynamo_down=True), exp.flags)
    assert with_experiment(ChaosFlags(variant="seed", seed=3), exp.flags).variant == "seed"


def _verdict(run_dir: Path, **outcomes: tuple[str, float | None]) -> None:
    checks = [{"name": k.replace("__", "."), "outcome": o, "measured": m} for k, (o, m) in outcomes.items()]
    (run_dir / "verdict.json").write_text(json.dumps({"checks": checks}))


def test_expectations_decide_the_exit_code(tmp_path: Path) -> None:
    exp = load_experiment(LIBRARY[0].with_name("dynamo-slow.yaml"), tmp_path)
    _verdict(tmp_path, requests__fault__failed=("pass", 0), breaker__opened_after_fault=("pass", 0.3),
             latency__fault__p99=("pass", 400.0))
    assert judge(exp, tmp_path, 0)[0] == 0
    _verdict(tmp_path, requests__fault__failed=("pass", 0), breaker__opened_after_fault=("fail", None),
             latency__fault__p99=("pass", 400.0))
    code, results = judge(exp, tmp_path, 1)
    assert code == 1 and [r.met for r in results] == [True, False, True]
    _verdict(tmp_path, requests__fault__failed=("pass", 0), breaker__opened_after_fault=("inconclusive", None),
             latency__fault__p99=("pass", 400.0))
    assert judge(exp, tmp_path, 3)[0] == 3
    stored = json.loads((tmp_path / "experiment.json").read_text())
    assert stored["name"] == "dynamo-slow" and stored["resolved_flags"]["more_faults"] == [{"dynamo_latency": "2s"}]
    seed = Experiment(exp.name, exp.description, with_experiment(ChaosFlags(variant="seed"), exp.flags),
                      exp.expectations, exp.source)
    _verdict(tmp_path, requests__fault__failed=("pass", 0), latency__fault__p99=("fail", 2200.0))
    assert judge(seed, tmp_path, 1)[0] == 0  # the seed is expected to fail its p99: that is the experiment's point
    # what the CLI passes: the declared experiment, and the variant the run actually drove
    assert judge(exp, tmp_path, 1, variant="seed")[0] == 0
    assert json.loads((tmp_path / "experiment.json").read_text())["variant"] == "seed"


def test_the_cli_refuses_a_bad_experiment_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfaults:\n  - {target: dynamodb, kind: latency}\n")
    proc = subprocess.run([sys.executable, "-m", "harness", "chaos", "--experiment", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "line 3" in proc.stderr, proc.stderr
    assert not (tmp_path / "reports").exists()


def test_stream_faults_in_a_file_mean_the_toxic_flag(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("name: crash\nfaults:\n  - {target: dynamodb, kind: reset_peer, stream: upstream}\n"
                    "  - {target: redis, kind: bandwidth, value: 5}\n")
    exp = load_experiment(path, tmp_path)
    assert [g.toxic for g in exp.flags.more_faults] == [("dynamodb:reset_peer@upstream",), ("redis:bandwidth=5",)]
    opts, _ = build_options(exp.flags)
    assert [f.describe() for f in opts.faults] == ["dynamodb reset_peer 0ms (upstream)",
                                                   "redis bandwidth 5KB/s (downstream)"]


def test_llm_throttling_in_a_file_means_the_llm_throttle_flag(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("name: overload\nfaults:\n  - {target: llm, kind: throttle, rate: 20%}\n")
    exp = load_experiment(path, tmp_path)
    assert [g.llm_throttle for g in exp.flags.more_faults] == ["20%"]
    opts, _ = build_options(exp.flags)
    assert [f.describe() for f in opts.faults] == ["llm throttled 20% (429)"]


def test_the_readme_example_is_a_valid_experiment_that_means_what_it_says(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example)
    exp = load_experiment(path, tmp_path)
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), exp.flags))
    assert [(f.describe(), f.window.describe()) for f in opts.faults] == [
        ("dynamodb latency 2000ms", "flapping 2s on / 3s off"), ("redis down", "from +4s for 3s")]
    # the library's file of the same name declares the same faults
    library = load_experiment(LIBRARY[0].with_name(f"{exp.name}.yaml"), tmp_path)
    assert [g.__dict__ for g in library.flags.more_faults] == [g.__dict__ for g in exp.flags.more_faults]


def test_a_blackhole_in_a_file_takes_a_stream_and_a_down_fault_does_not(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nquick: true\nfaults:\n  - {target: dynamodb, kind: blackhole, stream: downstream}\n")
    opts, _ = build_options(with_experiment(ChaosFlags(report_dir=tmp_path), load_experiment(good, tmp_path).flags))
    assert opts.faults[0].describe().startswith("dynamodb blackhole (downstream")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfaults:\n  - target: dynamodb\n    kind: down\n    stream: upstream\n")
    with pytest.raises(ExperimentError, match=r"line 5: faults\.0\.stream"):
        load_experiment(bad, tmp_path)
