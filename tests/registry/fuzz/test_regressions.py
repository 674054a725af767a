"""Every failing example a fuzz run saved (regressions/*.json), replayed through its entry point."""

from __future__ import annotations

import pytest

from tests.registry.fuzz.console_inputs import CHECKS
from tests.registry.fuzz.harness import regressions


@pytest.mark.parametrize("entry, value, name", regressions(), ids=[name for _, _, name in regressions()])
def test_a_saved_failing_example_is_answered_without_a_500(targets, entry, value, name):
    _, check = CHECKS[entry]
    check(targets, value)
