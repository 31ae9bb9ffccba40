"""Thresholds as JUnit XML, the format Jenkins and GitLab CI show as test results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perflab.load._contracts import LoadThreshold


def junit_xml(results: list[LoadThreshold], *, name: str, duration_s: float) -> str:
    failures = sum(1 for r in results if not r["passed"])
    suite = ET.Element("testsuite", name=f"perflab load: {name}", tests=str(len(results)),
                       failures=str(failures), errors="0", time=f"{duration_s:.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="perflab.load.thresholds",
                             name=r["threshold"], time="0")
        actual = "no data" if r["actual"] is None else f"{r['actual']:g} {r['unit']}"
        if not r["passed"]:
            failure = ET.SubElement(case, "failure", message=f"{r['threshold']}: got {actual}",
                                    type="threshold")
            failure.text = (f"threshold {r['threshold']} failed: measured {actual}, "
                            f"limit {r['op']} {r['limit']:g} {r['unit']}")
        else:
            ET.SubElement(case, "system-out").text = f"measured {actual}"
    suites = ET.Element("testsuites", tests=str(len(results)), failures=str(failures))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
