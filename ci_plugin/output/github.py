"""GitHub Actions: workflow commands (annotations on the pull request) and a Markdown job summary.

Escaping follows the runner's rules: in the message ``%``, ``\\r`` and ``\\n`` become ``%25``,
``%0D`` and ``%0A``; in property values ``:`` and ``,`` also become ``%3A`` and ``%2C``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ci_plugin.findings import CheckReport


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: object) -> str:
    props = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def render(report: CheckReport) -> str:
    lines = [command("notice", note) for note in report.notes]
    for result, finding in report.findings:
        message = f"{finding.message}\nFix: {finding.fix}" if finding.fix else finding.message
        lines.append(
            command(
                finding.severity if finding.severity in ("error", "warning") else "notice",
                message,
                file=finding.file,
                line=finding.line,
                title=f"{result.subject}: {finding.rule}",
            )
        )
    for result in report.results:
        lines += [
            command("notice", note, file=result.contract_file, title=result.subject) for note in result.notes
        ]
    summary = markdown_summary(report)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with Path(summary_path).open("a", encoding="utf-8") as out:
            out.write(summary + "\n")
    verdict = "breaking changes found" if report.breaking else "no breaking changes"
    lines.append(f"contract-check: {len(report.results)} changed contract(s), {verdict}")
    return "\n".join(lines)


def markdown_summary(report: CheckReport) -> str:
    """The job summary: a table of changed contracts, then each problem with its fix."""
    icon = "❌" if report.breaking else "✅"
    lines = [
        f"## {icon} contract-check",
        "",
        f"Base `{report.base[:12]}`, checked {report.mode}.",
        "",
        "| contract | change | result | problems |",
        "| --- | --- | --- | --- |",
    ]
    for result in report.results:
        verdict = "breaking" if result.breaking else "ok"
        problems = sum(finding.breaking for finding in result.findings)
        lines.append(f"| `{result.subject}` | {result.status} | {verdict} | {problems} |")
    for result, finding in report.findings:
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        severity = "" if finding.breaking else f" ({finding.severity})"
        lines += ["", f"### `{result.subject}` `{finding.rule}`{severity} at `{where}`", "", finding.message]
        if finding.fix:
            lines += ["", f"**Fix:** {finding.fix}"]
    for note in report.notes:
        lines += ["", f"> {note}"]
    return "\n".join(lines)
