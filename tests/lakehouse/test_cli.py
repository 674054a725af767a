"""The gate's commands through the real ``meshgate`` click group (CliRunner, real catalog, real registry)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lakehouse.catalog import open_catalog
from lakehouse.naming import bronze_identifier
from meshgate.cli import main

SUBJECT = "checkout.CheckoutCompleted"


def record(i: int, **changes) -> dict:
    base = {"event_id": f"e{i}", "order_id": f"o{i}", "user_id": "u", "email": "a@b.io", "amount": 2.0,
            "currency": "USD", "completed_at": "2026-11-25T10:00:00Z", "items": []}  # fmt: skip
    return {**base, **changes}


@pytest.fixture
def contract_file(examples_dir):
    return str(examples_dir / "contracts/checkout/checkout_completed.yaml")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_ingest_accepts_then_reports_the_duplicate_and_logs_both(tmp_path, contract_file):
    data = ["--data-dir", tmp_path / "data"]
    path = jsonl(tmp_path / "b.jsonl", [record(1), record(2)])
    first = run("ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--batch-id", "b-1", *data)
    assert first.exit_code == 0, first.output
    assert "ACCEPTED" in first.output and "2 rows into bronze.checkout__checkout_completed" in first.output
    again = run("ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--batch-id", "b-1", *data)
    assert again.exit_code == 0 and "DUPLICATE" in again.output and "nothing to do" in again.output

    log = run("ingest-log", *data)
    assert (
        log.exit_code == 0 and "duplicate" in log.output and "accepted" in log.output and "b-1" in log.output
    )
    tables = run("bronze", "tables", *data)
    assert "bronze.checkout__checkout_completed" in tables.output and "b-1" in tables.output
    assert SUBJECT in tables.output
    history = run("bronze", "history", SUBJECT, *data)
    assert history.exit_code == 0 and "append" in history.output and "b-1" in history.output


def test_a_rejected_batch_exits_1_with_its_reasons(tmp_path, contract_file):
    path = jsonl(tmp_path / "bad.jsonl", [record(1), record(2, currency="JPY", amount=-5)])
    result = run(
        "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--data-dir", tmp_path / "d"
    )
    assert result.exit_code == 1
    assert "REJECTED" in result.output and "nothing was written" in result.output
    second = len(json.dumps(record(1))) + 1  # where row 2 starts: file:row:byte offset, exactly
    assert f"first at {path}:2:{second}: currency: JPY is not a symbol" in result.output
    assert f"first at {path}:2:{second}: amount: -5.0 is below the minimum 0" in result.output


def test_quarantine_mode_from_the_command_line(tmp_path, contract_file):
    path = jsonl(tmp_path / "mixed.jsonl", [record(1), record(2, currency="JPY")])
    result = run(
        "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--on-invalid", "quarantine",
        "--data-dir", tmp_path / "d",
    )  # fmt: skip
    assert result.exit_code == 0 and "QUARANTINED" in result.output and "1 rows quarantined" in result.output


def test_ingest_with_the_contract_from_a_running_registry(tmp_path, examples_dir, generate):
    from registry.client import RegistryClient
    from registry.contract import load_contract
    from registry.server import RegistryServer, ThreadedServer

    server = ThreadedServer(RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1"))
    server.start()
    try:
        target = server.server.grpc_target
        with RegistryClient(target) as client:
            registered = client.register(
                load_contract(examples_dir / "contracts/checkout/checkout_completed.yaml")
            )
        path = jsonl(tmp_path / "b.jsonl", [record(1)])
        result = run("ingest", path, "--subject", SUBJECT, "--registry", target, "--data-dir", tmp_path / "d")
        unknown = run(
            "ingest", path, "--subject", "nobody.Here", "--registry", target, "--data-dir", tmp_path / "d"
        )
    finally:
        server.stop()
    assert unknown.exit_code == 2 and "nobody.Here" in unknown.output
    assert result.exit_code == 0, result.output
    table = open_catalog(tmp_path / "d").load_table(bronze_identifier(SUBJECT))
    summary = table.current_snapshot().summary
    assert summary["meshgate.schema-id"] == str(registered.schema_id)
    assert summary["meshgate.schema-version"] == "1"


def test_rollback_makes_a_batch_ingestible_again(tmp_path, contract_file):
    data = ["--data-dir", tmp_path / "d"]
    one, two = jsonl(tmp_path / "1.jsonl", [record(1)]), jsonl(tmp_path / "2.jsonl", [record(2)])
    run("ingest", one, "--subject", SUBJECT, "--contract", contract_file, "--batch-id", "one", *data)
    run("ingest", two, "--subject", SUBJECT, "--contract", contract_file, "--batch-id", "two", *data)
    table = open_catalog(tmp_path / "d").load_table(bronze_identifier(SUBJECT))
    first = min(table.metadata.snapshots, key=lambda s: s.sequence_number).snapshot_id

    result = run("bronze", "rollback", SUBJECT, "--to", first, *data)
    assert result.exit_code == 0 and "batches no longer current: two" in result.output
    again = run("ingest", two, "--subject", SUBJECT, "--contract", contract_file, "--batch-id", "two", *data)
    assert "ACCEPTED" in again.output
    assert "rolled_back" in run("ingest-log", *data).output


def test_maintain_reports_each_table(tmp_path, contract_file):
    data = ["--data-dir", tmp_path / "d"]
    run(
        "ingest",
        jsonl(tmp_path / "1.jsonl", [record(1)]),
        "--subject",
        SUBJECT,
        "--contract",
        contract_file,
        *data,
    )
    result = run("lakehouse", "maintain", "--retention", "bronze=7y", "--snapshot-max-age", "30d", *data)
    assert result.exit_code == 0, result.output
    assert "bronze.checkout__checkout_completed" in result.output and "2557d" in result.output


def test_maintain_lists_the_orphan_files_it_removed(tmp_path, contract_file):
    data = ["--data-dir", tmp_path / "d"]
    path = jsonl(tmp_path / "1.jsonl", [record(1)])
    run("ingest", path, "--subject", SUBJECT, "--contract", contract_file, *data)
    table = open_catalog(tmp_path / "d").load_table(bronze_identifier(SUBJECT))
    folder = next(p.parent for p in (tmp_path / "d").rglob("*.parquet"))
    orphan = folder / "00000-0-orphan.parquet"
    orphan.write_bytes(b"left by a killed gate")

    result = run("lakehouse", "maintain", "--orphan-window", "0d", *data)
    assert result.exit_code == 0, result.output
    assert f"removed orphan file of bronze.checkout__checkout_completed: {orphan}" in result.output
    assert not orphan.exists() and table.scan().to_arrow().num_rows == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ingest", "{f}", "--subject", SUBJECT, "--version", "two", "--contract", "{c}"],
            "'two' is not a number",
        ),
        (
            ["ingest", "{f}", "--subject", "identity.UserSignedUp", "--contract", "{c}"],
            "not of 'identity.UserSignedUp'",
        ),
        (
            ["ingest", "{f}", "--subject", SUBJECT, "--contract", "{c}", "--storage-option", "oops"],
            "not KEY=VALUE",
        ),
        (["ingest", "{missing}", "--subject", SUBJECT, "--contract", "{c}"], "cannot open"),
        (["bronze", "history", "nobody.Here"], "no Bronze table for 'nobody.Here'"),
        (["bronze", "history", "not-a-subject"], "not of the form domain.Name"),
        (["lakehouse", "maintain", "--retention", "gold=1y"], "unknown tier"),
        (["lakehouse", "maintain", "--retention", "bronze=forever"], "'forever'"),
    ],
)
def test_usage_errors_name_what_is_wrong(tmp_path, contract_file, args, message):
    path = jsonl(tmp_path / "b.jsonl", [record(1)])
    filled = [a.format(f=path, c=contract_file, missing=tmp_path / "nope.jsonl") for a in args]
    result = run(*filled, "--data-dir", tmp_path / "d")
    assert result.exit_code != 0
    assert message in result.output


def test_rollback_to_an_unknown_snapshot_is_an_error(tmp_path, contract_file):
    data = ["--data-dir", tmp_path / "d"]
    run(
        "ingest",
        jsonl(tmp_path / "1.jsonl", [record(1)]),
        "--subject",
        SUBJECT,
        "--contract",
        contract_file,
        *data,
    )
    result = run("bronze", "rollback", SUBJECT, "--to", "999", *data)
    assert result.exit_code == 1 and "999" in result.output


def test_an_unreachable_registry_is_named(tmp_path):
    from tests.conftest import free_port

    target = f"127.0.0.1:{free_port()}"
    path = jsonl(tmp_path / "b.jsonl", [record(1)])
    result = run("ingest", path, "--subject", SUBJECT, "--registry", target, "--data-dir", tmp_path / "d")
    assert result.exit_code == 2 and target in result.output


def test_a_rejection_prints_one_line_per_reason_kind_on_stderr(tmp_path, contract_file):
    records = [
        record(1),
        record(2, amount=-5),
        record(3, currency="JPY"),
        record(4, amount=-1),
        record(5, amount=-2),
    ]
    path = jsonl(tmp_path / "bad.jsonl", records)
    result = run(
        "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--data-dir", tmp_path / "d"
    )

    assert result.exit_code == 1 and "REJECTED" in result.stdout
    lines = result.stderr.strip().splitlines()
    offset_of_line_2 = len(json.dumps(record(1))) + 1
    assert len(lines) == 3, lines  # min on amount, and the enum symbol + accepted value on currency
    assert lines[0].startswith(f"3 x min at amount, first at {path}:2:{offset_of_line_2}: ")
    assert any(line.startswith("1 x accepted_values at currency, first at ") for line in lines)
    assert any(line.startswith(f"1 x enum at currency, first at {path}:3:") for line in lines)
    assert "Traceback" not in result.output


def test_output_json_lists_every_violation(tmp_path, contract_file):
    path = jsonl(tmp_path / "bad.jsonl", [record(i, amount=-1) for i in range(250)])
    result = run(
        "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--output", "json",
        "--data-dir", tmp_path / "d",
    )  # fmt: skip

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "rejected" and report["rows_rejected"] == 250
    assert [v["row"] for v in report["violations"]] == list(range(1, 251))  # all, not the first 100
    assert report["reasons"] == [
        {"rule": "min", "field": "amount", "count": 250, "first": report["violations"][0]}
    ]
    assert report["violations"][0]["file"] == path and report["violations"][0]["byte_offset"] == 0
    assert result.stderr.strip().startswith(f"250 x min at amount, first at {path}:1:0: ")


def test_pii_values_are_never_echoed_by_a_rejection(tmp_path, contract_file):
    secrets = ["jane.doe-secret", "ssn 078-05-1120"]  # the contract's PII field email, broken two ways
    records = [record(1, email=secrets[0]), record(2, email=secrets[1], amount=-3), record(3, email=12345)]
    path = jsonl(tmp_path / "pii.jsonl", records)
    for output in ("text", "json"):
        result = run(
            "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--output", output,
            "--data-dir", tmp_path / output,
        )  # fmt: skip
        assert result.exit_code == 1
        assert "email" in result.stderr and "<redacted PII>" in result.output
        assert not [s for s in (*secrets, "12345") if s in result.output], result.output
        assert "Traceback" not in result.output
    quarantined = run(
        "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--on-invalid", "quarantine",
        "--data-dir", tmp_path / "q",
    )  # fmt: skip
    assert quarantined.exit_code == 0 and not [s for s in secrets if s in quarantined.output]


def test_the_input_format_is_input_format_and_the_old_format_spelling_warns(tmp_path, contract_file):
    """``--format`` names a schema format in every other command; here it stays one release, warning."""
    path = jsonl(tmp_path / "batch.data", [record(1)])  # an extension that names no format
    common = ["--subject", SUBJECT, "--contract", contract_file, "--data-dir", tmp_path / "d"]
    by_name = run("ingest", path, *common, "--input-format", "jsonl", "--batch-id", "new")
    assert by_name.exit_code == 0, by_name.output
    assert "deprecated" not in by_name.stderr
    by_old_name = run("ingest", path, *common, "--format", "jsonl", "--batch-id", "old")
    assert by_old_name.exit_code == 0, by_old_name.output
    assert "warning: ingest --format is deprecated; use --input-format jsonl" in by_old_name.stderr
    unknown = run("ingest", path, *common, "--batch-id", "none")
    assert unknown.exit_code == 2 and "cannot tell the input format" in unknown.output


def test_ingest_in_a_pipe_prints_the_decision_and_no_progress_bar(tmp_path, contract_file):
    """A real process with stderr and stdout piped: the decision only, no bar, no terminal codes."""
    import subprocess
    import sys
    from pathlib import Path

    path = jsonl(tmp_path / "b.jsonl", [record(i) for i in range(200)])
    meshgate = Path(sys.executable).with_name("meshgate")
    done = subprocess.run(
        [meshgate, "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--data-dir", tmp_path / "d"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "\x1b[" not in done.stdout
    assert done.stdout.startswith("ACCEPTED batch sha256:") and len(done.stdout.splitlines()) == 1


def test_an_unreachable_s3_warehouse_is_one_error_line_naming_it_and_no_traceback(tmp_path, contract_file):
    """A real process against an S3 endpoint where nothing listens (a closed port: the failure itself
    is the real part here): exit 1, pyarrow's message naming the endpoint, what to do, no traceback."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as probe:  # a free port, closed again: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = jsonl(tmp_path / "b.jsonl", [record(i) for i in range(20)])
    meshgate = Path(sys.executable).with_name("meshgate")
    s3 = [f"s3.endpoint=http://127.0.0.1:{port}", "s3.access-key-id=k", "s3.secret-access-key=s",
          "s3.region=us-east-1", "s3.connect-timeout=1"]  # fmt: skip
    done = subprocess.run(
        [meshgate, "ingest", path, "--subject", SUBJECT, "--contract", contract_file, "--data-dir", tmp_path / "d",
         "--warehouse", "s3://bronze/warehouse", *[arg for pair in s3 for arg in ("--storage-option", pair)]],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.startswith("error: storage failed:") and f"127.0.0.1:{port}" in done.stderr
    assert "nothing of it was committed: rerun the same command" in done.stderr


def test_on_a_terminal_the_bar_shows_the_bytes_and_rows_read():
    import io

    from rich.console import Console

    from lakehouse.cli import gate_progress

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with gate_progress(console) as progress:
        task = progress.add_task("gating s", total=None, rows=0)
        progress.update(task, completed=3 * 2**20, total=4 * 2**20, rows=12_345)
        progress.refresh()
    shown = screen.getvalue()
    assert "3.1/4.2 MB" in shown and "12,345 rows" in shown
    assert gate_progress(Console(file=io.StringIO())).disable  # not a terminal: nothing drawn
    assert gate_progress(console, disable=True).disable  # --output json
