"""Every experiment in ``experiments/`` under ``--quick``, on both designs, must meet its expectations.

About 15 min of chaos runs, so behind the ``experiments`` marker:
``python -m pytest -m experiments tests/experiments``. ``EXPERIMENTS_RESULTS=FILE``
appends one JSON line per run (exit code, each expectation's result), which is
where the README's table of results comes from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.experiments

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("variant", ["hardened", "seed"])
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_experiment_meets_its_expectations(path: Path, variant: str, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "HARNESS_HOME": str(tmp_path / "home")}
    args = [sys.executable, "-m", "harness", "chaos", "--experiment", str(path), "--report-dir", str(tmp_path)]
    if variant == "seed":
        args += ["--variant", "seed"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env)
    runs = [p for p in tmp_path.glob("*/") if (p / "experiment.json").is_file()]
    assert runs, proc.stderr[-3000:]
    result = json.loads((runs[0] / "experiment.json").read_text())
    if os.environ.get("EXPERIMENTS_RESULTS"):
        with open(os.environ["EXPERIMENTS_RESULTS"], "a") as fh:
            fh.write(json.dumps({"experiment": path.stem, "variant": variant, "exit": proc.returncode,
                                 "expectations": result["expectations"]}) + "\n")
    assert proc.returncode == result["exit_code"] == 0, json.dumps(result["expectations"], indent=1)
