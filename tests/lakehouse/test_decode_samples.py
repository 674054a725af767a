"""examples/generate.py: deterministic, streamed sample batches the decoder reads back."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from lakehouse.decode import read_batch


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(generate, tmp_path):
    first = generate.write("checkout", tmp_path / "a.jsonl", 200, duplicates=0.05, late=0.05).read_bytes()
    again = generate.write("checkout", tmp_path / "b.jsonl", 200, duplicates=0.05, late=0.05).read_bytes()
    other = generate.write("checkout", tmp_path / "c.jsonl", 200, seed=7).read_bytes()

    assert first == again
    assert first != other


def test_records_are_generated_lazily(generate):
    stream = generate.records("signup", 10_000_000)

    assert isinstance(stream, types.GeneratorType)
    assert next(stream)["event_id"]


def test_duplicates_repeat_earlier_events_and_late_events_are_days_old(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "dl.jsonl", 2000, duplicates=0.02, late=0.02)

    chunks = list(read_batch(str(path), checkout_contract))

    repeats = [v for c in chunks for v in c.violations if v.rule == "unique"]
    assert 10 < len(repeats) < 80  # about 2 % of 2,000
    times = [t for c in chunks for t in c.table.column("completed_at").to_pylist()]
    assert 10 < len([t for t in times if t < generate.START]) < 80  # on time is START + row seconds


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [("checkout", "avro"), ("signup", "protobuf"), ("signup", "confluent"), ("signup", "jsonl")],
)
def test_bad_batches_carry_only_what_the_format_can_encode(generate, kind, fmt, tmp_path):
    contract = generate.contract(kind)
    path = generate.write(kind, tmp_path / f"bad.{fmt}", 20, fmt=fmt, bad=True)

    chunks = list(read_batch(str(path), contract, input_format=fmt, schema_lookup=lambda _: contract))

    expected = sorted((row, field, rule) for row, (field, rule) in generate.bad_rows(kind, fmt).items())
    assert [(v.row, v.field, v.rule) for c in chunks for v in c.violations] == expected
    untyped = {v.row for c in chunks for v in c.violations if v.rule == "type"}  # no value to hold
    assert sum(c.table.num_rows for c in chunks) == 20 - len(untyped)


def test_the_command_line_writes_a_compressed_batch(generate, tmp_path):
    out = tmp_path / "cli.jsonl.gz"
    script = generate.HERE / "generate.py"

    done = subprocess.run(
        [sys.executable, str(script), "checkout", "--rows", "50", "--out", str(out), "--bad"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert "wrote 50 checkout records" in done.stdout
    assert out.read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize(
    "kind, out, output_format, message",
    [
        ("checkout", "x.pb", "protobuf", "protobuf output needs a PROTOBUF contract; checkout.CheckoutCompleted is AVRO"),
        ("pageview", "x.confluent", "confluent", "confluent output needs an AVRO or PROTOBUF contract; web.PageViewed is JSON"),
    ],
)  # fmt: skip
def test_the_command_line_refuses_a_format_the_contract_cannot_take(generate, tmp_path, kind, out, output_format, message):  # fmt: skip
    script = generate.HERE / "generate.py"

    done = subprocess.run(
        [sys.executable, str(script), kind, "--rows", "5", "--out", str(tmp_path / out), "--format", output_format],
        capture_output=True, text=True,
    )  # fmt: skip

    assert done.returncode == 2
    assert message in done.stderr
