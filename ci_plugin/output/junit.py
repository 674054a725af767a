"""JUnit XML: one test suite, one test case per changed contract, one failure per breaking problem
(warnings and notes, which JUnit has no element for, go to the case's ``system-out``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ci_plugin.findings import CheckReport
from ci_plugin.output.text import location


def render(report: CheckReport) -> str:
    failures = sum(result.breaking for result in report.results)
    suites = ET.Element(
        "testsuites", name="contract-check", tests=str(len(report.results)), failures=str(failures)
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="contract-check",
        tests=str(len(report.results)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for result in report.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"contract-check.{result.status}", name=result.subject
        )
        case.set("file", result.contract_file)
        for finding in [finding for finding in result.findings if finding.breaking]:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{location(finding.file, finding.line)}: {finding.message}",
                type=finding.rule,
            )
            failure.text = "\n".join(
                filter(
                    None,
                    [
                        f"{location(finding.file, finding.line)} {finding.path}",
                        finding.message,
                        finding.fix and f"Fix: {finding.fix}",
                    ],
                )
            )
        informational = [
            f"{finding.severity}: {location(finding.file, finding.line)} {finding.rule} {finding.path}: {finding.message}"
            for finding in result.findings
            if not finding.breaking
        ]
        if result.notes or informational:
            ET.SubElement(case, "system-out").text = "\n".join([*informational, *result.notes])
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
