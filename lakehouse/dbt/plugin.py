"""meshgate's dbt-duckdb plugin (``plugins: [{module: lakehouse.dbt.plugin, alias: meshgate}]``).

On each DuckDB connection dbt opens it
- loads the iceberg extension and points ``bronze.<table>`` views at the current Bronze snapshots,
- registers ``meshgate_pii_hash(varchar)``: the gate's own keyed hash (``lakehouse.masking``), so
  Silver hashes equal Bronze hashes and joins work across tiers.
Its ``store`` lands a model's result as an Iceberg table ``<schema>.<name>`` (``silver``/``gold``) in the
same catalog, one snapshot per build that changed it; the ``meshgate_store_iceberg()`` post-hook calls it.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import duckdb
import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from lakehouse.catalog import open_catalog
from lakehouse.dbt.glue import bronze_snapshots, configure_s3, create_bronze_views, load_iceberg_extension
from lakehouse.iceberg_files import write_data_files
from lakehouse.masking import mask_key, mask_table

PII_HASH_FUNCTION = "meshgate_pii_hash"
MODEL_PROPERTY = "meshgate.dbt-model"
FINGERPRINT_PROPERTY = "meshgate.content-fingerprint"  # row count and the sum of DuckDB row hashes


def hash_pii(values: pa.Array) -> pa.Array:
    """The DuckDB UDF body: ``lakehouse.masking`` hashing of a vector of strings (nulls stay null)."""
    return mask_table(pa.table({"value": values}), ["value"], mask_key()).column(0).combine_chunks()


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        storage_options = plugin_config.get("storage_options") or {}
        if isinstance(storage_options, str):  # the profile passes MESHGATE_STORAGE_OPTIONS, JSON
            storage_options = json.loads(storage_options or "{}")
        self._catalog_options = {
            "data_dir": plugin_config.get("data_dir") or ".meshgate",
            "catalog_url": plugin_config.get("catalog_url") or None,
            "warehouse": plugin_config.get("warehouse") or None,
            "storage_options": storage_options,
        }
        self._catalog = None
        self._conn: duckdb.DuckDBPyConnection | None = None

    def catalog(self):
        if self._catalog is None:
            self._catalog = open_catalog(**self._catalog_options)
        return self._catalog

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        load_iceberg_extension(conn)
        if self._catalog_options["storage_options"] or str(self._catalog_options["warehouse"]).startswith(
            "s3"
        ):
            configure_s3(conn, self._catalog_options["storage_options"])
        conn.create_function(
            PII_HASH_FUNCTION,
            hash_pii,
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("VARCHAR"),
            type="arrow",
            null_handling="special",
        )
        create_bronze_views(conn, bronze_snapshots(self.catalog()))
        self._conn = conn

    def store(self, target_config: TargetConfig) -> None:
        """Land the model's result in Iceberg, unless the last snapshot already holds this content."""
        relation = target_config.relation
        identifier = (relation.schema, relation.identifier)
        cursor = self._conn.cursor()
        try:
            rows, row_hash = cursor.sql(
                f"select count(*), sum(hash(r)::hugeint) from {relation} as r"
            ).fetchone()
            fingerprint = f"{rows}:{row_hash}"
            try:
                iceberg = self.catalog().load_table(identifier)
            except NoSuchTableError:
                iceberg = None
            if _landed_fingerprint(iceberg) == fingerprint:
                return  # a rerun that changed nothing adds no snapshot
            table = cursor.sql(f"select * from {relation}").to_arrow_table()
        finally:
            cursor.close()
        write_iceberg(
            self.catalog(),
            identifier,
            table,
            {MODEL_PROPERTY: str(relation), FINGERPRINT_PROPERTY: fingerprint},
            iceberg,
        )


def _landed_fingerprint(iceberg: Table | None) -> str | None:
    snapshot = iceberg.current_snapshot() if iceberg is not None else None
    return snapshot.summary.get(FINGERPRINT_PROPERTY) if snapshot and snapshot.summary else None


def write_iceberg(
    catalog: Catalog,
    identifier: tuple[str, str],
    table: pa.Table,
    properties: dict,
    iceberg: Table | None = None,
) -> None:
    """Replace the Iceberg table's content with ``table`` as ONE overwrite snapshot.

    Created on first use, widened when the model gains columns. pyiceberg's ``Table.overwrite`` would
    record a delete and an append snapshot; one snapshot per run keeps the history one entry per build.
    ``iceberg``: the table as the caller already loaded it, not loaded again.
    """
    if iceberg is None:
        catalog.create_namespace_if_not_exists(identifier[0])
        try:
            iceberg = catalog.load_table(identifier)
        except NoSuchTableError:
            iceberg = catalog.create_table(identifier, schema=table.schema)
    if not _same_columns(iceberg.schema().as_arrow(), table.schema):
        with iceberg.update_schema() as update:
            update.union_by_name(table.schema)
    current = list(iceberg.scan().plan_files()) if iceberg.current_snapshot() else []
    if not current and table.num_rows == 0:
        return  # nothing to replace and nothing to add: the (empty) table already says it all
    with iceberg.transaction() as transaction:
        with transaction.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
            for task in current:
                overwrite.delete_data_file(task.file)
            if table.num_rows == 0:
                return  # pyiceberg's file writer divides by the row count: an empty result only deletes
            files = write_data_files(
                transaction.table_metadata, iceberg.io, table, overwrite.commit_uuid, itertools.count(0)
            )
            for data_file in files:
                overwrite.append_data_file(data_file)


def _same_columns(current: pa.Schema, new: pa.Schema) -> bool:
    return [(f.name, str(f.type)) for f in current] == [(f.name, str(f.type)) for f in new]
