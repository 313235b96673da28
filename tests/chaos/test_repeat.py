"""``harness chaos --repeat N``: N independent runs in one directory, the worst verdict as the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chaos.repeat import Repetition, _table, _worst


def test_the_worst_verdict_decides_the_exit_code() -> None:
    assert _worst([0, 0, 0]) == 0
    assert _worst([0, 3, 0]) == 3
    assert _worst([3, 1, 0]) == 1
    assert _worst([0, 130]) == 130


def test_the_table_shows_each_run_and_the_spread() -> None:
    runs = [Repetition(f"/r/run{i}", 7 + i, "pass", 0, {"baseline": p, "fault": 2 * p, "recovery": None})
            for i, p in enumerate((10.0, 30.0, 20.0))]
    table = _table(runs)
    assert "| run0 | 7 | pass | 10.0 | 20.0 | – |" in table
    assert "| **min / median / max** | | | 10.0 / 20.0 / 30.0 | 20.0 / 40.0 / 60.0 | – |" in table


@pytest.mark.slow
@pytest.mark.long
def test_two_repetitions_land_in_one_directory(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "HARNESS_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "chaos", "--quick", "--repeat", "2", "--seed", "40", "--baseline", "3s",
         "--fault", "3s", "--recovery", "3s", "--report-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env)
    series = next((tmp_path / "reports").glob("repeat-*"))
    summary = json.loads((series / "repeat.json").read_text())
    assert summary["completed"] == 2 and [r["seed"] for r in summary["runs"]] == [40, 41]
    assert all((Path(r["run_dir"]) / "verdict.json").is_file() for r in summary["runs"])
    assert proc.returncode == summary["exit_code"] == _worst([r["exit_code"] for r in summary["runs"]])
    assert "min / median / max" in proc.stdout and (series / "repeat.md").is_file()


def test_repeat_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "chaos", "--quick", "--repeat", "0"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "--repeat must be between 1 and 100" in proc.stderr
