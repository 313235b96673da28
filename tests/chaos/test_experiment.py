"""Experiment files: validated before anything starts (line and field named), mapped onto the flags, judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chaos.experiment import Experiment, ExperimentError, judge, load_experiment
from harness.chaos.flags import ChaosFlags, UsageError, build_options, with_experiment

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
    assert build_options(with_experiment(ChaosFlags(), flap.flags))[0].flap is not None


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
    assert stored["name"] == "dynamo-slow" and stored["resolved_flags"]["dynamo_latency"] == "2s"
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
    assert exp.flags.toxic == ("dynamodb:reset_peer@upstream", "redis:bandwidth=5")
    opts, _ = build_options(exp.flags)
    assert [f.describe() for f in opts.faults] == ["dynamodb reset_peer 0ms (upstream)",
                                                   "redis bandwidth 5KB/s (downstream)"]


def test_llm_throttling_in_a_file_means_the_llm_throttle_flag(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("name: overload\nfaults:\n  - {target: llm, kind: throttle, rate: 20%}\n")
    exp = load_experiment(path, tmp_path)
    assert exp.flags.llm_throttle == "20%"
    opts, _ = build_options(exp.flags)
    assert [f.describe() for f in opts.faults] == ["llm throttled 20% (429)"]
