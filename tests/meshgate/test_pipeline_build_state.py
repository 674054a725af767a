"""Which dbt models are due: the record of each model's last successful build against a real Iceberg
catalog (SQLite), over a small manifest of the same shape as dbt's (one Bronze source, a Silver
model reading it, a Gold model reading Silver)."""

import pyarrow as pa
import pytest

from lakehouse.catalog import open_catalog
from meshgate.pipeline.build_state import STATE_FILE, BuildState, model_tables

SILVER, GOLD = "model.meshgate.silver_orders", "model.meshgate.daily_orders"
MANIFEST = {
    "sources": {"source.meshgate.bronze.orders": {"source_name": "bronze", "name": "orders"}},
    "nodes": {
        SILVER: {"schema": "silver", "alias": "orders", "name": "silver_orders"},
        GOLD: {"schema": "gold", "alias": "daily_orders", "name": "daily_orders"},
    },
    "parent_map": {SILVER: ["source.meshgate.bronze.orders"], GOLD: [SILVER]},
}
ROWS = pa.table({"id": pa.array([1, 2], pa.int64())})


@pytest.fixture
def catalog(tmp_path):
    catalog = open_catalog(tmp_path / "data")
    for namespace in ("bronze", "silver", "gold"):
        catalog.create_namespace_if_not_exists(namespace)
    yield catalog
    catalog.engine.dispose()


def write(catalog, name: str) -> None:
    """Create the table if needed and append a batch: its metadata file moves."""
    identifier = tuple(name.split("."))
    if not catalog.table_exists(identifier):
        catalog.create_table(identifier, ROWS.schema)
    catalog.load_table(identifier).append(ROWS)


def build(state: BuildState, catalog, models: list[str]) -> None:
    """What a successful dbt build does: read the inputs, write the models' tables, record."""
    before = state.versions_before(models, catalog)
    for uid in models:
        write(catalog, "{schema}.{alias}".format(**MANIFEST["nodes"][uid]))
    state.record(models, before, catalog)


def test_a_model_depends_on_its_own_table_and_every_table_upstream():
    assert model_tables(MANIFEST, GOLD) == {"gold.daily_orders", "silver.orders", "bronze.orders"}
    assert model_tables(MANIFEST, SILVER) == {"silver.orders", "bronze.orders"}


def test_nothing_is_up_to_date_before_a_first_build(tmp_path, catalog):
    write(catalog, "bronze.orders")
    assert BuildState(tmp_path, MANIFEST, "p1").due([SILVER, GOLD], catalog) == [GOLD, SILVER]


def test_after_a_build_nothing_is_due_until_bronze_gets_a_batch(tmp_path, catalog):
    write(catalog, "bronze.orders")
    state = BuildState(tmp_path, MANIFEST, "p1")
    build(state, catalog, [SILVER, GOLD])
    assert state.due([SILVER, GOLD], catalog) == []
    write(catalog, "bronze.orders")
    assert state.due([SILVER, GOLD], catalog) == [GOLD, SILVER]


def test_a_missing_bronze_table_that_appears_makes_its_models_due(tmp_path, catalog):
    state = BuildState(tmp_path, MANIFEST, "p1")
    build(state, catalog, [SILVER, GOLD])  # built while Bronze had no table (empty stand-in)
    assert state.due([SILVER, GOLD], catalog) == []
    write(catalog, "bronze.orders")
    assert state.due([SILVER], catalog) == [SILVER]


def test_a_model_table_changed_outside_dbt_makes_it_and_its_dependents_due(tmp_path, catalog):
    write(catalog, "bronze.orders")
    state = BuildState(tmp_path, MANIFEST, "p1")
    build(state, catalog, [SILVER, GOLD])
    catalog.drop_table(("silver", "orders"))
    assert state.due([SILVER, GOLD], catalog) == [GOLD, SILVER]


def test_a_changed_project_makes_every_model_due(tmp_path, catalog):
    write(catalog, "bronze.orders")
    build(BuildState(tmp_path, MANIFEST, "p1"), catalog, [SILVER, GOLD])
    assert BuildState(tmp_path, MANIFEST, "p2").due([SILVER, GOLD], catalog) == [GOLD, SILVER]


def test_a_partial_build_records_only_the_models_it_built(tmp_path, catalog):
    write(catalog, "bronze.orders")
    state = BuildState(tmp_path, MANIFEST, "p1")
    build(state, catalog, [SILVER])
    assert state.due([SILVER, GOLD], catalog) == [GOLD]
    build(state, catalog, [GOLD])
    assert state.due([SILVER, GOLD], catalog) == []


def test_a_batch_landing_during_the_build_is_new_for_the_next_run(tmp_path, catalog):
    write(catalog, "bronze.orders")
    state = BuildState(tmp_path, MANIFEST, "p1")
    before = state.versions_before([SILVER], catalog)
    write(catalog, "silver.orders")
    write(catalog, "bronze.orders")  # lands after dbt read Bronze
    state.record([SILVER], before, catalog)
    assert state.due([SILVER], catalog) == [SILVER]


@pytest.mark.parametrize("text", ["not json", "[]", '{"models": 3}'])
def test_an_unreadable_record_makes_every_model_due(tmp_path, catalog, text):
    write(catalog, "bronze.orders")
    state = BuildState(tmp_path, MANIFEST, "p1")
    build(state, catalog, [SILVER, GOLD])
    (tmp_path / STATE_FILE).write_text(text)
    assert state.due([SILVER, GOLD], catalog) == [GOLD, SILVER]
    build(state, catalog, [SILVER, GOLD])  # and the next successful build writes a good one
    assert state.due([SILVER, GOLD], catalog) == []
