"""JSON Lines batches: fast typed path, precise location of bad rows, and files that cannot be read."""

from __future__ import annotations

import datetime
import gzip
import json
import tracemalloc

import pyarrow as pa
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.decode import open_input, read_batch
from lakehouse.errors import InvalidBatch
from lakehouse.validate import REDACTED


def all_violations(chunks) -> list[tuple]:
    return [(v.row, v.field, v.rule) for chunk in chunks for v in chunk.violations]


def write_lines(path, *lines: str) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


_SEEDS = iter(range(10**6))


def checkout_line(generate, **changes) -> str:
    """One valid checkout record as JSON (a fresh event id each call), with ``changes`` applied."""
    record = next(generate.records("checkout", 1, seed=next(_SEEDS)))
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not ...}, default=generate._json_default)


def test_a_good_file_decodes_into_typed_chunks_with_source_row_numbers(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "good.jsonl", 1000)

    chunks = list(read_batch(path, checkout_contract, chunk_rows=300))  # a Path works as well as a str

    assert len(chunks) > 1
    assert sum(c.table.num_rows for c in chunks) == 1000
    assert [r for c in chunks for r in c.rows.to_pylist()] == list(range(1, 1001))
    assert all_violations(chunks) == []
    first = chunks[0].table
    assert first.schema.field("completed_at").type == pa.timestamp("us", tz="UTC")
    assert first.column("currency")[0].as_py() in ("EUR", "USD", "GBP")


def test_the_bad_batch_names_each_broken_row_field_and_rule(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "bad.jsonl", 50, bad=True)

    chunks = list(read_batch(str(path), checkout_contract))

    assert all_violations(chunks) == [
        (2, "amount", "type"),
        (3, "order_id", "required"),
        (4, "amount", "min"),
        (5, "currency", "enum"),
        (5, "currency", "accepted_values"),
        (6, "email", "regex"),
    ]
    assert chunks[0].invalid_rows == {2, 3, 4, 5, 6}
    assert chunks[0].valid_table().num_rows == 45


def test_byte_offsets_point_at_the_start_of_the_bad_line(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "bad.jsonl", 50, bad=True)
    data = path.read_bytes()

    violations = [v for c in read_batch(str(path), checkout_contract) for v in c.violations]

    for violation in violations:
        assert violation.file == str(path)
        line = data[violation.byte_offset :].split(b"\n", 1)[0]
        assert data[: violation.byte_offset].count(b"\n") == violation.row - 1
        assert line.startswith(b'{"event_id"')


def test_rows_that_cannot_be_typed_are_kept_as_raw_text_with_pii_redacted(
    generate, checkout_contract, tmp_path
):
    path = generate.write("checkout", tmp_path / "bad.jsonl", 10, bad=True)

    chunk = next(read_batch(str(path), checkout_contract))

    assert set(chunk.raw) == {2}  # the wrong type: not in the typed table
    assert 2 not in chunk.rows.to_pylist()
    assert {3, 4} <= set(chunk.rows.to_pylist())  # a missing field is a null in the table, and a violation
    raw = json.loads(chunk.raw[2])
    assert raw["email"] == REDACTED and raw["amount"] == str(raw["amount"])
    assert "@example.com" not in chunk.raw[2]


def test_type_violation_on_a_pii_field_does_not_echo_the_value(generate, checkout_contract, tmp_path):
    path = write_lines(tmp_path / "pii.jsonl", checkout_line(generate, email=12345))

    (violation,) = next(read_batch(path, checkout_contract)).violations

    assert (violation.field, violation.rule, violation.value) == ("email", "type", REDACTED)
    assert "12345" not in violation.message


def test_nested_type_errors_name_the_element_path(generate, checkout_contract, tmp_path):
    line = checkout_line(generate, items=[{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": "two"}])
    path = write_lines(tmp_path / "nested.jsonl", line)

    (violation,) = next(read_batch(path, checkout_contract)).violations

    assert (violation.field, violation.rule, violation.value) == ("items[].quantity", "type", "two")


def test_a_line_that_is_not_valid_json_is_a_decode_violation(generate, checkout_contract, tmp_path):
    path = write_lines(
        tmp_path / "broken.jsonl", checkout_line(generate), '{"event_id": "x", ', checkout_line(generate)
    )

    chunk = next(read_batch(path, checkout_contract))

    assert [(v.row, v.rule) for v in chunk.violations] == [(2, "decode")]
    assert chunk.table.num_rows == 2
    assert "withheld" in chunk.raw[2]  # the contract has PII: an unparsed line is not echoed


def test_a_line_nested_past_the_json_decoder_is_a_decode_violation_not_a_recursion_error(
    generate, checkout_contract, tmp_path
):
    deep = "[" * 5000 + "]" * 5000
    path = write_lines(tmp_path / "deep.jsonl", checkout_line(generate), deep, checkout_line(generate))

    chunk = next(read_batch(path, checkout_contract))

    assert [(v.row, v.rule) for v in chunk.violations] == [(2, "decode")]
    assert "nested deeper than the JSON decoder goes" in chunk.violations[0].message
    assert chunk.table.num_rows == 2


def test_blank_lines_are_skipped_and_keep_line_numbers(generate, checkout_contract, tmp_path):
    path = write_lines(
        tmp_path / "blank.jsonl", checkout_line(generate), "", "  ", checkout_line(generate, amount=-1)
    )

    chunk = next(read_batch(path, checkout_contract))

    assert chunk.rows.to_pylist() == [1, 4]
    assert [(v.row, v.rule) for v in chunk.violations] == [(4, "min")]


def test_unknown_fields_are_ignored(generate, checkout_contract, tmp_path):
    line = checkout_line(generate)[:-1] + ', "brand_new": {"x": [1, 2]}}'
    path = write_lines(tmp_path / "extra.jsonl", line)

    chunk = next(read_batch(path, checkout_contract))

    assert chunk.violations == [] and "brand_new" not in chunk.table.schema.names


def test_last_line_without_newline_is_read(generate, checkout_contract, tmp_path):
    path = tmp_path / "no-newline.jsonl"
    path.write_text(checkout_line(generate) + "\n" + checkout_line(generate, amount=-2))

    chunks = list(read_batch(str(path), checkout_contract))

    assert [r for c in chunks for r in c.rows.to_pylist()] == [1, 2]
    assert all_violations(chunks) == [(2, "amount", "min")]


def test_unique_holds_across_chunks_and_files(generate, checkout_contract, tmp_path):
    first = write_lines(tmp_path / "a.jsonl", *(checkout_line(generate, event_id=f"e{i}") for i in range(5)))
    second = write_lines(
        tmp_path / "b.jsonl", checkout_line(generate, event_id="e9"), checkout_line(generate, event_id="e3")
    )

    violations = [
        v for c in read_batch([first, second], checkout_contract, chunk_rows=2) for v in c.violations
    ]

    assert [(v.file, v.row, v.rule) for v in violations if v.rule == "unique"] == [(second, 2, "unique")]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_files_are_recognised_by_magic_bytes(generate, checkout_contract, tmp_path, suffix):
    compressed = generate.write("checkout", tmp_path / f"batch{suffix}", 200)
    renamed = compressed.rename(tmp_path / "batch.jsonl")  # the name no longer says it

    chunks = list(read_batch(str(renamed), checkout_contract))

    assert sum(c.table.num_rows for c in chunks) == 200


def test_an_empty_file_is_an_invalid_batch(checkout_contract, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")

    with pytest.raises(InvalidBatch, match="holds no records") as caught:
        list(read_batch(str(path), checkout_contract))
    assert caught.value.file == str(path)


@pytest.mark.parametrize("before", [0, 1, 2], ids=["first line", "second line", "third line"])
def test_a_null_line_is_an_invalid_batch_not_a_row_of_nulls_or_a_crash(
    generate, checkout_contract, tmp_path, before
):
    """pyarrow's reader takes a ``null`` line as a row of nulls and crashes on a block starting with one."""
    lines = [checkout_line(generate) for _ in range(before)]
    path = write_lines(tmp_path / "null.jsonl", *lines, "null")
    offset = sum(len(line) + 1 for line in lines)

    with pytest.raises(InvalidBatch, match="line is a JSON null, not an object") as caught:
        list(read_batch(str(path), checkout_contract))
    assert (caught.value.row, caught.value.byte_offset) == (before + 1, offset)


def test_a_line_that_is_not_an_object_is_an_invalid_batch(generate, checkout_contract, tmp_path):
    first = checkout_line(generate)
    path = write_lines(tmp_path / "array.jsonl", first, "[1, 2, 3]")

    with pytest.raises(InvalidBatch) as caught:
        list(read_batch(path, checkout_contract))

    error = caught.value
    assert (error.file, error.row, error.byte_offset) == (path, 2, len(first) + 1)
    assert (
        str(error)
        == f"{path}:2 (byte {error.byte_offset}): line is a JSON array, not an object: JSON Lines input needs one object per line"
    )


def test_a_gz_name_on_plain_content_is_wrong_compression(generate, checkout_contract, tmp_path):
    path = write_lines(tmp_path / "batch.jsonl.gz", checkout_line(generate))

    with pytest.raises(InvalidBatch, match="the name says gzip but the content is not gzip-compressed"):
        list(read_batch(path, checkout_contract))


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_a_truncated_compressed_file_is_an_invalid_batch(generate, checkout_contract, tmp_path, suffix):
    path = generate.write("checkout", tmp_path / f"batch{suffix}", 2000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(InvalidBatch, match="cannot be read|truncated") as caught:
        list(read_batch(str(path), checkout_contract))
    assert caught.value.file == str(path)
    assert caught.value.byte_offset is not None


def test_a_line_over_the_size_cap_is_refused_with_row_and_offset(generate, checkout_contract, tmp_path):
    first, long_line = checkout_line(generate), checkout_line(generate, order_id="x" * 5000)
    path = write_lines(tmp_path / "long.jsonl", first, long_line, checkout_line(generate))

    with pytest.raises(InvalidBatch, match="longer than the 1024-byte limit") as caught:
        list(read_batch(path, checkout_contract, max_line_bytes=1024))
    assert (caught.value.row, caught.value.byte_offset) == (2, len(first) + 1)


def test_a_2_gib_line_stops_at_the_cap_without_holding_the_line(checkout_contract, tmp_path):
    """A sparse 2 GiB file (no disk used) with no newline: reading stops after the 64 MiB cap."""
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as out:
        out.write(b'{"event_id": "')
        out.truncate(2 * 1024**3 + 10)

    tracemalloc.start()
    try:
        with pytest.raises(InvalidBatch, match="longer than the 67108864-byte limit") as caught:
            list(read_batch(str(path), checkout_contract))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (caught.value.row, caught.value.byte_offset) == (1, 0)
    assert peak < 3 * 64 * 1024**2  # the cap plus read buffers, nowhere near 2 GiB


def test_open_input_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(InvalidBatch, match="cannot open") as caught:
        open_input(str(tmp_path / "missing.jsonl"))
    assert caught.value.file.endswith("missing.jsonl")


def test_an_unknown_extension_asks_for_a_format(checkout_contract, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("a,b\n")

    with pytest.raises(InvalidBatch, match="cannot tell the input format"):
        list(read_batch(str(path), checkout_contract))


def test_gzip_and_plain_read_the_same_bytes(tmp_path):
    plain, packed = tmp_path / "a.txt", tmp_path / "a.txt.gz"
    plain.write_bytes(b"hello\n" * 1000)
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    zst = tmp_path / "a.zst"
    zst.write_bytes(
        zstandard.ZstdCompressor().compress(b"part one\n") + zstandard.ZstdCompressor().compress(b"two\n")
    )

    assert open_input(str(packed)).read() == plain.read_bytes()
    assert open_input(str(zst)).read() == b"part one\ntwo\n"  # several zstd frames in a row


def avro_row_contract(*fields: dict):
    from registry.contract import Contract

    schema = {"type": "record", "name": "R", "namespace": "t", "fields": list(fields)}
    return Contract(subject="t.R", format="AVRO", schema=json.dumps(schema))


def test_dates_are_read_from_iso_strings_and_a_bad_date_is_a_type_violation(tmp_path):
    contract = avro_row_contract({"name": "day", "type": {"type": "int", "logicalType": "date"}})
    path = write_lines(tmp_path / "dates.jsonl", '{"day": "2026-01-02"}', '{"day": "not a date"}')

    (chunk,) = read_batch(path, contract)

    assert [str(d) for d in chunk.table.column("day").to_pylist()] == ["2026-01-02"]
    assert [(v.row, v.rule) for v in chunk.violations] == [(2, "type")]
    assert "not a date" in chunk.violations[0].message  # no PII in this contract: the value may show


@pytest.mark.parametrize(
    ("avro_type", "sent", "typed"),
    [
        ({"type": "map", "values": "long"}, '{"a": 1, "b": 2}', [("a", 1), ("b", 2)]),
        ({"type": "int", "logicalType": "time-millis"}, "3723004", datetime.time(1, 2, 3, 4000)),
        ({"type": "int", "logicalType": "time-millis"}, '"01:02:03.004"', datetime.time(1, 2, 3, 4000)),
    ],
)
def test_json_lines_fill_maps_and_times_of_day(tmp_path, avro_type, sent, typed):
    """Formerly refused ("which JSON Lines input cannot fill"): a JSON object is a map, and a time of
    day comes as milliseconds after midnight or as an ISO 8601 string (issue 13)."""
    contract = avro_row_contract({"name": "x", "type": avro_type})
    path = write_lines(tmp_path / "x.jsonl", f'{{"x": {sent}}}')

    (chunk,) = read_batch(path, contract)

    assert chunk.violations == []
    assert chunk.table.column("x").to_pylist() == [typed]


def test_a_line_longer_than_pyarrows_block_but_under_the_cap_is_typed(generate, checkout_contract, tmp_path):
    long_line = checkout_line(generate, order_id="o" * (3 * 1024 * 1024))  # pyarrow's default block: 1 MiB
    path = write_lines(tmp_path / "wide.jsonl", checkout_line(generate), long_line, checkout_line(generate))

    chunks = list(read_batch(path, checkout_contract))

    assert [r for c in chunks for r in c.rows.to_pylist()] == [1, 2, 3]
    assert all_violations(chunks) == []
    assert max(len(v) for c in chunks for v in c.table.column("order_id").to_pylist()) == 3 * 1024 * 1024


def test_a_null_optional_struct_with_required_children_is_valid_and_a_missing_child_is_named(tmp_path):
    address = {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}
    contract = avro_row_contract(
        {"name": "id", "type": "string"}, {"name": "ship", "type": ["null", address]}
    )
    path = write_lines(
        tmp_path / "ship.jsonl", '{"id": "a", "ship": null}', '{"id": "b"}', '{"id": "c", "ship": {}}'
    )

    chunks = list(read_batch(path, contract))

    assert [r for c in chunks for r in c.rows.to_pylist()] == [1, 2, 3]
    assert all_violations(chunks) == [(3, "ship.city", "required")]


def test_the_precise_pass_types_good_rows_exactly_like_the_fast_path(generate, checkout_contract, tmp_path):
    clean = generate.write("checkout", tmp_path / "clean.jsonl", 300, late=0.1)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(clean.read_bytes() + checkout_line(generate, amount="12").encode() + b"\n")

    fast = list(read_batch(clean, checkout_contract))
    precise = list(read_batch(mixed, checkout_contract))  # the block with the bad row goes the slow way

    assert all_violations(precise) == [(301, "amount", "type")]
    assert pa.concat_tables(c.table for c in precise).equals(pa.concat_tables(c.table for c in fast))
    assert [r for c in precise for r in c.rows.to_pylist()] == list(range(1, 301))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.sampled_from([0, 1, 30, 3000, 9000]), min_size=1, max_size=12),
    chunk_rows=st.integers(1, 4),
    last_newline=st.booleans(),
)
def test_blocks_split_anywhere_keep_every_row_its_number_and_offset(tmp_path_factory, lengths, chunk_rows,
                                                                    last_newline):  # fmt: skip
    """Lines short and long (longer than a read, so carried over several reads), blank lines, with
    or without a final newline: every row arrives once, with its line number and byte offset."""
    contract = avro_row_contract({"name": "id", "type": "int"}, {"name": "pad", "type": "string"})
    # 2,500 short lines first: past the first 64 KiB read, reads shrink to 4 KiB and long lines span several
    lengths = [1] * 2500 + lengths
    lines = ["" if n == 0 else json.dumps({"id": i, "pad": "x" * n}) for i, n in enumerate(lengths)]
    lines.append('{"id": "not a number", "pad": ""}')  # a violation: its byte offset is reported
    text = "\n".join(lines) + ("\n" if last_newline else "")
    path = tmp_path_factory.mktemp("blocks") / "b.jsonl"
    path.write_text(text)

    chunks = list(read_batch(str(path), contract, chunk_rows=chunk_rows))

    typed = [
        (row, i)
        for c in chunks
        for row, i in zip(c.rows.to_pylist(), c.table.column("id").to_pylist(), strict=True)
    ]
    expected = [(n + 1, json.loads(line)["id"]) for n, line in enumerate(lines[:-1]) if line]
    assert typed == expected
    (violation,) = [v for c in chunks for v in c.violations]
    assert (violation.row, violation.byte_offset) == (len(lines), text.rindex('{"id": "not a number"'))


def test_epoch_numbers_take_the_fast_path_and_type_like_iso_strings_and_the_precise_pass(tmp_path):
    contract = avro_row_contract(
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    )
    millis = [0, 1767261600123, -86400001]
    days = [0, 20455, -1]
    as_numbers = [json.dumps({"at": m, "day": d}) for m, d in zip(millis, days, strict=True)]
    as_strings = [
        json.dumps(
            {
                "at": (EPOCH + datetime.timedelta(milliseconds=m)).isoformat(),
                "day": str(EPOCH.date() + datetime.timedelta(days=d)),
            }
        )
        for m, d in zip(millis, days, strict=True)
    ]
    mixed = [as_numbers[0], as_strings[1], as_numbers[2]]  # neither variant reads it: the precise pass

    tables = [
        next(read_batch(write_lines(tmp_path / f"{name}.jsonl", *lines), contract)).table
        for name, lines in (("numbers", as_numbers), ("strings", as_strings), ("mixed", mixed))
    ]

    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])
    assert tables[0].column("at")[1].as_py() == datetime.datetime(
        2026, 1, 1, 10, 0, 0, 123000, tzinfo=datetime.UTC
    )


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
