"""The latency-report GitHub workflow, parsed, checked, and its scripts run.

Why: a workflow is only exercised on GitHub, where a typo in a flag or a gate
that never fails costs a round trip per mistake. So: the YAML structure is
checked, every command its steps run must exist in the project (``harness``
subcommands and flags parsed by the real CLI, ``python -m`` modules, pip
extras), and the step scripts themselves run under bash here with a stand-in
``harness`` on PATH (the neighbour, not the thing under test) to prove both
chaos runs always happen and the gate fails exactly when it should.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.delivery import helpers as h

# Commands a step may run besides the project's own (harness, python, pip).
SYSTEM_COMMANDS = {"apt-get", "echo", "cat", "set", "exit", "continue", "[", "test", "true"}
ALLOWED_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}
# GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def _workflow() -> dict[Any, Any]:
    data = h.load_yaml(h.WORKFLOW)
    assert isinstance(data, dict)
    return data


def _steps() -> list[dict[str, Any]]:
    jobs = _workflow()["jobs"]
    assert len(jobs) == 1
    steps = next(iter(jobs.values()))["steps"]
    assert isinstance(steps, list)
    return steps


def _step(step_id: str) -> dict[str, Any]:
    return next(s for s in _steps() if s.get("id") == step_id)


def _named(fragment: str) -> dict[str, Any]:
    return next(s for s in _steps() if fragment in s.get("name", ""))


def test_structure() -> None:
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as True
    assert isinstance(triggers, dict) and "push" in triggers and "pull_request" in triggers
    assert wf.get("defaults", {}).get("run", {}).get("shell") == "bash"
    for name, job in wf["jobs"].items():
        assert job.get("runs-on"), f"job {name} needs runs-on"
        assert job.get("timeout-minutes"), f"job {name} needs a timeout"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"step {step} needs exactly one of uses/run"
            if "uses" in step:
                assert step["uses"] in ALLOWED_ACTIONS, f"unexpected action {step['uses']}"
    ids = [s["id"] for s in _steps() if "id" in s]
    assert len(ids) == len(set(ids))


def test_setup_matches_the_readme_install() -> None:
    steps = _steps()
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert str(python["with"]["python-version"]) == "3.11"
    commands = [argv for s in steps if "run" in s for argv in h.shell_commands(s["run"])]
    assert ["apt-get", "install", "-y", "redis-server"] in commands
    assert ["pip", "install", "-e", ".[test]"] in commands
    assert ["python", "-m", "pytest"] in commands
    order = [" ".join(argv) for argv in commands]
    assert order.index("pip install -e .[test]") < order.index("python -m pytest")
    assert order.index("python -m pytest") < next(i for i, c in enumerate(order) if c.startswith("harness chaos"))


def _check_command(argv: list[str]) -> None:
    tool = argv[0]
    if tool == "harness":
        h.check_harness_argv(argv)
    elif tool in ("python", "python3"):
        parsed = h.python_module_argv(argv)
        assert parsed, f"{argv}: only `python -m MODULE` is expected"
        assert importlib.util.find_spec(parsed[0]) is not None, f"{argv}: no module {parsed[0]}"
    elif tool == "pip":
        assert argv[1] == "install", argv
        pyproject = tomllib.loads((h.REPO / "pyproject.toml").read_text())
        for target in argv[2:]:
            if target.startswith("-"):
                continue
            path, _, extras = target.partition("[")
            assert (h.REPO / path / "pyproject.toml").is_file(), f"{target}: no project at {path}"
            for extra in extras.rstrip("]").split(","):
                if extra:
                    assert extra in pyproject["project"]["optional-dependencies"], f"{target}: no extra {extra}"
    else:
        assert tool in SYSTEM_COMMANDS, f"{argv}: `{tool}` is neither a project command nor an allowed tool"


def test_every_command_exists() -> None:
    commands = [argv for s in _steps() if "run" in s for argv in h.shell_commands(s["run"])]
    assert commands
    for argv in commands:
        _check_command(argv)


@pytest.mark.parametrize("variant", ["seed", "hardened"])
def test_chaos_runs(variant: str) -> None:
    step = _step(variant)
    runs = [argv for argv in h.shell_commands(step["run"]) if argv[0] == "harness"]
    assert len(runs) == 1
    params = h.check_harness_argv(runs[0]).params
    assert params["quick"] is True
    assert params["dynamo_latency"] == "2s"
    assert params["variant"] == variant
    assert Path(params["report_dir"]) == Path("reports") / variant
    assert "continue-on-error" not in step, "the step records its exit code instead; the gate decides"
    assert step.get("if") == "${{ !cancelled() }}"


def test_reports_are_uploaded_and_summarised() -> None:
    upload = next(s for s in _steps() if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"].rstrip("/") == "reports"
    assert upload.get("if") == "${{ always() }}"
    assert (h.REPO / "reports" / "README.md").is_file()
    summary = _named("summar")
    assert summary.get("if") == "${{ always() }}"
    assert "GITHUB_STEP_SUMMARY" in summary["run"]
    gate = _named("Gate")
    assert _steps()[-1] == gate, "the gate is the last step, after the reports are published"
    assert gate.get("if") == "${{ always() }}"
    assert gate["env"] == {
        "SEED_EXIT": "${{ steps.seed.outputs.exit_code }}",
        "HARDENED_EXIT": "${{ steps.hardened.outputs.exit_code }}",
    }


# --- the step scripts, run -----------------------------------------------------
def _fake_harness(bin_dir: Path) -> None:
    """A stand-in `harness` that logs its argv, writes a summary and exits $FAKE_EXIT."""
    script = bin_dir / "harness"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> "$FAKE_LOG"\n'
        'dir=""; prev=""\n'
        'for a in "$@"; do [ "$prev" = "--report-dir" ] && dir="$a"; prev="$a"; done\n'
        'mkdir -p "$dir/run-1" && echo "summary of $dir" > "$dir/run-1/summary.md"\n'
        'exit "$FAKE_EXIT"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = cwd / "step.sh"
    script.write_text(step["run"])
    return subprocess.run([*BASH, str(script)], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("code", [0, 1, 2, 130])
@pytest.mark.parametrize("variant", ["seed", "hardened"])
def test_chaos_step_records_exit_code_and_lets_the_job_go_on(tmp_path: Path, variant: str, code: int) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_harness(bin_dir)
    output, log = tmp_path / "output", tmp_path / "log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
           "FAKE_EXIT": str(code), "FAKE_LOG": str(log)}
    proc = _run_step(_step(variant), tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().splitlines() == [f"exit_code={code}"]
    assert f"--variant {variant}" in log.read_text()


def test_summary_step_appends_each_summary(tmp_path: Path) -> None:
    run = tmp_path / "reports" / "seed" / "20250101-000000-seed-x"
    run.mkdir(parents=True)
    (run / "summary.md").write_text("| check | passed |\n| latency.fault.p99 | no |\n")
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier\n")
    proc = _run_step(_named("summar"), tmp_path, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    assert text.startswith("earlier\n")
    assert "## seed" in text and "| latency.fault.p99 | no |" in text
    assert "## hardened" in text and "no summary.md was written for the hardened run" in text


@pytest.mark.parametrize(
    ("seed", "hardened", "passes"),
    [
        ("1", "0", True),    # the expected outcome: seed breaks under latency, hardened holds
        ("1", "1", False),   # hardened failed a check
        ("0", "0", False),   # seed passed: the harness no longer tells the variants apart
        ("0", "1", False),
        ("2", "0", False),   # seed run errored
        ("1", "2", False),   # hardened run errored
        ("1", "130", False),
        ("", "0", False),    # seed step never ran
        ("1", "", False),    # hardened step never ran
    ],
)
def test_gate(tmp_path: Path, seed: str, hardened: str, passes: bool) -> None:
    proc = _run_step(_named("Gate"), tmp_path, {"SEED_EXIT": seed, "HARDENED_EXIT": hardened})
    assert (proc.returncode == 0) is passes, proc.stdout + proc.stderr
    if not passes:
        assert "::error::" in proc.stdout
