"""SARIF 2.1.0: for code-scanning dashboards (GitHub code scanning, GitLab, IDEs)."""

from __future__ import annotations

import json

from ci_plugin.findings import CheckReport

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def render(report: CheckReport) -> str:
    rules: dict[str, dict] = {}
    results = []
    for result, finding in report.findings:
        rules.setdefault(
            finding.rule,
            {
                "id": finding.rule,
                "shortDescription": {
                    "text": f"{'Breaking' if finding.breaking else 'Data contract'} change: {finding.rule}"
                },
            },
        )
        region = {"startLine": finding.line} if finding.line else None
        physical = {"artifactLocation": {"uri": finding.file}}
        if region:
            physical["region"] = region
        text = f"{result.subject}: {finding.message}" + (f" Fix: {finding.fix}" if finding.fix else "")
        entry = {
            "ruleId": finding.rule,
            "level": finding.severity,
            "message": {"text": text},
            "locations": [{"physicalLocation": physical}],
        }
        if finding.path:
            entry["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": finding.path}]
        if finding.consumers:
            entry["properties"] = {"consumers": list(finding.consumers)}
        results.append(entry)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "contract-check", "rules": list(rules.values())}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)
