"""`meshgate demo` end to end, as a user runs it: a real subprocess, its summary table checked, then
run again in the same data directory (it must start fresh and tell the same story)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The demo runs twice (in the module's fixture), then the commands it printed: more than one test's 300 s.
pytestmark = pytest.mark.timeout(1200)
ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {  # step -> what its outcome must say
    "compatibility engines": r"4 diffs, 2 breaking",
    "contract registry": r"3 subjects at v2, 3 breaking v3 rejected",
    "contract-check in CI": r"caught the breaking change \(exit 1\)",
    "notifications": r"\d+ change events received by a subscriber",
    "Bronze gate": r"accepted, .*2 rejected, 1 duplicate",
    r"Silver and Gold \(dbt\)": r"7 models, \d+ tests passed",
    r"orchestration \(Dagster\)": r"10 tables; rerun: identical tables",
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
    assert "REJECTED" in out and "checkout-bad.jsonl" in out and "pageview-bad.jsonl" in out
    assert "gold.daily_page_views (first day, busiest pages)" in out
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


def printed_commands(stdout: str) -> list[tuple[str, int]]:
    """The ``$ command  # exit N: why`` lines the demo printed: (command line, the exit code it expects)."""
    commands = []
    for line in stdout.splitlines():
        if line.startswith("$ "):
            expected = re.search(r"  # exit (\d+):", line)
            commands.append((line[2:], int(expected.group(1)) if expected else 0))
    return commands


def test_every_command_the_demo_prints_runs_as_printed_from_the_repository_root(runs):
    """After the demo: the registry served again as printed, then each printed command, in order; the
    tour's breaking branch is caught offline by the dbt model and online by the registered consumer."""
    import shutil
    import socket
    import time

    stdout = runs[1].stdout
    commands = printed_commands(stdout)
    servers = [command for command, _ in commands if " serve " in f" {command} "]
    assert len(servers) == 1, servers
    assert any("examples/breaking-branch.sh" in command for command, _ in commands)
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("MESHGATE_PII_KEY", None)
    environment.pop("MESHGATE_REGISTRY", None)
    bash = shutil.which("bash")
    server = subprocess.Popen(
        [bash, "-c", f"exec {servers[0]}"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(re.search(r"--grpc-port (\d+)", servers[0]).group(1))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        assert server.poll() is None, server.stderr.read()
        outputs = []
        for command, expected in commands:
            if command in servers:
                continue
            done = subprocess.run(
                [bash, "-c", command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == expected, (
                f"{command}\nexit {done.returncode}, expected {expected}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
            outputs.append((command, done.stdout))
    finally:
        server.terminate()
        server.wait(timeout=30)
    # the tour's ready-made breaking branch: caught offline by the dbt model, online by the consumer
    offline = [out for command, out in outputs if "contract-check check --against main" in command]
    online = [out for command, out in outputs if "contract-check check --registry" in command]
    assert "TYPE_CHANGED" in offline[0]  # the demo's own branch: amount as a string
    assert "currency" in offline[-1] and "silver_checkout_completed" in offline[-1], offline[-1]
    assert "finance-dashboard" in online[-1], online[-1]
