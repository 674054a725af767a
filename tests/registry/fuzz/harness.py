"""The fuzzing harness: Hypothesis inputs for every entry point, run for a time budget each.

``make test`` runs the quick profile (``FUZZ_SECONDS`` per entry point, a few seconds); ``make fuzz
DURATION=600`` the long one (``MESHGATE_FUZZ_SECONDS`` split over the entry points). An input that
breaks a property is shrunk by Hypothesis, then saved under ``regressions/`` as a JSON file, which
``test_regressions.py`` replays on every run from then on: the failing example becomes a test.
Every input tried is counted per entry point; the counts are printed at the end of the run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
QUICK_SECONDS = 3.0
ENTRY_POINTS = (
    13  # how many targets share the long profile's time (console_inputs.CHECKS and the stateful test)
)
BATCH = 20  # examples per Hypothesis run; runs repeat until the budget is spent

tried: Counter[str] = Counter()
failures: Counter[str] = Counter()


def budget() -> float:
    """Seconds of fuzzing per entry point: the long profile's share, or the quick default."""
    total = os.environ.get("MESHGATE_FUZZ_SECONDS")
    return float(total) / ENTRY_POINTS if total else QUICK_SECONDS


def fuzz(entry: str, strategy: st.SearchStrategy, check: Callable[[Any], None]) -> None:
    """Run ``check`` on inputs of ``strategy`` until the entry point's budget is spent; a failure is
    shrunk, saved as a regression and raised."""
    failing: list[Any] = []

    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(value: Any) -> None:
        tried[entry] += 1
        try:
            check(value)
        except Exception:
            failing.append(value)
            raise

    deadline = time.monotonic() + budget()
    while True:
        try:
            run()
        except Exception:
            failures[entry] += 1
            if failing:  # Hypothesis's own errors (Unsatisfiable, Flaky) come with no input to keep
                save_regression(entry, failing[-1])  # the last failure Hypothesis ran is the shrunk one
            raise
        if time.monotonic() >= deadline:
            return


def encode(value: Any) -> Any:
    """JSON for a fuzz input (bytes as ``{"base64": ...}``, tuples as lists)."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, dict) and "dict" in value:
        return {decode(k): decode(v) for k, v in value["dict"]}
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    return value


def save_regression(entry: str, value: Any) -> Path:
    text = json.dumps({"entry": entry, "input": encode(value)}, sort_keys=True, ensure_ascii=True)
    path = REGRESSIONS / f"{entry}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text + "\n")
    return path


def regressions() -> list[tuple[str, Any, str]]:
    """(entry point, input, file name) of every saved regression."""
    found = []
    for path in sorted(REGRESSIONS.glob("*.json")):
        saved = json.loads(path.read_text())
        found.append((saved["entry"], decode(saved["input"]), path.name))
    return found
