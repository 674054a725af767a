"""Rendering compatibility results for people (text, coloured on a terminal) and machines (JSON)."""

from __future__ import annotations

import json

import click

from registry.compat import CompatibilityResult


def render_json(result: CompatibilityResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def render_text(result: CompatibilityResult, new_file: str, level: str) -> str:
    if result.compatible:
        return click.style(f"compatible: {new_file} passes {level}", fg="green")
    count = len(result.violations)
    lines = [
        click.style(
            f"BREAKING: {new_file} fails {level} ({count} violation{'s' * (count != 1)})", fg="red", bold=True
        )
    ]
    for v in result.violations:
        where = f"{new_file}:{v.line}" if v.line else new_file
        lines.append(f"  {click.style(where, bold=True)} {click.style(v.rule, fg='yellow')} {v.path}")
        lines.append(f"    {v.message}")
    return "\n".join(lines)
