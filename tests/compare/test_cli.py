"""``harness compare`` as a user runs it: exit codes, the three formats, and the page in a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compare.synth import Spec, write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "compare", *map(str, args), "--resamples", "400"],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sides")
    return {"base": write_run(root / "base", Spec(seed=1)), "same": write_run(root / "same", Spec(seed=2)),
            "slower": write_run(root / "slower", Spec(seed=3, dynamo_extra_ms=20.0))}


def test_no_change_exits_0_with_a_benchstat_like_table(sides: dict[str, Path]) -> None:
    proc = _compare(sides["base"], sides["same"], "--noise-floor", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("### harness compare: **no significant change**")
    assert "| phase | series | metric | base | new | delta | 95% CI | p (Holm) | verdict |" in proc.stdout
    assert "| ~ |" in proc.stdout and "| regression" not in proc.stdout


def test_a_regression_exits_1_and_the_json_holds_the_true_shift(sides: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp.json"
    proc = _compare(sides["base"], sides["slower"], "--noise-floor", "0", "--format", "json", "--output", out)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "" and proc.stderr.startswith("regression: wrote ")
    data = json.loads(out.read_text())
    assert data["verdict"] == "regression" and data["exit_code"] == 1
    row = next(r for r in data["rows"] if (r["phase"], r["series"], r["stat"]) == ("fault", "dynamodb.write", "p50"))
    assert row["verdict"] == "regression" and row["ci_low"] <= 20.0 <= row["ci_high"], row


def test_under_the_noise_floor_single_runs_are_inconclusive_exit_3(sides: dict[str, Path]) -> None:
    proc = _compare(sides["base"], sides["slower"])  # default floor: 400 %, measured by A/A runs
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "**inconclusive**" in proc.stdout and "noise floor of 400%" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "xml"), "--format must be one of md, json, html"),
    (("--alpha", "2"), "--alpha must be between 0 and 1"),
    (("--min-effect", "lots"), "--min-effect takes a share like 5% or 0.05"),
    (("--min-effect", "150%"), "--min-effect must be at least 0 and below 100%"),
    (("--unit", "weeks"), "--unit must be one of"),
    (("--resamples", "10"), "--resamples must be at least 100"),
])
def test_bad_flags_exit_2_before_reading_anything(sides: dict[str, Path], args: tuple[str, ...],
                                                 message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "compare", str(sides["base"]), str(sides["same"]), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_directory_without_runs_exits_2(sides: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for other in (tmp_path / "empty", tmp_path / "missing"):
        proc = _compare(sides["base"], other)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr


def test_the_html_page_renders_in_chromium_with_both_plots(sides: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "cmp.html"
    proc = _compare(sides["base"], sides["slower"], "--noise-floor", "0", "--format", "html", "--output", page)
    assert proc.returncode == 1, proc.stderr
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed (.ci/run installs it)"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], check=True, timeout=90, capture_output=True,
                         text=True).stdout
    assert "<h1>harness compare: regression</h1>" in dom
    assert dom.count('src="data:image/png;base64,') == 2 and dom.count("<tr class=\"regression\">") >= 3, dom[:2000]
    shot = tmp_path / "shot.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri()], check=True,
                   timeout=90, capture_output=True)
    assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 20_000
