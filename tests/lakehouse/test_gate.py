"""The gate end to end on real Iceberg tables: decide, write once, log; reject, quarantine, mask, evolve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import bronze
from lakehouse.errors import InvalidBatch
from lakehouse.gate import ingest
from lakehouse.ingest_log import IngestLog
from lakehouse.masking import MissingPiiKey, pii_hash
from lakehouse.naming import bronze_identifier, quarantine_identifier
from registry.contract import load_contract
from registry.errors import InvalidArgument

CHECKOUT = "checkout.CheckoutCompleted"
SIGNUP = "identity.UserSignedUp"


def checkout(i: int, **changes) -> dict:
    record = {
        "event_id": f"e{i}",
        "order_id": f"o{i}",
        "user_id": f"u{i}",
        "email": f"user{i}@example.com",
        "amount": 10.0 + i,
        "currency": "EUR",
        "completed_at": "2026-11-25T10:00:00Z",
        "items": [{"sku": "SKU-1", "quantity": 1}],
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


@pytest.fixture
def contract(examples_dir):
    return load_contract(examples_dir / "contracts/checkout/checkout_completed.yaml")


def rows_in(catalog, identifier):
    return catalog.load_table(identifier).scan().to_arrow()


def test_an_accepted_batch_is_one_snapshot_with_its_summary_and_gate_columns(
    iceberg_catalog, contract, tmp_path
):
    path = write_jsonl(tmp_path / "b.jsonl", [checkout(i) for i in range(5)])
    result = ingest([path], contract, iceberg_catalog, schema_id=42, schema_version=3, batch_id="b-1")

    assert (result.status, result.rows_accepted, result.rows_rejected) == ("accepted", 5, 0)
    table = iceberg_catalog.load_table(bronze_identifier(CHECKOUT))
    (snapshot,) = table.metadata.snapshots
    assert snapshot.snapshot_id == result.snapshot_id
    assert table.properties[bronze.TABLE_SUBJECT] == CHECKOUT
    summary = snapshot.summary
    assert summary[bronze.SUMMARY_BATCH_ID] == "b-1"
    assert summary[bronze.SUMMARY_SUBJECT] == CHECKOUT
    assert summary[bronze.SUMMARY_SCHEMA_ID] == "42"
    assert summary[bronze.SUMMARY_RECORD_COUNT] == "5"
    data = rows_in(iceberg_catalog, bronze_identifier(CHECKOUT))
    assert sorted(data.column("event_id").to_pylist()) == [f"e{i}" for i in range(5)]
    assert set(data.column("_schema_id").to_pylist()) == {42}
    assert set(data.column("_schema_version").to_pylist()) == {3}
    (entry,) = IngestLog(iceberg_catalog.engine).entries()
    assert (entry.status, entry.batch_id, entry.rows_accepted, entry.files) == ("accepted", "b-1", 5, [path])


def test_reingesting_the_same_content_is_a_no_op_that_says_so(iceberg_catalog, contract, tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", [checkout(i) for i in range(3)])
    first = ingest([path], contract, iceberg_catalog, schema_id=1, schema_version=1)
    copy = shutil.copy(path, tmp_path / "same-bytes.jsonl")
    again = ingest([str(copy)], contract, iceberg_catalog, schema_id=1, schema_version=1)

    assert first.batch_id == again.batch_id and first.batch_id.startswith("sha256:")
    assert again.status == "duplicate" and "already in bronze.checkout__checkout_completed" in again.message
    assert again.snapshot_id == first.snapshot_id
    assert rows_in(iceberg_catalog, bronze_identifier(CHECKOUT)).num_rows == 3
    assert [e.status for e in IngestLog(iceberg_catalog.engine).entries()] == ["duplicate", "accepted"]


def parquet_files(catalog, identifier) -> list[Path]:
    return list(Path(catalog.load_table(identifier).location().removeprefix("file://")).rglob("*.parquet"))


def test_a_duplicate_found_by_content_hash_midway_leaves_no_files(sqlite_catalog, contract, tmp_path):
    """The hash is computed while the first chunks decode: a duplicate stops there, writing nothing."""
    path = write_jsonl(tmp_path / "b.jsonl", [checkout(i) for i in range(40)])
    first = ingest([path], contract, sqlite_catalog, schema_id=1, schema_version=1, chunk_rows=2)
    files = parquet_files(sqlite_catalog, bronze_identifier(CHECKOUT))
    seen: list[tuple] = []
    again = ingest(
        [path], contract, sqlite_catalog, schema_id=1, schema_version=1, chunk_rows=2,
        progress=lambda *step: seen.append(step),
    )  # fmt: skip

    assert (again.status, again.batch_id) == ("duplicate", first.batch_id)
    assert parquet_files(sqlite_catalog, bronze_identifier(CHECKOUT)) == files
    assert seen == []  # no chunk was taken in: the id was checked first
    assert rows_in(sqlite_catalog, bronze_identifier(CHECKOUT)).num_rows == 40


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_progress_counts_the_bytes_read_up_to_the_files_size(sqlite_catalog, contract, tmp_path, compress):
    """Bytes as stored: a gzip file counts its compressed bytes; the count only grows, to the total."""
    import gzip

    paths = []
    for name, numbers in (("a.jsonl", range(40)), ("b.jsonl", range(40, 70))):
        path = Path(write_jsonl(tmp_path / name, [checkout(i) for i in numbers]))
        if compress:
            packed = path.with_suffix(".jsonl.gz")
            packed.write_bytes(gzip.compress(path.read_bytes()))
            path = packed
        paths.append(str(path))
    size = sum(Path(p).stat().st_size for p in paths)
    seen: list[tuple[int, int, int]] = []
    result = ingest(
        paths, contract, sqlite_catalog, schema_id=1, schema_version=1, chunk_rows=8,
        progress=lambda *step: seen.append(step), workers=1,
    )  # fmt: skip
    assert result.status == "accepted"
    rows, read, totals = zip(*seen, strict=True)
    assert set(totals) == {size}
    assert list(read) == sorted(read) and list(rows) == sorted(rows) and read[0] < size  # file by file
    assert seen[-1] == (70, size, size)


def test_a_landed_batch_stays_a_duplicate_even_if_it_no_longer_decodes(sqlite_catalog, contract, tmp_path):
    """Decoding starts before the content hash is known; the duplicate decision still comes first."""
    path = write_jsonl(tmp_path / "b.jsonl", [checkout(i) for i in range(3)])
    first = ingest([path], contract, sqlite_catalog, schema_id=1, schema_version=1)
    again = ingest([path], contract, sqlite_catalog, schema_id=1, schema_version=1, input_format="avro")

    assert (again.status, again.batch_id) == ("duplicate", first.batch_id)
    assert [e.status for e in IngestLog(sqlite_catalog.engine).entries()] == ["duplicate", "accepted"]


def test_a_given_batch_id_seen_before_is_a_duplicate_whatever_the_content(sqlite_catalog, contract, tmp_path):
    one = write_jsonl(tmp_path / "1.jsonl", [checkout(1)])
    two = write_jsonl(tmp_path / "2.jsonl", [checkout(2)])
    ingest([one], contract, sqlite_catalog, schema_id=1, schema_version=1, batch_id="orders-2026-11-25")
    result = ingest(
        [two], contract, sqlite_catalog, schema_id=1, schema_version=1, batch_id="orders-2026-11-25"
    )
    assert result.status == "duplicate"
    assert rows_in(sqlite_catalog, bronze_identifier(CHECKOUT)).column("event_id").to_pylist() == ["e1"]


BAD_ROWS = [
    (checkout(2, currency="JPY"), "enum"),
    (checkout(3, amount=-1.0), "min"),
    (checkout(4, email="not-an-email"), "regex"),
    (checkout(5, event_id="e1"), "unique"),
    (checkout(6, amount="ten"), "type"),
    (checkout(7, order_id=...), "required"),
]


def test_any_violation_rejects_the_whole_batch_and_nothing_is_written(iceberg_catalog, contract, tmp_path):
    records = [checkout(1)] + [record for record, _ in BAD_ROWS] + [checkout(8)]
    path = write_jsonl(tmp_path / "bad.jsonl", records)
    result = ingest([path], contract, iceberg_catalog, schema_id=1, schema_version=1)

    assert result.status == "rejected" and result.rows_accepted == 0
    assert result.rows_rejected == len(BAD_ROWS)
    assert {rule for _, rule in BAD_ROWS} <= set(result.reasons)
    assert {v.row for v in result.violations} == set(range(2, 2 + len(BAD_ROWS)))
    assert all(v.file == path for v in result.violations)
    regex = next(v for v in result.violations if v.rule == "regex")
    assert regex.value == "<redacted PII>" and "not-an-email" not in regex.message
    table = iceberg_catalog.load_table(bronze_identifier(CHECKOUT))
    assert table.current_snapshot() is None
    data_dir = Path(table.location().removeprefix("file://")) / "data"
    assert not data_dir.exists() or not any(data_dir.rglob("*.parquet"))
    (entry,) = IngestLog(iceberg_catalog.engine).entries()
    assert entry.status == "rejected" and entry.reasons == result.reasons


def test_a_rejected_batch_can_be_fixed_and_sent_again(sqlite_catalog, contract, tmp_path):
    bad = write_jsonl(tmp_path / "b.jsonl", [checkout(1, currency="JPY")])
    assert (
        ingest([bad], contract, sqlite_catalog, schema_id=1, schema_version=1, batch_id="b").status
        == "rejected"
    )
    fixed = write_jsonl(tmp_path / "b.jsonl", [checkout(1)])
    assert (
        ingest([fixed], contract, sqlite_catalog, schema_id=1, schema_version=1, batch_id="b").status
        == "accepted"
    )


def test_quarantine_sends_invalid_rows_with_reasons_and_valid_rows_to_bronze(
    iceberg_catalog, contract, tmp_path
):
    records = [checkout(1)] + [record for record, _ in BAD_ROWS] + [checkout(8)]
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    result = ingest(
        [path],
        contract,
        iceberg_catalog,
        schema_id=1,
        schema_version=1,
        on_invalid="quarantine",
        batch_id="q-1",
    )

    assert (result.status, result.rows_accepted, result.rows_rejected) == ("quarantined", 2, len(BAD_ROWS))
    good = rows_in(iceberg_catalog, bronze_identifier(CHECKOUT))
    assert sorted(good.column("event_id").to_pylist()) == ["e1", "e8"]
    bad = rows_in(iceberg_catalog, quarantine_identifier(CHECKOUT)).sort_by("row").to_pylist()
    assert [r["row"] for r in bad] == list(range(2, 2 + len(BAD_ROWS)))
    assert {r["_batch_id"] for r in bad} == {"q-1"} and {r["file"] for r in bad} == {path}
    assert [r["reasons"][0]["rule"] for r in bad] == [rule for _, rule in BAD_ROWS]
    assert all(r["byte_offset"] is not None for r in bad)
    for row in bad:
        assert "@example.com" not in row["raw"] and "not-an-email" not in row["raw"]
        assert json.loads(row["raw"])["email"] == "<redacted PII>"
    quarantine = iceberg_catalog.load_table(quarantine_identifier(CHECKOUT))
    assert quarantine.current_snapshot().summary[bronze.SUMMARY_BATCH_ID] == "q-1"
    again = ingest(
        [path],
        contract,
        iceberg_catalog,
        schema_id=1,
        schema_version=1,
        on_invalid="quarantine",
        batch_id="q-1",
    )
    assert again.status == "duplicate"
    assert rows_in(iceberg_catalog, quarantine_identifier(CHECKOUT)).num_rows == len(BAD_ROWS)


def test_masking_at_bronze_stores_keyed_hashes_of_pii_fields(
    sqlite_catalog, examples_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("MESHGATE_PII_KEY", "demo-key")
    signup = load_contract(examples_dir / "contracts/identity/user_signed_up.yaml")
    assert signup.metadata.mask_pii_at == "bronze"
    record = {"event_id": "s1", "user_id": "u-000001", "email": "ana@example.com", "country": "PT",
              "signed_up_at": "2026-11-25T10:00:00Z", "plan": "PRO"}  # fmt: skip
    path = write_jsonl(tmp_path / "signups.jsonl", [record])
    assert ingest([path], signup, sqlite_catalog, schema_id=1, schema_version=1).status == "accepted"
    (row,) = rows_in(sqlite_catalog, bronze_identifier(SIGNUP)).to_pylist()
    assert row["email"] == pii_hash("ana@example.com", b"demo-key") and row["country"] == "PT"


def test_masking_without_a_key_is_refused_before_anything_is_read(
    sqlite_catalog, examples_dir, tmp_path, monkeypatch
):
    monkeypatch.delenv("MESHGATE_PII_KEY", raising=False)
    signup = load_contract(examples_dir / "contracts/identity/user_signed_up.yaml")
    with pytest.raises(MissingPiiKey, match="MESHGATE_PII_KEY"):
        ingest([str(tmp_path / "never-read.jsonl")], signup, sqlite_catalog, schema_id=1, schema_version=1)
    assert sqlite_catalog.list_tables("bronze") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"on_invalid": "drop"}, "on_invalid: 'drop'"), ({"paths": []}, "at least one input")],
)
def test_bad_arguments_are_named(sqlite_catalog, contract, tmp_path, kwargs, message):
    args = {"paths": [str(tmp_path / "x.jsonl")], **kwargs}
    with pytest.raises(InvalidArgument, match=message):
        ingest(args.pop("paths"), contract, sqlite_catalog, schema_id=1, schema_version=1, **args)


def _evolved_checkout(examples_dir: Path, tmp_path: Path, version: int) -> Path:
    """v1 and v2 from examples/; v3 renames coupon_code to coupon (alias) and widens quantity to long."""
    folder = tmp_path / f"v{version}"
    folder.mkdir()
    yaml_text = (examples_dir / "contracts/checkout/checkout_completed.yaml").read_text()
    if version == 1:
        schema = json.loads((examples_dir / "contracts/checkout/checkout_completed.avsc").read_text())
    else:
        schema = json.loads((examples_dir / "evolution/checkout_completed.v2.avsc").read_text())
    if version == 3:
        coupon = next(f for f in schema["fields"] if f["name"] == "coupon_code")
        coupon.update(name="coupon", aliases=["coupon_code"])
        items = next(f for f in schema["fields"] if f["name"] == "items")
        items["type"]["items"]["fields"][1]["type"] = "long"
    (folder / "checkout_completed.avsc").write_text(json.dumps(schema))
    (folder / "checkout_completed.yaml").write_text(yaml_text)
    return folder / "checkout_completed.yaml"


def test_three_contract_versions_evolve_bronze_and_old_snapshots_stay_readable(
    iceberg_catalog, examples_dir, tmp_path
):
    results = []
    for version, extra in [(1, {}), (2, {"coupon_code": "WELCOME"}), (3, {"coupon": "SPRING"})]:
        contract = load_contract(_evolved_checkout(examples_dir, tmp_path, version))
        path = write_jsonl(tmp_path / f"v{version}.jsonl", [checkout(version, **extra)])
        result = ingest([path], contract, iceberg_catalog, schema_id=version, schema_version=version)
        assert result.status == "accepted", result.violations
        results.append(result)

    table = iceberg_catalog.load_table(bronze_identifier(CHECKOUT))
    schema = table.schema()
    assert "coupon" in schema.column_names and "coupon_code" not in schema.column_names
    assert str(schema.find_field("items.element.quantity").field_type) == "long"
    data = table.scan().to_arrow().sort_by("_schema_version").to_pylist()
    assert [(r["event_id"], r["coupon"]) for r in data] == [("e1", None), ("e2", "WELCOME"), ("e3", "SPRING")]
    first = table.scan(snapshot_id=results[0].snapshot_id).to_arrow()
    assert first.column("event_id").to_pylist() == ["e1"]


def test_a_protobuf_field_renamed_under_its_number_keeps_its_column(sqlite_catalog, examples_dir, tmp_path):
    proto = (examples_dir / "contracts/identity/user_signed_up.proto").read_text()
    yaml_text = (examples_dir / "contracts/identity/user_signed_up.yaml").read_text()
    yaml_text = yaml_text.replace("mask_pii_at: bronze", "mask_pii_at: silver").replace(
        "field: country,", "field: country_code,"
    )
    record = {
        "event_id": "s1",
        "user_id": "u-000001",
        "email": "a@b.io",
        "signed_up_at": "2026-11-25T10:00:00Z",
        "plan": "FREE",
    }
    for version, text in [(1, proto), (2, proto.replace("string country = 4;", "string country_code = 4;"))]:
        folder = tmp_path / f"v{version}"
        folder.mkdir()
        (folder / "user_signed_up.proto").write_text(text)
        (folder / "c.yaml").write_text(
            yaml_text if version == 2 else yaml_text.replace("country_code", "country")
        )
        contract = load_contract(folder / "c.yaml")
        field = "country" if version == 1 else "country_code"
        path = write_jsonl(
            tmp_path / f"s{version}.jsonl", [{**record, "event_id": f"s{version}", field: "PT"}]
        )
        assert (
            ingest([path], contract, sqlite_catalog, schema_id=version, schema_version=version).status
            == "accepted"
        )
    data = rows_in(sqlite_catalog, bronze_identifier(SIGNUP))
    assert "country" not in data.column_names
    assert data.column("country_code").to_pylist() == ["PT", "PT"]


@pytest.mark.parametrize(
    ("kind", "name", "fmt"),
    [
        ("checkout", "batch.jsonl.gz", "jsonl"),
        ("checkout", "batch.avro", "avro"),
        ("signup", "batch.pb.zst", "protobuf"),
        ("checkout", "batch.confluent", "confluent"),
        ("signup", "batch.confluent.zst", "confluent"),
    ],
)
def test_each_input_format_lands_in_bronze(sqlite_catalog, generate, tmp_path, monkeypatch, kind, name, fmt):
    monkeypatch.setenv("MESHGATE_PII_KEY", "k")
    contract = generate.contract(kind)
    path = generate.write(kind, tmp_path / name, 40, fmt=fmt, schema_id=5)
    lookups = []

    def lookup(schema_id):
        lookups.append(schema_id)
        return contract

    result = ingest(
        [str(path)], contract, sqlite_catalog, schema_id=5, schema_version=1, schema_lookup=lookup
    )
    assert (result.status, result.rows_accepted) == ("accepted", 40)
    assert rows_in(sqlite_catalog, bronze_identifier(contract.subject)).num_rows == 40
    assert lookups == ([5] if fmt == "confluent" else [])


def _truncate_gzip(generate, path):
    data = generate.write("checkout", path.with_suffix(".jsonl.gz"), 50).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _plain_named_gz(generate, path):
    path.write_bytes(generate.write("checkout", path.with_suffix(".jsonl"), 5).read_bytes())


def _wrong_magic(generate, path):
    data = bytearray(
        generate.write("checkout", path.with_suffix(".confluent"), 3, fmt="confluent").read_bytes()
    )
    data[4] = 7
    path.write_bytes(bytes(data))


def _unknown_id(generate, path):
    path.write_bytes(
        generate.write(
            "checkout", path.with_suffix(".confluent"), 3, fmt="confluent", schema_id=99
        ).read_bytes()
    )


def _not_an_object(generate, path):
    path.write_text(json.dumps(checkout(1)) + "\n" + json.dumps(["a", "list"]) + "\n")


@pytest.mark.parametrize(
    ("name", "fmt", "make", "message"),
    [
        ("truncated.jsonl.gz", None, _truncate_gzip, "truncated"),
        ("plain.jsonl.gz", None, _plain_named_gz, "not gzip"),
        ("magic.confluent", "confluent", _wrong_magic, "wrong magic byte"),
        ("unknown.confluent", "confluent", _unknown_id, "unknown schema id 99"),
        ("list.jsonl", None, _not_an_object, "not an object|JSON object"),
    ],
)
def test_undecodable_input_is_a_clear_error_and_nothing_is_written(
    sqlite_catalog, contract, generate, tmp_path, name, fmt, make, message
):
    from registry.errors import SchemaNotFound

    path = tmp_path / name
    make(generate, path)

    def lookup(schema_id):
        if schema_id != 1:
            raise SchemaNotFound(f"schema {schema_id} not found")
        return contract

    with pytest.raises(InvalidBatch, match=message) as error:
        ingest([str(path)], contract, sqlite_catalog, schema_id=1, schema_version=1, input_format=fmt,
               schema_lookup=lookup, chunk_rows=10)  # fmt: skip
    assert str(path) in str(error.value)
    if sqlite_catalog.table_exists(bronze_identifier(CHECKOUT)):  # not when the content hash already failed
        table = sqlite_catalog.load_table(bronze_identifier(CHECKOUT))
        assert table.current_snapshot() is None
        assert not list(Path(table.location().removeprefix("file://")).rglob("*.parquet"))
    (entry,) = IngestLog(sqlite_catalog.engine).entries()
    assert entry.status == "rejected" and str(path) in entry.message


def test_a_multi_file_batch_reports_violations_of_every_file_in_order_whatever_the_workers(
    tmp_path, sqlite_catalog
):
    """Blocks decoded in parallel (small chunks, several workers) report the same violations, in
    file then line order, with each file's own line numbers, as one worker does; the batch id too."""
    from lakehouse.gate import ingest as gate_ingest

    contract = _workers_contract(tmp_path)
    paths = []
    for f in range(4):
        lines = [f'{{"id":"f{f}-{i}","n":{-1 if i in (3, 17) and f != 1 else i}}}' for i in range(40)]
        path = tmp_path / f"part{f}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    results = [
        gate_ingest(paths, contract, sqlite_catalog, schema_id=1, schema_version=1, chunk_rows=5, workers=w,
                    max_violations=None)
        for w in (1, 3)
    ]  # fmt: skip
    for result in results:
        assert result.status == "rejected"
        assert [(v.file.rsplit("/", 1)[-1], v.row) for v in result.violations] == [
            (f"part{f}.jsonl", row) for f in (0, 2, 3) for row in (4, 18)
        ]
    assert results[0].batch_id == results[1].batch_id


def _workers_contract(tmp_path):
    from registry.contract import load_contract

    (tmp_path / "n.avsc").write_text(
        '{"type":"record","name":"N","fields":[{"name":"id","type":"string"},{"name":"n","type":"long"}]}'
    )
    (tmp_path / "n.yaml").write_text(
        "subject: shop.N\nformat: AVRO\nschema: n.avsc\nquality:\n  - {field: n, rule: min, value: 0}\n"
    )
    return load_contract(tmp_path / "n.yaml")


ARROW_POOL_CHILD = """
import json, sys
import pyarrow as pa
from lakehouse.catalog import open_catalog
from lakehouse.gate import ingest
from registry.contract import load_contract
before = pa.default_memory_pool().backend_name
result = ingest([sys.argv[1]], load_contract(sys.argv[2]), open_catalog(sys.argv[3]), schema_id=1, schema_version=1)
print(json.dumps([before, pa.default_memory_pool().backend_name, result.status]))
"""


@pytest.mark.parametrize(
    ("env", "expected"), [({}, "jemalloc"), ({"ARROW_DEFAULT_MEMORY_POOL": "system"}, "system")]
)
def test_the_gate_takes_arrow_memory_from_a_pool_that_returns_it_unless_one_is_chosen(
    examples_dir, tmp_path, env, expected
):
    """jemalloc hands freed chunk memory back to the system; a pool named in the environment stands."""
    path = write_jsonl(tmp_path / "b.jsonl", [checkout(i) for i in range(3)])
    contract_file = examples_dir / "contracts/checkout/checkout_completed.yaml"
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    out = subprocess.run(
        [sys.executable, "-c", ARROW_POOL_CHILD, path, str(contract_file), str(tmp_path / "data")],
        capture_output=True, text=True, check=True, env=environment,
    ).stdout  # fmt: skip
    before, after, status = json.loads(out.splitlines()[-1])

    assert (after, status) == (expected, "accepted")
    assert before == ("mimalloc" if not env else expected)
