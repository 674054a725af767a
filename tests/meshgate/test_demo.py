"""`meshgate demo` end to end, as a user runs it: a real subprocess, its summary table checked, then
run again in the same data directory (it must start fresh and tell the same story)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {  # step -> what its outcome must say
    "compatibility engines": r"4 diffs, 2 breaking",
    "contract registry": r"2 subjects at v2, 2 breaking v3 rejected",
    "contract-check in CI": r"caught the breaking change \(exit 1\)",
    "notifications": r"\d+ change events received by a subscriber",
    "Bronze gate": r"accepted, .*1 rejected, 1 duplicate",
    r"Silver and Gold \(dbt\)": r"5 models, \d+ tests passed",
    r"orchestration \(Dagster\)": r"7 tables; rerun: identical tables",
}


def run_demo(data_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    environment.pop("MESHGATE_PII_KEY", None)  # the demo brings its own key
    command = [
        sys.executable,
        "-c",
        "from meshgate.cli import main; main()",
        "demo",
        "--data-dir",
        str(data_dir),
    ]
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def summary(stdout: str) -> dict[str, str]:
    """The closing table's rows: step -> outcome (rich draws it with │ separators)."""
    table = stdout[stdout.rindex("meshgate demo") :]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == 3 and re.fullmatch(r"\d+\.\d", cells[2]):
            rows[cells[0]] = cells[1]
    return rows


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo") / "state"
    cwd = tmp_path_factory.mktemp("elsewhere")  # not the repository: no reliance on the working directory
    return [run_demo(data_dir, cwd) for _ in range(2)]


def test_the_demo_tells_the_whole_story_and_exits_0(runs):
    first = runs[0]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    rows = summary(first.stdout)
    assert len(rows) == len(EXPECTED)
    for step, pattern in EXPECTED.items():
        (outcome,) = [text for name, text in rows.items() if re.fullmatch(step, name)]
        assert re.search(pattern, outcome), f"{step}: {outcome!r} does not match {pattern!r}"


def test_the_demo_shows_the_rejected_batch_reasons_and_the_breaking_change_lines(runs):
    out = runs[0].stdout
    assert "REJECTED" in out and "checkout-bad.jsonl" in out
    assert "TYPE_CHANGED" in out and "CheckoutCompleted.amount" in out  # from contract-check's report


def test_a_second_run_in_the_same_data_dir_starts_fresh_and_tells_the_same_story(runs):
    first, second = runs
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert summary(second.stdout) == summary(first.stdout)


def test_the_demo_stops_the_registry_it_started(runs):
    ports = re.search(r"registry serving gRPC on 127\.0\.0\.1:(\d+)", runs[1].stdout)
    import socket

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(ports.group(1)))) != 0


def test_a_failing_step_stops_the_story_prints_the_summary_and_exits_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from meshgate import demo

    stopped = []

    def starts_something(ctx):
        ctx.cleanup.callback(stopped.append, "server stopped")
        return "started"

    def breaks(ctx):
        raise RuntimeError("the warehouse is gone")

    def never(ctx):
        raise AssertionError("a step after a failure must not run")

    steps = [("start", starts_something), ("break", breaks), ("after", never)]
    monkeypatch.setattr(demo, "STEPS", steps)
    result = CliRunner().invoke(demo.demo, ["--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    rows = summary(result.output)
    assert rows["start"] == "started"
    assert rows["break"] == "FAILED: RuntimeError: the warehouse is gone"
    assert "after" not in rows
    assert stopped == ["server stopped"]


def test_the_demo_ends_with_the_web_console_url_and_serves_nothing_unasked(runs):
    tail = runs[0].stdout[runs[0].stdout.rindex("meshgate demo") :]
    assert "web console: http://127.0.0.1:8081/ui/" in tail
    assert runs[0].returncode == 0  # it exited: without --serve nothing keeps running
