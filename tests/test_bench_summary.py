"""``benchmarks._summary``: the table ``make bench`` ends with, from the benchmarks' FIGURE lines."""

from __future__ import annotations

import json

from benchmarks._report import PREFIX
from benchmarks._summary import figures, main


def _line(name: str, value: float, baseline: float) -> str:
    return PREFIX + json.dumps(
        {"name": name, "value": value, "baseline": baseline, "ratio": value / baseline}
    )


def test_the_summary_lists_every_figure_of_the_logs_in_order(tmp_path, capsys):
    (tmp_path / "a.log").write_text(f"prose\n{_line('alpha', 2.0, 4.0)}\nmore prose\n")
    (tmp_path / "b.log").write_text(_line("beta", 12_345.6, 10_000.0) + "\n")
    assert main([str(tmp_path / "a.log"), str(tmp_path / "b.log")]) == 0
    header, alpha, beta = capsys.readouterr().out.splitlines()
    assert header.split() == ["name", "value", "baseline", "ratio", "unit"]
    assert alpha.split() == ["alpha", "2", "4", "0.5", "-"]
    assert beta.split()[:3] == ["beta", "12,346", "10,000"]


def test_a_malformed_figure_line_is_named_and_skipped(capsys):
    records = figures([PREFIX + "{not json", _line("ok", 1.0, 1.0)])
    assert [record["name"] for record in records] == ["ok"]
    assert "line 1: not a FIGURE record" in capsys.readouterr().err


def test_a_log_that_cannot_be_read_is_named_and_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing.log")]) == 2
    assert "missing.log: cannot read" in capsys.readouterr().err


def test_a_run_without_figures_says_so(tmp_path, capsys):
    (tmp_path / "empty.log").write_text("no figures here\n")
    assert main([str(tmp_path / "empty.log")]) == 0
    assert capsys.readouterr().out.strip() == "no FIGURE lines found"
