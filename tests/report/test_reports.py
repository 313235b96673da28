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
    _, paths, v = reports
    data = json.loads(paths["verdict"].read_text())
    assert set(data) >= {"run_id", "variant", "backends", "outcome", "headline", "counts", "skipped", "checks",
                         "analyzers"}
    assert data["outcome"] == "fail" and data["backends"]["dynamodb"] == "moto-indexed"
    assert data["headline"] == v.headline() and data["headline"].startswith("FAIL: ")
    assert "durability.no_lost_turns" in data["headline"]
    if "passed" in data:  # legacy field: must agree with the outcome, never contradict it
        assert data["passed"] is False
    names = {c["name"]: c for c in data["checks"]}
    lost = names["durability.no_lost_turns"]
    assert lost["outcome"] == "fail" and lost["required"] is True and lost["measured"] == 2
    for c in data["checks"]:
        assert set(c) >= {"name", "analyzer", "outcome", "required", "optional", "measured", "target", "detail",
                          "reason"}
        assert c["outcome"] in ("pass", "fail", "inconclusive")
        assert c["name"].startswith(c["analyzer"] + ".")
        assert not (c["required"] and c["optional"])
    assert data["counts"] == {o: sum(c["outcome"] == o for c in data["checks"]) for o in ("pass", "fail",
                                                                                        "inconclusive")}
    assert sum(data["counts"].values()) == len(data["checks"]) == len(v.checks)
    assert data["skipped"] == {}
    assert set(data["analyzers"]) == {"requests", "latency", "breaker", "alarms", "partitions", "durability",
                                      "correctness", "run"}


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
    assert md.count("✅") + md.count("❌") + md.count("❔") - 1 == len(v.checks)
    assert md.count("| ❌ |") == sum(c.failed for c in v.checks)
    assert "| ❌ | `durability.no_lost_turns` (required) | 2 |" in md
    assert f"**Verdict:** {v.headline()}" in md
    assert "**Failed turns:** baseline 0/" in md
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


def test_reports_for_empty_run_dir(tmp_path: Path) -> None:
    v = analyze_run(tmp_path)
    assert v.outcome == "inconclusive"
    paths = write_reports(tmp_path, v)
    root = ET.parse(paths["junit"]).getroot()
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("skipped", "0")) == len(ANALYZERS)
    assert int(suite.get("failures", "-1")) == 0 and int(suite.get("errors", "-1")) == 0
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["outcome"] == "inconclusive"
    for case in suite.findall("testcase"):
        assert case.find("skipped") is not None and case.find("failure") is None
    data = json.loads(paths["verdict"].read_text())
    assert data["outcome"] == "inconclusive" and data["counts"]["pass"] == 0 and data.get("passed") is not True
    assert set(data["skipped"]) == {a.name for a in ANALYZERS}
    assert "records/records.jsonl not found" in data["skipped"]["requests"]
    md = paths["summary"].read_text()
    assert md.startswith("## ❔ INCONCLUSIVE") and "✅" not in md and "❌" not in md
    assert "| ❔ | `requests.evidence` (required) |" in md and "records/records.jsonl not found" in md
    html = paths["html"].read_text()
    assert "<span class='badge unsure'>INCONCLUSIVE</span>" in html
    assert "<tr class='pass'>" not in html and "<tr class='fail'>" not in html
    assert html.count("<tr class='inconclusive'>") == len(v.checks) > 0
    assert "skipped" in html.lower()


def test_reports_for_run_with_missing_inputs(tmp_path: Path) -> None:
    """A real run with thin and missing evidence: every report shows the undecided checks as undecided."""
    d = generate(tmp_path / "run", SynthConfig(baseline_s=5.0))  # 100 baseline requests: too few for a p99
    (d / "events.jsonl").unlink()
    (d / "table.jsonl").unlink()
    v = analyze_run(d)
    assert v.outcome == "inconclusive" and not v.failed_checks
    undecided = {c.name for c in v.checks if c.inconclusive}
    assert {"latency.baseline.p99", "breaker.evidence", "durability.evidence"} <= undecided
    paths = write_reports(d, v)

    md = paths["summary"].read_text()
    assert md.startswith("## ❔ INCONCLUSIVE") and "❌" not in md
    assert md.count("| ❔ |") == len(undecided)
    row = next(x for x in md.splitlines() if "`latency.baseline.p99`" in x)
    assert row.startswith("| ❔ |") and "about" in row and "samples would decide it" in row
    assert "| ✅ | `latency.fault.p99` (required) |" in md

    root = ET.parse(paths["junit"]).getroot()
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("failures", "-1")) == 0
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    sk = cases["latency.baseline.p99"].find("skipped")
    assert sk is not None and (sk.get("message") or "").startswith("inconclusive: ")
    assert "299" in (sk.get("message") or "")
    for a in ("breaker", "durability"):  # whole analyzers without their inputs: their evidence check is skipped
        sk = cases[f"{a}.evidence"].find("skipped")
        assert sk is not None and (sk.get("message") or "").startswith("inconclusive: ")
    assert cases["latency.fault.p99"].find("skipped") is None
    assert int(suite.get("skipped", "-1")) == sum(c.find("skipped") is not None for c in cases.values())

    data = json.loads(paths["verdict"].read_text())
    assert data["outcome"] == "inconclusive" and data["headline"].startswith("INCONCLUSIVE: ")
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["latency.baseline.p99"]["outcome"] == "inconclusive"
    assert "samples would decide it" in by_name["latency.baseline.p99"]["reason"]
    assert "events.jsonl" in by_name["breaker.evidence"]["reason"]
    assert data["counts"]["inconclusive"] == len(undecided) and data["counts"]["fail"] == 0

    html = paths["html"].read_text()
    assert "<span class='badge unsure'>INCONCLUSIVE</span>" in html
    assert html.count("<tr class='inconclusive'>") == len(undecided)


def test_junit_keeps_decided_checks_of_a_skipped_analyzer(tmp_path: Path) -> None:
    d = generate(tmp_path / "run", SynthConfig())
    run = json.loads((d / "run.json").read_text())
    run.update(status="aborted", aborted={"reason": "target refused every connection", "requests": 5})
    (d / "run.json").write_text(json.dumps(run))
    (d / "records" / "records.jsonl").unlink()
    v = analyze_run(d)
    assert v.outcome == "fail" and "requests.early_abort" in {c.name for c in v.failed_checks}
    suite = ET.parse(write_reports(d, v)["junit"]).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", "-1")) == len(v.failed_checks)
    case = next((c for c in suite.findall("testcase") if c.get("name") == "requests.early_abort"), None)
    assert case is not None and case.find("failure") is not None


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


def test_each_analyzer_hands_the_reports_a_typed_section(reports: tuple) -> None:  # type: ignore[type-arg]
    """The reports draw from typed sections; each one agrees with the verdict.json block it summarises."""
    from harness.analyzers.sections import (
        AlarmsSection,
        BreakerSection,
        DurabilitySection,
        LatencySection,
        PartitionsSection,
        RequestsSection,
    )

    _, paths, v = reports
    data = json.loads(paths["verdict"].read_text())["analyzers"]
    req = v.section(RequestsSection)
    assert req is not None and [p.phase for p in req.phases] == ["baseline", "fault", "recovery"]
    assert {p.phase: (p.requests, p.failed) for p in req.phases} == {
        ph: (b["requests"], b["failed"]) for ph, b in data["requests"]["by_phase"].items()}
    lat = v.section(LatencySection)
    assert lat is not None and lat.timeseries is not None and lat.spectra
    assert {p.phase: p.corrected.p99 for p in lat.phases} == {
        ph: b["corrected"]["p99"] for ph, b in data["latency"]["by_phase"].items()}
    dur = v.section(DurabilitySection)
    assert dur is not None and dur.lost == data["durability"]["lost_count"] == 2
    br = v.section(BreakerSection)
    assert br is not None and [t.to_state for t in br.transitions] == [
        t["to"] for t in data["breaker"]["transitions"]]
    al = v.section(AlarmsSection)
    assert al is not None and {a.name for a in al.alarms} == set(data["alarms"]["alarms"])
    pa = v.section(PartitionsSection)
    assert pa is not None and list(pa.per_partition_requests) == data["partitions"]["per_partition"]["requests"]
    assert v.info.fault_kind and v.info.fault_window_rel is not None


def test_no_report_reads_analyzer_data_by_string_keys() -> None:
    """The report modules use the typed sections: no ``.data`` of an analyzer result, no ``verdict.run`` dict."""
    import ast

    root = Path(__file__).resolve().parents[2] / "harness" / "report"
    offenders = []
    for path in sorted(p for p in root.glob("*.py") if p.name != "verdict_json.py"):  # it writes the JSON
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "data" and not (
                    isinstance(node.value, ast.Name) and node.value.id == "chunk"):
                offenders.append(f"{path.name}:{node.lineno} .data")
            if isinstance(node, ast.Attribute) and node.attr == "run" and isinstance(node.value, ast.Name) \
                    and node.value.id == "verdict":
                offenders.append(f"{path.name}:{node.lineno} verdict.run")
    assert not offenders, offenders
