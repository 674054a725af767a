"""JUnit XML: one test suite, one test case per changed contract, one failure per problem."""

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
        for finding in result.findings:
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
        if result.notes:
            ET.SubElement(case, "system-out").text = "\n".join(result.notes)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
