"""Report formats of ``contract-check check``: one module per format, each ``render(report) -> str``."""

from __future__ import annotations

from collections.abc import Callable

from ci_plugin.findings import CheckReport
from ci_plugin.output import github, json_report, junit, sarif, text

RENDERERS: dict[str, Callable[[CheckReport], str]] = {
    "text": text.render,
    "github": github.render,
    "json": json_report.render,
    "junit": junit.render,
    "sarif": sarif.render,
}
