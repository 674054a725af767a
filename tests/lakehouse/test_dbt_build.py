"""Real `dbt build` (dbt-duckdb) over Bronze Iceberg tables: Silver dedup and masking, incremental
reruns, Gold against numbers computed here in Python, Iceberg landing, lineage docs.

One project is built per module (dbt invocations cost seconds): two Bronze batches per subject, the
second with re-deliveries and late events, then `dbt build` after each batch, then once more with
nothing new.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import sys
import threading
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from lakehouse import bronze
from lakehouse.catalog import open_catalog
from lakehouse.dbt.cli import serve_docs
from lakehouse.dbt.glue import DUCKDB_FILE, PROJECT_DIR, run_dbt, target_dir
from lakehouse.dbt.sources import SOURCES_FILE
from lakehouse.gate import ingest
from lakehouse.masking import KEY_ENV, pii_hash
from lakehouse.naming import bronze_identifier
from lakehouse.schema_mapping import arrow_schema, nullable
from meshgate.cli import main
from registry.contract import load_contract

KEY = "dbt-test-key"
CHECKOUT = "checkout/checkout_completed.yaml"
SIGNUP = "identity/user_signed_up.yaml"
PAGEVIEW = "web/page_viewed.yaml"
CONTRACT_FILES = {"checkout": CHECKOUT, "signup": SIGNUP, "pageview": PAGEVIEW}
SILVER = {
    "checkout": "checkout__checkout_completed",
    "signup": "identity__user_signed_up",
    "pageview": "web__page_viewed",
}
GOLD = ["daily_active_users", "daily_revenue", "conversion_funnel", "daily_page_views"]
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def generator():
    """examples/generate.py as a module (examples/ is not a package)."""
    if "meshgate_examples_generate" not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "examples" / "generate.py"
        spec = importlib.util.spec_from_file_location("meshgate_examples_generate", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["meshgate_examples_generate"]


def ingest_batch(
    catalog, contract, rows: list[dict], batch_id: str, ingested_at: datetime, folder: Path
) -> None:
    """Land one batch through the real gate: written as the producer's format, validated, one snapshot."""
    fmt = {"AVRO": "avro", "PROTOBUF": "protobuf", "JSON": "jsonl"}[contract.format]
    path = generator().write_records(iter(rows), folder / f"{batch_id}.{fmt}", contract, fmt=fmt)
    result = ingest(
        [path], contract, catalog, schema_id=1, schema_version=1, batch_id=batch_id, clock=lambda: ingested_at
    )
    assert result.status == "accepted", result.message


def land_bypassing_the_gate(catalog, contract, rows: list[dict], batch_id: str) -> None:
    """Append rows to Bronze with lakehouse.bronze directly, for rows the gate would reject."""
    schema = arrow_schema(contract)
    table = bronze.ensure_table(catalog, bronze_identifier(contract.subject), schema)
    writer = bronze.BatchWriter(table, bronze.GateValues(batch_id, DAY0, 1, 1))
    data = pa.Table.from_pylist(rows, schema=nullable(schema))
    writer.write(data)
    bronze.commit_batch(table, writer.finish(), {bronze.SUMMARY_BATCH_ID: batch_id})


def sample_events(seed: int = 7):
    """Sign-ups, checkouts and page views of 40 users over three weeks; batch 2 re-delivers some events
    with changed values (the later delivery must win) and brings late events of earlier days."""
    rng = random.Random(seed)
    signups, checkouts = [], []
    for n in range(40):
        user = f"u-{n:06d}"  # the contract's user id pattern
        signed_up_at = DAY0 + timedelta(days=rng.randrange(10), minutes=rng.randrange(1440))
        signups.append(
            {
                "event_id": f"s{n:02d}",
                "user_id": user,
                "email": f"{user}@example.org",
                "country": rng.choice(["DE", "FR", "GB"]),
                "signed_up_at": signed_up_at,
                "plan": rng.choice(["FREE", "PRO"]),
            }
        )
        for k in range(rng.randrange(4)):
            checkouts.append(
                {
                    "event_id": f"c{n:02d}{k}",
                    "order_id": f"o{n:02d}{k}",
                    "user_id": user,
                    "email": f"{user}@example.org",
                    "amount": round(rng.uniform(1, 200), 2),
                    "currency": rng.choice(["EUR", "USD", "GBP"]),
                    "completed_at": signed_up_at + timedelta(hours=rng.randrange(1, 14 * 24)),
                    "items": [{"sku": f"sku-{rng.randrange(9)}", "quantity": rng.randrange(1, 4)}],
                }
            )
    late = checkouts[-6:]
    on_time = checkouts[:-6]
    redelivered = [dict(e, amount=e["amount"] + 1000, currency="GBP") for e in on_time[::5]]
    views = sample_page_views(signups, random.Random(seed + 1))
    batch1 = {"checkout": on_time, "signup": signups[:30], "pageview": views[:-5]}
    batch2 = {
        "checkout": redelivered + late,
        "signup": signups[30:] + [dict(s, country="FR") for s in signups[:3]],
        "pageview": views[-5:] + [dict(v, device="tablet", duration_ms=1) for v in views[:40:4]],
    }
    return batch1, batch2


def sample_page_views(signups: list[dict], rng: random.Random) -> list[dict]:
    """A few page views around each sign-up, one in three of a visitor not signed in."""
    views = []
    for signup in signups:
        for _ in range(rng.randrange(1, 5)):
            signed_in = rng.random() < 0.66
            views.append(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "viewed_at": signup["signed_up_at"] + timedelta(hours=rng.randrange(-24, 72)),
                    "session_id": f"s-{rng.randrange(30):02d}",
                    "user_id": signup["user_id"] if signed_in else None,
                    "user_email": signup["email"] if signed_in else None,
                    "page": {"url": f"https://shop.example.com/{rng.choice(['', 'cart', 'search'])}"},
                    "referrer": None,
                    "duration_ms": rng.randrange(100, 60_000),
                    "device": rng.choice(["desktop", "mobile"]),
                }
            )
    return views


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Bronze batches landed and built one after another, then a rerun with nothing new.

    Batch 3 was stamped (``_ingested_at``) before batch 2 but committed after batch 2 was built, as
    when two gates run at once: Silver's lookback must still pick it up.
    """
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(KEY_ENV, KEY)
    data_dir = tmp_path_factory.mktemp("lakehouse")
    catalog = open_catalog(data_dir)
    contracts = {name: load_contract(EXAMPLES / path) for name, path in CONTRACT_FILES.items()}
    batch1, batch2 = sample_events()
    deliveries = [  # (batch number, _ingested_at, rows by subject), in commit order
        (1, DAY0 + timedelta(days=21), batch1),
        (2, DAY0 + timedelta(days=22), batch2),
        (3, DAY0 + timedelta(days=22, hours=-1), late_committed_batch(batch1, batch2)),
    ]
    builds, silver_after = [], []
    for number, ingested_at, batch in deliveries:
        for name, rows in batch.items():
            ingest_batch(catalog, contracts[name], rows, f"{name}-{number}", ingested_at, data_dir)
        builds.append(run_dbt(["build"], data_dir))
        silver_after.append(snapshot_silver(data_dir))
    identifiers = [("silver", t) for t in SILVER.values()] + [("gold", g) for g in GOLD]
    snapshots_before_rerun = {i: len(catalog.load_table(i).snapshots()) for i in identifiers}
    rerun = CliRunner().invoke(main, ["transform", "--data-dir", str(data_dir)])  # the CLI this time
    silver_after.append(snapshot_silver(data_dir))
    yield {
        "data_dir": data_dir,
        "catalog": catalog,
        "deliveries": deliveries,
        "builds": builds,
        "rerun": rerun,
        "snapshots_before_rerun": snapshots_before_rerun,
        "silver_after": silver_after,
    }
    catalog.engine.dispose()
    monkeypatch.undo()


def late_committed_batch(batch1: dict, batch2: dict) -> dict:
    """A new event, a re-delivery of an event batch 2 corrected (batch 2 stamped later: it wins), and a
    correction of an event only batch 1 had (stamped after batch 1: this one wins)."""
    corrected_by_batch2 = {row["event_id"] for row in batch2["checkout"]}
    only_batch1 = next(row for row in batch1["checkout"] if row["event_id"] not in corrected_by_batch2)
    stale = next(row for row in batch1["checkout"] if row["event_id"] in corrected_by_batch2)
    new = dict(only_batch1, event_id="c-late", order_id="o-late")
    return {
        "checkout": [new, dict(stale, amount=1.0), dict(only_batch1, amount=only_batch1["amount"] + 7)],
        "signup": [dict(batch1["signup"][5], country="GB")],
        "pageview": [dict(batch1["pageview"][1], device="mobile")],
    }


def expected_silver(built, name: str) -> dict[str, dict]:
    """The latest delivery of each event by (_ingested_at, batch): what Silver must hold."""
    latest = {}
    for _, _, batch in sorted(built["deliveries"], key=lambda d: (d[1], d[0])):
        for row in batch[name]:
            latest[row["event_id"]] = row
    return latest


def snapshot_silver(data_dir) -> dict[str, list[tuple]]:
    return {
        name: query(data_dir, f"select * from silver.{table} order by event_id")
        for name, table in SILVER.items()
    }


def query(data_dir, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / DUCKDB_FILE), read_only=True) as conn:
        return conn.sql(sql).fetchall()


def records(data_dir, relation: str) -> list[dict]:
    with duckdb.connect(str(data_dir / DUCKDB_FILE), read_only=True) as conn:
        return conn.sql(f"select * from {relation}").to_arrow_table().to_pylist()


def test_every_build_succeeds_with_all_tests_passing(built):
    for run in built["builds"]:
        assert run.success, run.failures
        assert run.failures == []
    assert built["rerun"].exit_code == 0, built["rerun"].output


def test_transform_streams_dbt_progress(built):
    output = built["rerun"].output
    assert "START sql incremental model silver.checkout__checkout_completed" in output
    assert "PASS bronze__checkout__checkout_completed__amount__min" in output
    assert "ERROR=0" in output  # the summary line: Done. PASS=.. WARN=.. ERROR=0


def test_silver_keeps_the_latest_delivery_of_each_event(built):
    expected = expected_silver(built, "checkout")
    silver = {
        row["event_id"]: row for row in records(built["data_dir"], "silver.checkout__checkout_completed")
    }
    assert sorted(silver) == sorted(expected)
    for event_id, row in expected.items():
        assert silver[event_id]["amount"] == pytest.approx(row["amount"])
        assert silver[event_id]["currency"] == row["currency"]
        assert silver[event_id]["completed_at"] == row["completed_at"]
    signups = {row["event_id"]: row for row in records(built["data_dir"], "silver.identity__user_signed_up")}
    expected_signups = expected_silver(built, "signup")
    assert {k: v["country"] for k, v in signups.items()} == {
        k: v["country"] for k, v in expected_signups.items()
    }


def test_silver_pii_is_the_gates_keyed_hash_and_no_clear_value_remains(built):
    data_dir = built["data_dir"]
    for name in ("checkout", "signup"):
        expected = expected_silver(built, name)
        for row in records(data_dir, f"silver.{SILVER[name]}"):
            assert row["email_hash"] == pii_hash(expected[row["event_id"]]["email"], KEY.encode())
    views = expected_silver(built, "pageview")
    for row in records(data_dir, f"silver.{SILVER['pageview']}"):
        email = views[row["event_id"]]["user_email"]
        assert row["user_email_hash"] == (email and pii_hash(email, KEY.encode()))
    clear_values = {
        row.get("email") or row.get("user_email")
        for _, _, batch in built["deliveries"]
        for rows in batch.values()
        for row in rows
    } - {None}
    for relation in [f"silver.{t}" for t in SILVER.values()] + [f"gold.{g}" for g in GOLD]:
        for row in records(data_dir, relation):
            strings = {v for v in row.values() if isinstance(v, str)}
            assert not strings & clear_values, f"clear PII in {relation}"


def test_rerun_without_new_bronze_changes_nothing(built):
    after_batch1, after_batch2, after_batch3, after_rerun = built["silver_after"]
    assert after_rerun == after_batch3
    assert len(after_batch1["checkout"]) < len(after_batch2["checkout"])  # batch 2 added late events
    assert len(after_batch2["checkout"]) + 1 == len(after_batch3["checkout"])  # batch 3: one new event


def test_rerun_adds_no_iceberg_snapshot(built):
    for identifier, count in built["snapshots_before_rerun"].items():
        assert len(built["catalog"].load_table(identifier).snapshots()) == count, identifier


def test_gold_matches_numbers_computed_from_the_input_rows(built):
    checkouts = expected_silver(built, "checkout").values()
    signups = expected_silver(built, "signup").values()
    data_dir = built["data_dir"]

    active = defaultdict(set)
    for row in checkouts:
        active[row["completed_at"].date()].add(row["user_id"])
    for row in signups:
        active[row["signed_up_at"].date()].add(row["user_id"])
    dau = query(data_dir, "select activity_date, active_users from gold.daily_active_users order by 1")
    assert dau == [(day, len(users)) for day, users in sorted(active.items())]

    revenue = defaultdict(lambda: [0, 0.0])
    for row in checkouts:
        revenue[(row["completed_at"].date(), row["currency"])][0] += 1
        revenue[(row["completed_at"].date(), row["currency"])][1] += row["amount"]
    gold = query(
        data_dir, "select revenue_date, currency, orders, revenue from gold.daily_revenue order by 1, 2"
    )
    assert [(d, c, n) for d, c, n, _ in gold] == [(d, c, v[0]) for (d, c), v in sorted(revenue.items())]
    assert [r for *_, r in gold] == pytest.approx([v[1] for _, v in sorted(revenue.items())])

    funnel: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for signup in signups:
        window_end = signup["signed_up_at"] + timedelta(days=7)
        converted = any(
            c["user_id"] == signup["user_id"] and signup["signed_up_at"] <= c["completed_at"] < window_end
            for c in checkouts
        )
        funnel[signup["signed_up_at"].date()][0] += 1
        funnel[signup["signed_up_at"].date()][1] += converted
    gold = query(
        data_dir,
        "select signup_date, signups, converted_within_7d, conversion_rate from gold.conversion_funnel order by 1",
    )
    assert [row[:3] for row in gold] == [(d, s, c) for d, (s, c) in sorted(funnel.items())]
    assert [row[3] for row in gold] == pytest.approx(
        [round(c / s, 4) for _, (s, c) in sorted(funnel.items())]
    )

    views = defaultdict(lambda: [0, set(), set()])
    for row in expected_silver(built, "pageview").values():
        counts = views[(row["viewed_at"].date(), row["page"]["url"], row["device"])]
        counts[0] += 1
        counts[1].add(row["session_id"])
        counts[2] |= {row["user_id"]} - {None}
    gold = query(data_dir, "select * from gold.daily_page_views order by 1, 2, 3")
    assert gold == [(*key, n, len(s), len(u)) for key, (n, s, u) in sorted(views.items())]


def test_silver_and_gold_land_as_iceberg_tables_equal_to_duckdb(built):
    catalog = built["catalog"]
    relations = [("silver", t) for t in SILVER.values()] + [("gold", g) for g in GOLD]
    for namespace, name in relations:
        table = catalog.load_table((namespace, name))
        iceberg_rows = table.scan().to_arrow().to_pylist()
        duck_rows = records(built["data_dir"], f"{namespace}.{name}")
        key = lambda row: json.dumps(row, sort_keys=True, default=str)  # noqa: E731
        assert sorted(iceberg_rows, key=key) == sorted(duck_rows, key=key), f"{namespace}.{name}"
        snapshots = table.snapshots()
        assert 2 <= len(snapshots) <= len(built["builds"]), "one snapshot per build that changed the table"
        assert {s.summary.get("meshgate.dbt-model") for s in snapshots} == {
            f'"meshgate"."{namespace}"."{name}"'
        }


def test_docs_lineage_goes_from_bronze_sources_through_silver_to_gold_and_is_served(built):
    result = CliRunner().invoke(main, ["docs", "--data-dir", str(built["data_dir"]), "--no-serve"])
    assert result.exit_code == 0, result.output
    site = target_dir(built["data_dir"])
    assert f"lineage docs: {site / 'index.html'}" in result.output
    manifest = json.loads((site / "manifest.json").read_text())
    parents = manifest["parent_map"]
    bronze_checkout = "source.meshgate.bronze.checkout__checkout_completed"
    bronze_signup = "source.meshgate.bronze.identity__user_signed_up"
    bronze_page_viewed = "source.meshgate.bronze.web__page_viewed"
    assert parents["model.meshgate.silver_checkout_completed"] == [bronze_checkout]
    assert parents["model.meshgate.silver_user_signed_up"] == [bronze_signup]
    assert parents["model.meshgate.silver_page_viewed"] == [bronze_page_viewed]

    def ancestors(node: str) -> set[str]:
        found = set(parents.get(node, []))
        for parent in list(found):
            found |= ancestors(parent)
        return found

    lineage = {gold: ancestors(f"model.meshgate.{gold}") for gold in GOLD}
    assert lineage["daily_active_users"] >= {bronze_checkout, bronze_signup}
    assert lineage["conversion_funnel"] >= {bronze_checkout, bronze_signup}
    assert bronze_checkout in lineage["daily_revenue"]
    assert lineage["daily_page_views"] == {bronze_page_viewed, "model.meshgate.silver_page_viewed"}
    assert manifest["sources"][bronze_checkout]["columns"]["email"]["meta"] == {
        "pii": True,
        "masked_at": "silver",
    }

    server = serve_docs(site, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html") as response:
            assert response.status == 200
            assert b"dbt" in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json") as response:
            assert "model.meshgate.daily_active_users" in json.loads(response.read())["nodes"]
    finally:
        server.shutdown()
        server.server_close()


def test_transform_fails_naming_the_broken_quality_rule(tmp_path, monkeypatch):
    # The gate rejects a negative amount, so this row is written to Bronze directly: dbt's tests are
    # the second line of defence (rows landed by an older gate, a rule added later, a manual fix).
    monkeypatch.setenv(KEY_ENV, KEY)
    catalog = open_catalog(tmp_path)
    contract = load_contract(EXAMPLES / CHECKOUT)
    row = sample_events()[0]["checkout"][0]
    land_bypassing_the_gate(catalog, contract, [dict(row, amount=-5.0)], "bad-1")
    result = CliRunner().invoke(
        main,
        ["transform", "--data-dir", str(tmp_path), "--select", "source:bronze.checkout__checkout_completed"],
    )
    assert result.exit_code == 1, result.output
    assert "dbt build failed" in result.output
    assert "bronze__checkout__checkout_completed__amount__min" in result.output
    catalog.engine.dispose()


def test_silver_deduplicates_on_the_contracts_primary_key(built):
    manifest = json.loads((target_dir(built["data_dir"]) / "manifest.json").read_text())
    for model, source in [
        ("silver_checkout_completed", "checkout__checkout_completed"),
        ("silver_user_signed_up", "identity__user_signed_up"),
    ]:
        primary_key = manifest["sources"][f"source.meshgate.bronze.{source}"]["meta"]["primary_key"]
        unique_key = manifest["nodes"][f"model.meshgate.{model}"]["config"]["unique_key"]
        assert [unique_key] == primary_key, model


def test_transform_without_the_pii_key_fails_saying_so(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    catalog = open_catalog(tmp_path)
    rows = sample_events()[0]["checkout"][:3]
    ingest_batch(catalog, load_contract(EXAMPLES / CHECKOUT), rows, "checkout-1", DAY0, tmp_path)
    result = CliRunner().invoke(
        main, ["transform", "--data-dir", str(tmp_path), "--select", "silver_checkout_completed"]
    )
    assert result.exit_code == 1, result.output
    assert "silver_checkout_completed" in result.output
    assert f"{KEY_ENV} is not set" in result.output
    catalog.engine.dispose()


def test_a_subject_with_no_batch_yet_builds_empty_then_fills_with_its_first_batch(tmp_path, monkeypatch):
    # A contract added before its first batch must not break the project: its Bronze table builds as
    # an empty one of the contract's columns, and the first batch then flows through as usual.
    monkeypatch.setenv(KEY_ENV, KEY)
    catalog = open_catalog(tmp_path)
    batch1, _ = sample_events()
    for name in ("checkout", "signup"):
        ingest_batch(
            catalog, load_contract(EXAMPLES / CONTRACT_FILES[name]), batch1[name][:5], name, DAY0, tmp_path
        )
    result = CliRunner().invoke(main, ["transform", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    note = "note: no batch ingested yet, read as empty tables: bronze.web__page_viewed (web.PageViewed)\n"
    assert note in result.output
    assert query(tmp_path, "select count(*) from silver.web__page_viewed") == [(0,)]
    assert query(tmp_path, "select count(*) from gold.daily_page_views") == [(0,)]
    assert len(query(tmp_path, "select * from silver.checkout__checkout_completed")) == 5

    views = batch1["pageview"][:7]
    ingest_batch(catalog, load_contract(EXAMPLES / PAGEVIEW), views, "pageview", DAY0, tmp_path)
    result = CliRunner().invoke(main, ["transform", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "note:" not in result.output
    landed = query(tmp_path, "select event_id from silver.web__page_viewed order by 1")
    assert landed == sorted((v["event_id"],) for v in views)
    catalog.engine.dispose()


def empty_project(tmp_path, change) -> Path:
    """A copy of the dbt project whose generated page-view source ``change(table)`` edited."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    path = project / SOURCES_FILE
    document = yaml.safe_load(path.read_text())
    (table,) = [t for t in document["sources"][0]["tables"] if t["name"] == SILVER["pageview"]]
    change(table)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return project


def test_an_empty_bronze_table_follows_the_sources_as_the_contract_evolves(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    select = ["build", "--select", "source:bronze.web__page_viewed"]
    assert run_dbt(select, tmp_path).success
    added = {"name": "campaign", "description": "", "data_type": "VARCHAR"}
    project = empty_project(tmp_path, lambda table: table["columns"].insert(1, added))
    run = run_dbt(select, tmp_path, project_dir=project)
    assert run.success, run.failures
    columns = query(
        tmp_path, "select column_name from duckdb_columns() where table_name = 'web__page_viewed'"
    )
    assert ("campaign",) in columns


def test_an_empty_bronze_table_needs_the_sources_data_types(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    project = empty_project(tmp_path, lambda table: table["columns"][0].pop("data_type"))
    run = run_dbt(["build", "--select", "source:bronze.web__page_viewed"], tmp_path, project_dir=project)
    assert not run.success
    assert any(
        "bronze source web__page_viewed: column event_id has no data_type" in line
        and "meshgate dbt-sources" in line
        for line in run.failures
    ), run.failures


def test_storage_options_must_be_key_value_pairs(tmp_path):
    args = ["transform", "--data-dir", str(tmp_path), "--storage-option", "s3.endpoint"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "'s3.endpoint' is not KEY=VALUE" in result.output


def test_transform_reads_and_writes_an_s3_warehouse(tmp_path, monkeypatch, s3_server):
    # DuckDB's httpfs reads Bronze from moto's S3 server, pyiceberg writes Silver and Gold to it.
    options, _ = s3_server
    monkeypatch.setenv(KEY_ENV, KEY)
    warehouse = "s3://lake/warehouse"
    catalog = open_catalog(tmp_path, warehouse=warehouse, storage_options=options)
    batch1, _ = sample_events()
    for name, path in CONTRACT_FILES.items():
        ingest_batch(catalog, load_contract(EXAMPLES / path), batch1[name][:5], f"{name}-1", DAY0, tmp_path)
    args = ["transform", "--data-dir", str(tmp_path), "--warehouse", warehouse]
    args += [f"--storage-option={key}={value}" for key, value in options.items()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    silver = catalog.load_table(("silver", SILVER["checkout"]))
    assert silver.location().startswith("s3://lake/warehouse/")
    landed = silver.scan().to_arrow().column("event_id").to_pylist()
    assert sorted(landed) == sorted(r["event_id"] for r in batch1["checkout"][:5])
    catalog.engine.dispose()


def test_transform_on_a_postgresql_catalog(tmp_path, monkeypatch, postgres_url):
    monkeypatch.setenv(KEY_ENV, KEY)
    catalog = open_catalog(tmp_path, catalog_url=postgres_url)
    batch1, _ = sample_events()
    for name, path in CONTRACT_FILES.items():
        ingest_batch(catalog, load_contract(EXAMPLES / path), batch1[name][:5], f"{name}-1", DAY0, tmp_path)
    args = ["transform", "--data-dir", str(tmp_path), "--catalog-url", postgres_url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    landed = catalog.load_table(("silver", SILVER["checkout"])).scan().to_arrow()
    assert sorted(landed.column("event_id").to_pylist()) == sorted(
        r["event_id"] for r in batch1["checkout"][:5]
    )
    assert not (tmp_path / "catalog.db").exists()  # nothing went to the default SQLite catalog
    catalog.engine.dispose()
