"""Retention periods are shown in the unit they were given in (7y, not 2557d)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from lakehouse import IngestRequest, ingest, resolve_contract
from lakehouse.retention import SEVEN_YEARS, format_duration, parse_duration, retention_label
from meshgate.cli import main
from meshgate.demo import load_generator


@pytest.mark.parametrize("text", ["7y", "1y", "4y", "90d", "1d", "12w", "30d"])
def test_a_duration_is_shown_as_it_was_written(text):
    expected = {"30d": "30d"}.get(text, text)
    assert format_duration(parse_duration(text)) == expected


def test_the_default_retention_reads_seven_years():
    assert format_duration(SEVEN_YEARS) == "7y"
    assert format_duration(timedelta(days=2557)) == "7y"


def test_lakehouse_maintain_shows_retention_in_years(tmp_path):
    generate = load_generator()
    batch = tmp_path / "checkout.jsonl"
    generate.write("checkout", batch, 20, seed=1)
    contract = resolve_contract("checkout.CheckoutCompleted", contract_file=generate.CONTRACTS["checkout"])
    assert ingest(IngestRequest([batch], contract, data_dir=tmp_path)).status == "accepted"
    result = CliRunner().invoke(
        main, ["lakehouse", "maintain", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "bronze.checkout__checkout_completed" in line)
    assert "7y (2557d)" in row  # the unit it was given in, then the exact days


def test_a_retention_label_adds_the_days_only_when_the_unit_is_not_days():
    assert retention_label(SEVEN_YEARS) == "7y (2557d)"
    assert retention_label(parse_duration("90d")) == "90d"
