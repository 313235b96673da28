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
SYSTEM_COMMANDS = {"apt-get", "echo", "cat", "set", "exit", "continue", "[", "test", "true", "read"}
# The GitHub CLI (preinstalled on GitHub's runners): only these subcommands.
GH_SUBCOMMANDS = {("run", "list"), ("run", "download"), ("pr", "comment")}
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
    elif tool == "gh":
        assert tuple(argv[1:3]) in GH_SUBCOMMANDS, f"{argv}: unexpected gh subcommand"
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
    upload = _named("Upload the reports")
    assert upload["uses"].startswith("actions/upload-artifact@")
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
        "COMPARE_EXIT": "${{ steps.compare.outputs.exit_code }}",
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


@pytest.mark.parametrize(
    ("compare", "passes", "message"),
    [
        ("", True, None),        # no baseline yet (first run on main, or a pull request before one)
        ("0", True, None),       # no regression
        ("3", True, "::notice::"),  # inconclusive: too few samples, not a failure
        ("1", False, "regression against main's baseline"),
        ("2", False, "harness compare errored"),
    ],
)
def test_gate_on_the_comparison(tmp_path: Path, compare: str, passes: bool, message: str | None) -> None:
    proc = _run_step(_named("Gate"), tmp_path, {"SEED_EXIT": "1", "HARDENED_EXIT": "0", "COMPARE_EXIT": compare})
    assert (proc.returncode == 0) is passes, proc.stdout + proc.stderr
    if message:
        assert message in proc.stdout


# --- the baseline-vs-PR comparison ------------------------------------------------
def test_repetitions_are_the_hardened_experiment_five_times() -> None:
    step = _step("repeats")
    runs = [argv for argv in h.shell_commands(step["run"]) if argv[0] == "harness"]
    assert len(runs) == 1
    params = h.check_harness_argv(runs[0]).params
    hardened = h.check_harness_argv(next(a for a in h.shell_commands(_step("hardened")["run"])
                                         if a[0] == "harness")).params
    for key in ("quick", "dynamo_latency", "variant", "users", "scenario"):
        assert params[key] == hardened[key], key
    assert Path(params["report_dir"]) == Path("reports") / "repeats"
    assert params["repeat"] == 5  # >= 5 a side: run-level statistics
    assert step.get("if") == "${{ !cancelled() }}"


def test_repetitions_step_goes_on_when_runs_fail(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_harness(bin_dir)
    log = tmp_path / "log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_EXIT": "1", "FAKE_LOG": str(log)}
    proc = _run_step(_step("repeats"), tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "--repeat 5" in log.read_text()


def test_baseline_is_published_on_main_and_compared_on_pull_requests() -> None:
    publish = _named("Publish the baseline")
    assert publish["uses"].startswith("actions/upload-artifact@")
    assert publish["with"]["name"] == "latency-baseline"
    assert publish["with"]["path"].rstrip("/") == "reports/repeats"
    assert "github.event_name == 'push'" in publish["if"] and "refs/heads/main" in publish["if"]
    download = _step("baseline")
    assert "github.event_name == 'pull_request'" in download["if"]
    assert download["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "--name latency-baseline" in download["run"]
    assert "--workflow latency-report.yml" in download["run"] and "--branch main" in download["run"]
    perms = _workflow()["permissions"]
    assert perms["actions"] == "read" and perms["pull-requests"] == "write" and perms["contents"] == "read"
    compare = _step("compare")
    assert compare["if"] == "${{ steps.baseline.outputs.found == 'true' && !cancelled() }}"
    for argv in h.shell_commands(compare["run"]):
        if argv[0] == "harness":
            ctx = h.check_harness_argv(argv)
            assert ctx.params["base"] == Path("baseline") and ctx.params["new"] == Path("reports/repeats")


def _fake_gh(bin_dir: Path) -> None:
    """A stand-in `gh`: `run list` prints $FAKE_RUN_ID, `run download` makes the dir, `pr comment` exits
    $FAKE_GH_EXIT."""
    script = bin_dir / "gh"
    script.write_text(
        "#!/bin/sh\n"
        'echo "gh $@" >> "$FAKE_LOG"\n'
        'if [ "$1 $2" = "run list" ]; then echo "$FAKE_RUN_ID"; exit 0; fi\n'
        'if [ "$1 $2" = "run download" ]; then\n'
        '  [ "$FAKE_DOWNLOAD" = "ok" ] || exit 1\n'
        '  dir=""; prev=""; for a in "$@"; do [ "$prev" = "--dir" ] && dir="$a"; prev="$a"; done\n'
        '  mkdir -p "$dir/run-1"; exit 0\n'
        "fi\n"
        'exit "${FAKE_GH_EXIT:-0}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(("run_id", "download", "found"), [("123", "ok", "true"), ("", "ok", "false"),
                                                           ("123", "fail", "false")])
def test_baseline_download(tmp_path: Path, run_id: str, download: str, found: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_gh(bin_dir)
    output, log = tmp_path / "output", tmp_path / "log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
           "FAKE_LOG": str(log), "FAKE_RUN_ID": run_id, "FAKE_DOWNLOAD": download, "GITHUB_REPOSITORY": "o/r"}
    proc = _run_step(_step("baseline"), tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().splitlines() == [f"found={found}"]
    if found == "true":
        assert (tmp_path / "baseline" / "run-1").is_dir()
        assert "gh run download 123" in log.read_text()


def _fake_compare(bin_dir: Path) -> None:
    script = bin_dir / "harness"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> "$FAKE_LOG"\n'
        'out=""; prev=""; for a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done\n'
        'mkdir -p "$(dirname "$out")" && echo "| phase | metric | verdict |" > "$out"\n'
        'exit "$FAKE_EXIT"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_compare_step_records_exit_code_and_fills_the_summary(tmp_path: Path, code: int) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_compare(bin_dir)
    output, log, summary = tmp_path / "output", tmp_path / "log", tmp_path / "summary.md"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
           "FAKE_LOG": str(log), "FAKE_EXIT": str(code), "GITHUB_STEP_SUMMARY": str(summary)}
    proc = _run_step(_step("compare"), tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().splitlines() == [f"exit_code={code}"]
    assert "| phase | metric | verdict |" in summary.read_text()
    calls = log.read_text().splitlines()
    assert calls[0].startswith("compare baseline reports/repeats --format md")
    assert any("--format html" in c for c in calls)


@pytest.mark.parametrize("gh_exit", ["0", "1"])
def test_pr_comment_never_fails_the_job(tmp_path: Path, gh_exit: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_gh(bin_dir)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "compare.md").write_text("table\n")
    log = tmp_path / "log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(log), "FAKE_GH_EXIT": gh_exit,
           "PR_NUMBER": "7", "GITHUB_REPOSITORY": "o/r"}
    proc = _run_step(_named("Comment the comparison"), tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "gh pr comment 7 --repo o/r --body-file reports/compare.md" in log.read_text()
    if gh_exit != "0":
        assert "::notice::" in proc.stdout
