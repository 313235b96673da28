"""junit.xml: one testcase per check, so CI systems show each resilience claim as a test.

Follows the common JUnit XML schema: ``<testsuites>`` with one ``<testsuite name
tests failures errors skipped time>``; each check is a ``<testcase classname
name>``; a failed check carries ``<failure message type>`` with measured vs
target; an inconclusive one is ``<skipped message>`` carrying why it could not be
decided. Skipped analyzers appear as one skipped testcase each.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.analyzers.base import Verdict


def build_junit(verdict: Verdict) -> ET.ElementTree:
    suites = ET.Element("testsuites", name="memory-chaos-harness")
    suite = ET.SubElement(suites, "testsuite", name=f"chaos.{verdict.run_id}")
    tests = failures = skipped = errors = 0
    for aname, res in verdict.results.items():
        if res.status == "skipped" and not res.checks:
            tc = ET.SubElement(suite, "testcase", classname=f"harness.{aname}", name=f"{aname}.analyzer", time="0")
            ET.SubElement(tc, "skipped", message=res.reason or "skipped")
            tests += 1
            skipped += 1
            continue
        for c in res.checks:
            tests += 1
            tc = ET.SubElement(suite, "testcase", classname=f"harness.{aname}", name=c.name, time="0")
            if c.inconclusive:
                skipped += 1
                ET.SubElement(tc, "skipped", message=f"inconclusive: {c.reason or 'not enough evidence'}").text = \
                    f"measured {c.measured} vs target {c.target}. {c.detail}"
            elif not c.passed:
                kind = "error" if res.status == "error" else "failure"
                if kind == "error":
                    errors += 1
                else:
                    failures += 1
                el = ET.SubElement(tc, kind, message=f"measured {c.measured} vs target {c.target}",
                                   type="CheckFailed")
                el.text = c.detail
            else:
                out = ET.SubElement(tc, "system-out")
                out.text = f"measured {c.measured} vs target {c.target}. {c.detail}"
    for el, n in ((suite, tests), (suites, tests)):
        el.set("tests", str(n))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", "0")
    ET.SubElement(suite, "properties")
    props = suite.find("properties")
    assert props is not None
    for k, v in (("variant", verdict.variant), ("outcome", verdict.outcome), ("passed", str(verdict.passed).lower())):
        ET.SubElement(props, "property", name=k, value=v)
    suite.remove(props)
    suite.insert(0, props)
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(path: Path, verdict: Verdict) -> Path:
    build_junit(verdict).write(path, encoding="utf-8", xml_declaration=True)
    return path
