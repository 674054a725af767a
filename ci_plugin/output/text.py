"""Text for people: grouped by contract, each finding with file:line, what breaks and the fix."""

from __future__ import annotations

import click

from ci_plugin.findings import CheckReport, ContractResult


def location(file: str, line: int | None) -> str:
    return f"{file}:{line}" if line else file


def render(report: CheckReport) -> str:
    lines = [
        f"contract-check: {len(report.results)} changed contract(s) since {report.base[:12]} ({report.mode})"
    ]
    lines += [click.style(f"note: {note}", fg="cyan") for note in report.notes]
    for result in report.results:
        lines.append("")
        lines += _contract(result)
    broken = sum(result.breaking for result in report.results)
    lines.append("")
    if broken:
        count = sum(finding.breaking for _, finding in report.findings)
        lines.append(
            click.style(f"BREAKING: {count} problem(s) in {broken} contract(s)", fg="red", bold=True)
        )
    else:
        lines.append(click.style("OK: no breaking contract changes", fg="green", bold=True))
    return "\n".join(lines)


def _contract(result: ContractResult) -> list[str]:
    verdict = (
        click.style("BREAKING", fg="red", bold=True) if result.breaking else click.style("ok", fg="green")
    )
    level = f", {result.level}" if result.level else ""
    lines = [
        f"{verdict} {click.style(result.subject, bold=True)} ({result.status}; {result.contract_file}; "
        f"against {result.checked_against}{level})"
    ]
    for finding in result.findings:
        lines.append(
            f"  {click.style(location(finding.file, finding.line), bold=True)} "
            f"{'' if finding.breaking else finding.severity + ' '}"
            f"{click.style(finding.rule, fg='yellow' if finding.breaking else 'cyan')} {finding.path}".rstrip()
        )
        lines.append(f"    {finding.message}")
        if finding.fix:
            lines.append(f"    fix: {finding.fix}")
    lines += [f"  note: {note}" for note in result.notes]
    return lines
