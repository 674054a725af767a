"""JSON: the whole report, for scripts (``{"breaking": bool, "contracts": [...]}``)."""

from __future__ import annotations

import json

from ci_plugin.findings import CheckReport


def render(report: CheckReport) -> str:
    return json.dumps(report.to_dict(), indent=2)
