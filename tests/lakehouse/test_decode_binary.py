"""Avro container files, length-delimited Protobuf and Confluent wire-format dumps."""

from __future__ import annotations

import fastavro
import pytest

from lakehouse.decode import read_batch
from lakehouse.errors import InvalidBatch
from lakehouse.schema_mapping import message_class
from registry.contract import Contract
from registry.errors import SchemaNotFound


def violations(chunks) -> list[tuple]:
    return [(v.row, v.field, v.rule) for chunk in chunks for v in chunk.violations]


def rows(chunks) -> int:
    return sum(c.table.num_rows for c in chunks)


# --- Avro object container files ------------------------------------------------------------------


def test_avro_file_decodes_and_names_the_quality_violations(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "bad.avro", 300, fmt="avro", bad=True)

    chunks = list(read_batch(str(path), checkout_contract, chunk_rows=100))

    assert rows(chunks) == 300 and len(chunks) == 3
    assert violations(chunks) == [(4, "amount", "min"), (6, "email", "regex")]
    with open(path, "rb") as data:  # the offset of an Avro record is that of its block
        first_block = next(fastavro.block_reader(data)).offset
    assert {v.byte_offset for v in chunks[0].violations} == {first_block}
    assert chunks[0].table.schema.field("completed_at").type.unit == "us"


def test_avro_file_written_with_an_older_schema_is_read_through_schema_resolution(
    generate, checkout_contract, tmp_path
):
    v2_text = checkout_contract.schema.replace(
        '"doc": "What was bought."}',
        '"doc": "What was bought."},\n    {"name": "coupon_code", "type": ["null", "string"], "default": null}',
    )
    reader = Contract(
        subject=checkout_contract.subject, format="AVRO", schema=v2_text, metadata=checkout_contract.metadata
    )
    path = generate.write("checkout", tmp_path / "v1.avro", 5, fmt="avro")  # written with v1

    (chunk,) = read_batch(str(path), reader)

    assert chunk.table.column("coupon_code").to_pylist() == [None] * 5
    assert chunk.violations == []


def test_a_truncated_avro_file_is_an_invalid_batch(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "batch.avro", 2000, fmt="avro")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(InvalidBatch, match="cannot be decoded") as caught:
        list(read_batch(str(path), checkout_contract))
    assert caught.value.file == str(path) and caught.value.row > 1


def test_a_file_that_is_not_avro_is_an_invalid_batch(checkout_contract, tmp_path):
    path = tmp_path / "batch.avro"
    path.write_bytes(b'{"not": "avro"}\n')

    with pytest.raises(InvalidBatch, match="Avro header cannot be decoded") as caught:
        list(read_batch(str(path), checkout_contract))
    assert caught.value.row == 1


# --- length-delimited Protobuf --------------------------------------------------------------------


def test_delimited_protobuf_decodes_with_byte_offsets(generate, signup_contract, tmp_path):
    path = generate.write("signup", tmp_path / "bad.pb", 20, fmt="protobuf", bad=True)
    data = path.read_bytes()

    chunks = list(read_batch(str(path), signup_contract))

    assert rows(chunks) == 20
    assert violations(chunks) == [(3, "user_id", "regex"), (4, "plan", "enum"), (5, "country", "regex")]
    cls = message_class(signup_contract)
    for violation in chunks[0].violations:  # the offset is the varint length prefix of that message
        length = data[violation.byte_offset]
        message = cls.FromString(data[violation.byte_offset + 1 : violation.byte_offset + 1 + length])
        assert message.event_id == chunks[0].table.column("event_id")[violation.row - 1].as_py()
    assert chunks[0].table.column("signed_up_at")[0].as_py().year == 2026


def test_proto3_defaults_are_values_and_absent_messages_are_null(generate, signup_contract, tmp_path):
    cls = message_class(signup_contract)
    path = tmp_path / "sparse.pb"
    path.write_bytes(
        generate.delimited(cls(event_id="e1", user_id="u-000001", country="DE").SerializeToString())
    )

    (chunk,) = read_batch(str(path), signup_contract)

    assert chunk.table.to_pylist() == [
        {
            "event_id": "e1",
            "user_id": "u-000001",
            "email": "",
            "country": "DE",
            "signed_up_at": None,
            "plan": "PLAN_UNSPECIFIED",
        }
    ]


def test_a_message_that_does_not_parse_is_a_decode_violation(generate, signup_contract, tmp_path):
    good = message_class(signup_contract)(event_id="e1", user_id="u-000001", country="DE").SerializeToString()
    path = tmp_path / "broken.pb"
    path.write_bytes(
        generate.delimited(good) + generate.delimited(b"\x0a\xff\xff") + generate.delimited(good)
    )

    (chunk,) = read_batch(str(path), signup_contract)

    assert [(v.row, v.rule, v.byte_offset) for v in chunk.violations] == [(2, "decode", len(good) + 1)]
    assert chunk.rows.to_pylist() == [1, 3]
    assert "withheld" in chunk.raw[2]


def test_proto2_required_field_missing_is_a_required_violation(generate, tmp_path):
    contract = Contract(
        subject="t.Row",
        format="PROTOBUF",
        schema='syntax = "proto2";\nmessage Row { required string id = 1; optional int32 n = 2; }',
    )
    cls = message_class(contract)
    path = tmp_path / "p2.pb"
    path.write_bytes(
        generate.delimited(cls(id="a").SerializeToString())
        + generate.delimited(cls(n=1).SerializePartialToString())
    )

    (chunk,) = read_batch(str(path), contract)

    assert [(v.row, v.field, v.rule) for v in chunk.violations] == [(2, "id", "required")]


def test_a_truncated_protobuf_file_is_an_invalid_batch(generate, signup_contract, tmp_path):
    path = generate.write("signup", tmp_path / "batch.pb", 10, fmt="protobuf")
    data = path.read_bytes()
    path.write_bytes(data[:-3])

    with pytest.raises(
        InvalidBatch, match=r"declares \d+ bytes but the file ends after \d+ \(truncated\)"
    ) as caught:
        list(read_batch(str(path), signup_contract))
    assert caught.value.row == 10


# --- Confluent wire format ------------------------------------------------------------------------


def test_confluent_avro_records_decode_through_the_schema_lookup(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "bad.confluent", 30, fmt="confluent", bad=True, schema_id=7)
    asked = []

    def lookup(schema_id: int) -> Contract:
        asked.append(schema_id)
        return checkout_contract

    chunks = list(read_batch(str(path), checkout_contract, schema_lookup=lookup))

    assert rows(chunks) == 30
    assert violations(chunks) == [(4, "amount", "min"), (6, "email", "regex")]
    assert asked == [7]  # looked up once per id


def test_a_confluent_avro_writer_that_does_not_resolve_to_the_contract_is_an_invalid_batch(
    generate, checkout_contract, tmp_path
):
    path = generate.write("checkout", tmp_path / "dump.confluent", 3, fmt="confluent", schema_id=9)
    other = Contract(subject="t.Other", format="AVRO",
                     schema='{"type": "record", "name": "Other", "fields": [{"name": "n", "type": "int"}]}')  # fmt: skip

    with pytest.raises(InvalidBatch) as caught:
        list(
            read_batch(str(path), other, input_format="confluent", schema_lookup=lambda _: checkout_contract)
        )

    assert str(caught.value).startswith(
        f"{path}:1 (byte 0): schema id 9 (com.example.checkout.CheckoutCompleted) does"
    )
    assert "resolve to the contract's schema (Other): Avro schema resolution fails" in str(caught.value)


TWO_MESSAGES = (
    'syntax = "proto3";\npackage t;\nmessage First { string a = 1; }\nmessage Second { string b = 1; }'
)


@pytest.mark.parametrize(("indexes", "expected"), [(b"\x00", "x"), (b"\x02\x00", "x")])
def test_confluent_protobuf_message_indexes_shortcut_and_full_form(generate, tmp_path, indexes, expected):
    contract = Contract(subject="t.First", format="PROTOBUF", schema=TWO_MESSAGES)
    payload = message_class(contract)(a="x").SerializeToString()
    path = tmp_path / "dump.confluent"
    path.write_bytes(generate.confluent_frame(3, indexes + payload))

    (chunk,) = read_batch(str(path), contract, schema_lookup={3: contract}.__getitem__)

    assert chunk.table.column("a").to_pylist() == [expected]


def test_confluent_protobuf_record_of_another_message_is_an_invalid_batch(generate, tmp_path):
    contract = Contract(subject="t.First", format="PROTOBUF", schema=TWO_MESSAGES)
    payload = message_class(contract, "t.Second")(b="y").SerializeToString()
    path = tmp_path / "dump.confluent"
    path.write_bytes(generate.confluent_frame(3, b"\x02\x02" + payload))  # zigzag: count 1, index 1

    with pytest.raises(
        InvalidBatch,
        match=r"record holds message t.Second \(indexes \[1\]\) but the contract's message is t.First",
    ):
        list(read_batch(str(path), contract, schema_lookup={3: contract}.__getitem__))


def test_confluent_protobuf_signups_decode(generate, signup_contract, tmp_path):
    path = generate.write("signup", tmp_path / "s.confluent.zst", 50, fmt="confluent", bad=True)

    chunks = list(read_batch(str(path), signup_contract, schema_lookup=lambda _: signup_contract))

    assert rows(chunks) == 50
    assert violations(chunks) == [(3, "user_id", "regex"), (4, "plan", "enum"), (5, "country", "regex")]


def test_wrong_magic_byte_is_an_invalid_batch_naming_row_and_offset(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "dump.confluent", 3, fmt="confluent")
    data = path.read_bytes()
    second = 4 + int.from_bytes(data[:4], "big")
    path.write_bytes(data[:second] + data[second : second + 4] + b"\x07" + data[second + 5 :])

    with pytest.raises(InvalidBatch, match="wrong magic byte: 0x07") as caught:
        list(read_batch(str(path), checkout_contract, schema_lookup=lambda _: checkout_contract))
    assert (caught.value.row, caught.value.byte_offset) == (2, second)


def test_unknown_schema_id_is_an_invalid_batch(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "dump.confluent", 3, fmt="confluent", schema_id=99)

    def lookup(schema_id: int) -> Contract:
        raise SchemaNotFound(f"schema {schema_id} not found")

    with pytest.raises(InvalidBatch, match="unknown schema id 99") as caught:
        list(read_batch(str(path), checkout_contract, schema_lookup=lookup))
    assert (caught.value.row, caught.value.byte_offset) == (1, 0)


def test_confluent_input_without_a_lookup_is_refused(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "dump.confluent", 3, fmt="confluent")

    with pytest.raises(InvalidBatch, match="needs a schema lookup"):
        list(read_batch(str(path), checkout_contract))


def test_a_truncated_confluent_dump_is_an_invalid_batch(generate, checkout_contract, tmp_path):
    path = generate.write("checkout", tmp_path / "dump.confluent", 3, fmt="confluent")
    path.write_bytes(path.read_bytes()[:-10])

    with pytest.raises(InvalidBatch, match="truncated") as caught:
        list(read_batch(str(path), checkout_contract, schema_lookup=lambda _: checkout_contract))
    assert caught.value.row == 3


def test_a_confluent_avro_payload_that_does_not_decode_is_a_decode_violation(
    generate, checkout_contract, tmp_path
):
    good = generate.write("checkout", tmp_path / "good.confluent", 2, fmt="confluent").read_bytes()
    path = tmp_path / "dump.confluent"
    path.write_bytes(good + generate.confluent_frame(1, b"\x02"))  # a string length with no string

    chunks = list(read_batch(str(path), checkout_contract, schema_lookup=lambda _: checkout_contract))

    assert [(v.row, v.rule, v.byte_offset) for c in chunks for v in c.violations] == [
        (3, "decode", len(good))
    ]
    assert rows(chunks) == 2


def test_a_binary_record_over_the_size_cap_is_refused(generate, signup_contract, tmp_path):
    path = tmp_path / "big.pb"
    cls = message_class(signup_contract)
    path.write_bytes(generate.delimited(cls(event_id="x" * 2000).SerializeToString()))

    with pytest.raises(InvalidBatch, match="over the 1024-byte limit") as caught:
        list(read_batch(str(path), signup_contract, max_line_bytes=1024))
    assert (caught.value.row, caught.value.byte_offset) == (1, 0)


@pytest.mark.parametrize(
    ("suffix", "contract_name"), [(".pb", "signup_contract"), (".confluent", "checkout_contract")]
)
def test_an_empty_binary_file_is_an_invalid_batch(request, tmp_path, suffix, contract_name):
    contract = request.getfixturevalue(contract_name)
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")

    with pytest.raises(InvalidBatch, match="holds no records"):
        list(read_batch(str(path), contract, schema_lookup=lambda _: contract))


def test_an_empty_avro_file_is_an_invalid_batch(checkout_contract, tmp_path):
    path = tmp_path / "empty.avro"
    path.write_bytes(b"")

    with pytest.raises(InvalidBatch, match="Avro header cannot be decoded"):
        list(read_batch(str(path), checkout_contract))
