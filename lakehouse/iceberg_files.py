"""Data files written for an Iceberg table before the commit that publishes them: the one adapter
between meshgate and pyiceberg's writer.

pyiceberg's documented writes (``Transaction.append``, ``overwrite``) write and commit in one call. The
gate needs the two apart: it writes a batch chunk by chunk while decoding (bounded memory) and
publishes every file as ONE snapshot after re-checking the batch id; dbt's plugin replaces a table's
files in one overwrite snapshot. ``add_files`` would take files written apart, but only files written
without pyiceberg, which would then lack the field ids DuckDB's reader maps columns by. So this module
hands pyiceberg's own writer (``pyiceberg.io.pyarrow.write_file``, a ``WriteTask`` per file, the
``PartitionKey`` of the rows) one table at a time, and nothing else in meshgate calls it.
tests/lakehouse/test_iceberg_files.py fails loudly when those signatures change; pyproject.toml keeps
pyiceberg below its next minor release.
"""

from __future__ import annotations

import itertools
import uuid

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import bin_pack_arrow_table, pyarrow_to_schema, write_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import TableProperties, WriteTask
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.utils.properties import property_as_int


def write_data_files(
    table_metadata: TableMetadata,
    io: FileIO,
    data: pa.Table,
    write_uuid: uuid.UUID,
    counter: itertools.count,
) -> list[DataFile]:
    """Parquet data files of ``data`` for the table, not yet part of any snapshot.

    Files are cut at the table's ``write.target-file-size-bytes``; ``write_uuid`` and ``counter``
    name them (one uuid per batch, the counter running across its chunks). All rows must fall in one
    partition of the table's spec: a gate batch has one ``_ingested_at``.
    """
    schema = pyarrow_to_schema(
        data.schema,
        name_mapping=table_metadata.schema().name_mapping,
        format_version=table_metadata.format_version,
    )
    target_size = property_as_int(
        table_metadata.properties,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
    )
    partition_key = _partition_key(table_metadata, data)
    tasks = (
        WriteTask(
            write_uuid=write_uuid,
            task_id=next(counter),
            schema=schema,
            record_batches=batches,
            partition_key=partition_key,
        )
        for batches in bin_pack_arrow_table(data, target_size)
    )
    return list(write_file(io=io, table_metadata=table_metadata, tasks=tasks))


def _partition_key(table_metadata: TableMetadata, data: pa.Table) -> PartitionKey | None:
    """The one partition every row of ``data`` falls in; None for an unpartitioned table."""
    spec, schema = table_metadata.spec(), table_metadata.schema()
    if spec.is_unpartitioned():
        return None
    values = []
    for partition_field in spec.fields:
        source = schema.find_field(partition_field.source_id)
        column = data.column(schema.find_column_name(partition_field.source_id)).combine_chunks()
        found = pc.unique(partition_field.transform.pyarrow_transform(source.field_type)(column))
        if len(found) != 1:
            raise ValueError(
                f"rows of {len(found)} partitions ({partition_field.name}) in one write; "
                "each write holds the rows of one partition"
            )
        values.append(PartitionFieldValue(partition_field, found[0].as_py()))
    return PartitionKey(field_values=values, partition_spec=spec, schema=schema)
