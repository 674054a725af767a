"""One figure a line: the human sentence and, for trackers, one line of JSON.

Every benchmark reports through ``figure`` so ``make bench`` can gather the JSON lines into the
summary table (``benchmarks._summary``) and a tracker can read them without parsing prose.
"""

from __future__ import annotations

import json

PREFIX = "FIGURE "  # the JSON lines start with this, so the summary finds them in any output


def figure(name: str, value: float, baseline: float, unit: str = "", note: str = "") -> dict:
    """Print ``name``: value against its baseline measured in the same run, as prose and as JSON."""
    ratio = round(value / baseline, 3) if baseline else None
    text = f"{name}: {value:,.6g}{' ' + unit if unit else ''} (baseline {baseline:,.6g}, ratio {ratio})"
    print(text + (f"  {note}" if note else ""))
    record = {"name": name, "value": value, "baseline": baseline, "ratio": ratio, "unit": unit}
    print(PREFIX + json.dumps(record), flush=True)
    return record
