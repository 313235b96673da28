"""Reports written for real from analyzed synthetic runs, then parsed back."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# plain `pytest` does not put the repo root on sys.path; `tests.analyzers.synth` needs it
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analyzers import ANALYZERS, analyze_run
from harness.report import write_reports
from tests.analyzers.synth import SynthConfig, generate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], object]:
    d = generate(tmp_path_factory.mktemp("run"), SynthConfig(zipf=True, lost_turns=2))
    v = analyze_run(d)
    return d, write_reports(d, v), v


def test_verdict_json_matches_contract(reports: tuple) -> None:  # type: ignore[type-arg]
    _, paths, _v = reports
    data = json.loads(paths["verdict"].read_text())
    assert set(data) >= {"run_id", "variant", "backends", "passed", "checks", "analyzers"}
    assert data["passed"] is False and data["backends"]["dynamodb"] == "moto-indexed"
    names = {c["name"]: c for c in data["checks"]}
    assert names["durability.no_lost_turns"]["passed"] is False
    assert names["durability.no_lost_turns"]["measured"] == 2
    for c in data["checks"]:
        assert set(c) >= {"name", "analyzer", "passed", "measured", "target", "detail"}
    assert set(data["analyzers"]) == {"latency", "breaker", "alarms", "partitions", "durability", "correctness", "run"}


def test_junit_counts_and_failures(reports: tuple) -> None:  # type: ignore[type-arg]
    _, paths, v = reports
    root = ET.parse(paths["junit"]).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == len(v.checks)
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "-1")) == len(failures) == len(v.failed_checks)
    f = next(c for c in failures if c.get("name") == "durability.no_lost_turns").find("failure")
    assert f is not None and "measured 2 vs target" in (f.get("message") or "")


def test_summary_markdown(reports: tuple) -> None:  # type: ignore[type-arg]
    _, paths, v = reports
    md = paths["summary"].read_text()
    assert md.startswith("## ❌ FAIL")
    assert md.count("✅") + md.count("❌") - 1 == len(v.checks)
    assert "**Lost turns:** 2 of" in md and "**Breaker:** open@" in md and "moto-indexed" in md
    assert "**Alarm circuit_open:** fired t+35.0s" in md


def test_html_self_contained_with_plots(reports: tuple) -> None:  # type: ignore[type-arg]
    _, paths, v = reports
    html = paths["html"].read_text()
    imgs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(imgs) == 5
    for b in imgs:
        assert base64.b64decode(b)[:8] == PNG_MAGIC
    assert "<link" not in html and "<script" not in html and "http://" not in html
    assert html.count("<tr class='fail'>") == len(v.failed_checks)
    assert "anthropic-standin" in html and "Partition load" in html


def test_reports_for_run_with_missing_inputs(tmp_path: Path) -> None:
    v = analyze_run(tmp_path)
    paths = write_reports(tmp_path, v)
    root = ET.parse(paths["junit"]).getroot()
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("skipped", "0")) == len(ANALYZERS)
    assert json.loads(paths["verdict"].read_text())["passed"] is True
    assert "skipped" in paths["html"].read_text().lower()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium not installed at /usr/bin/chromium")
def test_html_renders_headless(reports: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, paths, _ = reports
    shot = tmp_path / "shot.png"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,3000", paths["html"].as_uri()], check=True, timeout=60,
                   capture_output=True)
    assert shot.read_bytes()[:8] == PNG_MAGIC
