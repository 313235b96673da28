"""The run's HTML report gains the ``scale`` section once ``harness project`` ran, and a real browser renders it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from harness.analyzers import analyze_run
from harness.report import write_reports
from tests.analyzers.synth import SynthConfig, generate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_project_adds_the_scale_section_and_chromium_renders_it(tmp_path: Path) -> None:
    run = generate(tmp_path / "run", SynthConfig())
    write_reports(run, analyze_run(run))
    assert "id='scale'" not in (run / "report.html").read_text()
    proc = subprocess.run([sys.executable, "-m", "harness", "project", str(run), "--sessions-per-day", "100k",
                           "--days", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr  # 1 only if a scale gate failed; both write the section
    html = (run / "report.html").read_text()
    assert "id='scale'" in html and "Scale projection: 100,000 sessions/day" in html
    # A real browser renders the page with the section (headless Chromium, as CI installs it).
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed (.ci/run installs it)"
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,4000",
                    (run / "report.html").as_uri()], check=True, timeout=90, capture_output=True)
    assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 20_000
