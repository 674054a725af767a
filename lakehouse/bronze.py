"""Bronze Iceberg tables: creation from a contract's Arrow schema, evolution, one-snapshot appends.

Every row carries four columns of the gate (``_batch_id``, ``_ingested_at``, ``_schema_id``,
``_schema_version``); tables are partitioned by ``day(_ingested_at)`` so retention drops whole
partitions. Data columns are all optional in Iceberg: the gate enforces the contract's required
fields, and a later version that relaxes or drops a field never forces rewriting seven years of data.

A batch is written as data files chunk by chunk (bounded memory), then committed as ONE fast-append
snapshot whose summary carries the batch id. Files of a batch that is never committed are orphans no
reader sees. The commit refreshes, re-checks the batch id and retries with back-off on conflicts;
pyiceberg's own retry is switched off on our tables because it would not re-check the batch id.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.exceptions import ValidationError as IcebergValidationError
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.transforms import DayTransform

from lakehouse.iceberg_files import DataFileWriter
from lakehouse.schema_mapping import nullable
from registry.errors import InvalidArgument, MeshgateError

BATCH_ID, INGESTED_AT, SCHEMA_ID, SCHEMA_VERSION = (
    "_batch_id",
    "_ingested_at",
    "_schema_id",
    "_schema_version",
)
GATE_COLUMNS = (
    pa.field(BATCH_ID, pa.string(), nullable=False),
    pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field(SCHEMA_ID, pa.int64(), nullable=False),
    pa.field(SCHEMA_VERSION, pa.int32(), nullable=False),
)
PARTITION_NAME = "_ingested_day"

SUMMARY_BATCH_ID = "meshgate.batch-id"
SUMMARY_SUBJECT = "meshgate.subject"
SUMMARY_SCHEMA_ID = "meshgate.schema-id"
SUMMARY_SCHEMA_VERSION = "meshgate.schema-version"
SUMMARY_RECORD_COUNT = "meshgate.record-count"
SUMMARY_OPERATION = "meshgate.operation"
TABLE_SUBJECT = "meshgate.subject"  # table property: the subject a Bronze table belongs to

TABLE_PROPERTIES = {
    # Our commit loop retries after re-checking the batch id; pyiceberg's would not.
    "commit.retry.num-retries": "0",
    "format-version": "2",
}


class SchemaEvolutionError(MeshgateError):
    """The contract version cannot be applied to the existing table (an Iceberg-illegal change)."""

    grpc_status = "FAILED_PRECONDITION"
    http_status = 409
    error_code = 40910


class CommitConflict(MeshgateError):
    """Concurrent commits kept winning until the retry budget ran out."""

    grpc_status = "ABORTED"
    http_status = 409
    error_code = 40911


def bronze_schema(data_schema: pa.Schema) -> pa.Schema:
    """The Bronze table's Arrow schema: the contract's columns (nullable) plus the gate's columns."""
    reserved = {f.name for f in GATE_COLUMNS} & set(data_schema.names)
    if reserved:
        raise SchemaEvolutionError(f"contract field(s) {sorted(reserved)} clash with the gate's columns")
    return pa.schema([*nullable(data_schema), *GATE_COLUMNS])


def ensure_table(
    catalog: Catalog,
    identifier: tuple[str, str],
    data_schema: pa.Schema,
    renames: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    table: Table | None = None,
) -> Table:
    """The table, created when missing, else evolved to the schema.

    ``renames``: a column's current dotted path (``shipping.cty``) -> its new name (``city``).

    ``table``: the table as the caller already loaded it (see ``existing_table``), not loaded again.
    """
    full_schema = bronze_schema(data_schema)
    try:
        table = table if table is not None else catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            with catalog.create_table_transaction(
                identifier, schema=full_schema, properties={**TABLE_PROPERTIES, **(properties or {})}
            ) as tx:
                with tx.update_spec() as spec:
                    spec.add_field(INGESTED_AT, DayTransform(), PARTITION_NAME)
            return catalog.load_table(identifier)
        except (TableAlreadyExistsError, CommitFailedException):  # another gate created it meanwhile
            table = catalog.load_table(identifier)  # (its commit raises "Table already exists")
    evolve(table, full_schema, renames or {}, properties or {})
    return table


def existing_table(catalog: Catalog, identifier: tuple[str, str]) -> Table | None:
    """The table, None when it does not exist yet."""
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        return None


def evolve(
    table: Table,
    full_schema: pa.Schema,
    renames: dict[str, str],
    properties: dict[str, str],
    attempts: int = 5,
) -> None:
    """Rename columns, add new ones and apply Iceberg-legal promotions; old snapshots stay readable.

    A no-op when the table already has the schema. A concurrent gate evolving the same table makes the
    commit fail: refresh and apply again on top of theirs.
    """
    for attempt in range(1, attempts + 1):
        names = set(table.schema().column_names)
        applicable = {
            old: new for old, new in renames.items() if old in names and _sibling(old, new) not in names
        }
        try:
            with table.transaction() as tx:
                if applicable:
                    with tx.update_schema() as update:
                        for old, new in applicable.items():
                            update.rename_column(old, new)
                with tx.update_schema() as update:
                    update.union_by_name(full_schema)
                changed = {k: v for k, v in properties.items() if table.properties.get(k) != v}
                if changed:
                    tx.set_properties(changed)
            return
        except IcebergValidationError as exc:
            raise SchemaEvolutionError(
                f"table {'.'.join(table.name())} cannot take the new contract version: {exc} "
                "(Iceberg allows new columns, int->long, float->double, wider decimals, renames)"
            ) from None
        except CommitFailedException:
            if attempt == attempts:
                raise
            time.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))
            table.refresh()


def _sibling(path: str, name: str) -> str:
    """The path of a column named ``name`` beside the one at ``path``."""
    parent, _, _ = path.rpartition(".")
    return f"{parent}.{name}" if parent else name


def conform(chunk: pa.Table, target: pa.Schema) -> pa.Table:
    """The chunk shaped like the table: its columns in table order, promoted, missing ones null.

    A column whose type differs from the table's only in offset width (``string`` for
    ``large_string``, ``list`` for ``large_list``) is kept as it is: Parquet stores both alike, and
    casting would copy every string of the batch.
    """
    fields, columns = [], []
    for field in target:
        index = chunk.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(chunk.num_rows, field.type))
        else:
            column = chunk.column(index)
            same = _small_offsets(column.type).equals(_small_offsets(field.type))
            columns.append(column if same else column.cast(field.type))
        fields.append(field.with_type(columns[-1].type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=target.metadata))


def _small_offsets(data_type: pa.DataType) -> pa.DataType:
    """The type with 32-bit offsets throughout (large strings, binaries and lists made plain)."""
    if pa.types.is_large_string(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type):
        return pa.binary()
    if pa.types.is_large_list(data_type) or pa.types.is_list(data_type):
        item = data_type.value_field
        return pa.list_(item.with_type(_small_offsets(item.type)))
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_small_offsets(f.type)) for f in data_type])
    if pa.types.is_map(data_type):
        key, item = data_type.key_field, data_type.item_field
        return pa.map_(key.with_type(_small_offsets(key.type)), item.with_type(_small_offsets(item.type)))
    return data_type


def with_gate_columns(
    chunk: pa.Table, batch_id: str, ingested_at, schema_id: int, schema_version: int
) -> pa.Table:
    """The chunk plus the four gate columns (constant per batch)."""
    n = chunk.num_rows
    values = (batch_id, ingested_at, schema_id, schema_version)
    for field, value in zip(GATE_COLUMNS, values, strict=True):
        chunk = chunk.append_column(field, pa.repeat(pa.scalar(value, field.type), n))
    return chunk


def target_schema(table: Table) -> pa.Schema:
    """The Arrow schema of the table's current columns (pyiceberg gives large string/list types)."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    return schema_to_pyarrow(table.schema(), include_field_ids=False)


@dataclass(frozen=True)
class GateValues:
    """The four gate columns' values: one per batch, the same in every row."""

    batch_id: str
    ingested_at: datetime
    schema_id: int
    schema_version: int

    def columns(self) -> dict[str, object]:
        return {
            BATCH_ID: self.batch_id,
            INGESTED_AT: self.ingested_at,
            SCHEMA_ID: self.schema_id,
            SCHEMA_VERSION: self.schema_version,
        }


class BatchWriter:
    """Streams one batch's rows into data files; nothing is visible until ``commit_batch``.

    ``write`` takes the contract's columns only: the gate columns are constants of the batch
    (``gate``), written by ``iceberg_files.DataFileWriter`` as one-entry dictionaries, and their
    ``_ingested_at`` gives the day partition of every file at once. Row groups span chunks (see
    ``DataFileWriter``) and files roll at the table's target size. Parquet encoding runs in a
    background thread while the caller decodes the next chunk (pyarrow releases the GIL), so at
    most a row group's chunks and the one being decoded are in memory. ``finish`` waits for the
    last write and returns the files.
    """

    def __init__(self, table: Table, gate: GateValues):
        self.table = table
        gate_names = {field.name for field in GATE_COLUMNS}
        self.schema = pa.schema([f for f in target_schema(table) if f.name not in gate_names])
        self._files = DataFileWriter(
            table.metadata, table.io, gate.columns(), uuid.uuid4(), itertools.count(0)
        )
        self.rows = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-writer")
        self._pending: Future | None = None

    def write(self, chunk: pa.Table) -> None:
        if chunk.num_rows == 0:
            return
        data = conform(chunk, self.schema)
        self._wait()
        self._pending = self._pool.submit(self._files.write, data)
        self.rows += chunk.num_rows

    def finish(self) -> list[DataFile]:
        """All data files of the batch, once the last write is done and the last file closed."""
        self._wait()
        files = self._files.close()
        self._pool.shutdown()
        return files

    def discard(self) -> None:
        """Delete the files written so far (a rejected batch leaves nothing behind)."""
        try:
            self._wait()
        except Exception:  # noqa: BLE001 - a failed write leaves at most an orphan; delete the rest
            pass
        for path in self._files.abort():
            try:
                self.table.io.delete(path)
            except OSError:
                pass  # an orphan is invisible to readers; maintenance may remove it
        self.rows = 0
        self._pool.shutdown()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def batch_ids(table: Table) -> dict[str, Snapshot]:
    """Batch id -> snapshot for every batch in the table's current state (its snapshot ancestry).

    Snapshots a rollback left behind are not ancestors: their batches may land again.
    """
    found = {}
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        batch_id = snapshot.summary.get(SUMMARY_BATCH_ID) if snapshot.summary else None
        if batch_id and batch_id not in found:
            found[batch_id] = snapshot
    return found


def find_batch(table: Table, batch_id: str) -> Snapshot | None:
    """The snapshot of the table's current ancestry that appended this batch, if any."""
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        if snapshot.summary is not None and snapshot.summary.get(SUMMARY_BATCH_ID) == batch_id:
            return snapshot
    return None


def rollback(table: Table, snapshot_id: int) -> list[str]:
    """Make an earlier snapshot current again; returns the batch ids no longer in the table.

    Nothing is deleted: the later snapshots stay in the metadata until maintenance expires them.
    """
    before = batch_ids(table)
    try:
        table.manage_snapshots().rollback_to_snapshot(snapshot_id).commit()
    except ValueError as exc:
        raise InvalidArgument(f"rollback of {'.'.join(table.name())}: {exc}") from None
    table.refresh()
    after = batch_ids(table)
    return [batch_id for batch_id in before if batch_id not in after]


@dataclass(frozen=True)
class CommitOutcome:
    snapshot: Snapshot
    duplicate: bool  # the batch id was already there (another gate or an earlier run landed it)
    attempts: int


def commit_batch(
    table: Table,
    files: list[DataFile],
    summary: dict[str, str],
    already_landed: Callable[[], bool] = lambda: False,
    max_attempts: int = 10,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
) -> CommitOutcome:
    """Commit the files as one fast-append snapshot, exactly once per ``summary`` batch id.

    Before every attempt the table is refreshed and the batch id looked up in its history (and
    ``already_landed``, the durable log); on a commit conflict it backs off exponentially with jitter.
    """
    batch_id = summary[SUMMARY_BATCH_ID]
    for attempt in range(1, max_attempts + 1):
        table.refresh()
        existing = find_batch(table, batch_id)
        if existing is not None:
            return CommitOutcome(existing, duplicate=True, attempts=attempt)
        if already_landed():
            return CommitOutcome(table.current_snapshot(), duplicate=True, attempts=attempt)
        try:
            with table.transaction() as tx:
                with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
                    for data_file in files:
                        append.append_data_file(data_file)
        except CommitFailedException:
            if attempt == max_attempts:
                break
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            time.sleep(delay * random.uniform(0.5, 1.5))
            continue
        snapshot = find_batch(table, batch_id)
        return CommitOutcome(snapshot, duplicate=False, attempts=attempt)
    raise CommitConflict(
        f"batch {batch_id}: {max_attempts} commits to {'.'.join(table.name())} lost to concurrent writers; "
        "nothing was committed, retry the ingest"
    )
