"""Data files written for an Iceberg table before the commit that publishes them: the one adapter
between meshgate and pyiceberg's writer.

pyiceberg's documented writes (``Transaction.append``, ``overwrite``) write and commit in one call. The
gate needs the two apart: it streams a batch chunk by chunk while decoding (bounded memory) and
publishes every file as ONE snapshot after re-checking the batch id; dbt's plugin replaces a table's
files in one overwrite snapshot. ``add_files`` would take files written apart, but only files written
without pyiceberg, which would then lack the field ids DuckDB's reader maps columns by. So this module
is the only place that writes data files: ``write_data_files`` hands pyiceberg's own writer
(``pyiceberg.io.pyarrow.write_file``, a ``WriteTask`` per file) one whole table (dbt's results);
``DataFileWriter`` streams the gate's chunks into files of pyiceberg's shape (its field ids, writer
properties, file names, locations and statistics), rolled at the table's target size.
tests/lakehouse/test_iceberg_files.py fails loudly when the pyiceberg signatures used here change;
pyproject.toml keeps pyiceberg below its next minor release.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO, OutputFile
from pyiceberg.io.pyarrow import (
    bin_pack_arrow_table,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
    pyarrow_to_schema,
    schema_to_pyarrow,
    write_file,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import TableProperties, WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record
from pyiceberg.utils.properties import property_as_int

ROW_GROUP_BUFFER_BYTES = 16 * 1024 * 1024
"""Arrow data a ``DataFileWriter`` buffers before writing a row group (bounds the gate's memory)."""


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


class DataFileWriter:
    """Parquet data files of one partition of a table, fed table by table, rolled at a target size.

    The gate streams a batch through one of these: ``write`` buffers tables until they fill a row
    group (the table's ``write.parquet.row-group-limit`` rows or ``ROW_GROUP_BUFFER_BYTES`` of Arrow
    data, whichever comes first) and then appends that row group to the open file; a file is closed
    once it reaches the table's ``write.target-file-size-bytes`` and the next row group opens
    another, so no whole-batch table is ever held. Row groups of many chunks, not one per chunk,
    keep the files as compact as pyiceberg's own (one dictionary per column per row group). ``constants`` are columns
    with one value for every row of the write (the gate's ``_batch_id``, ``_ingested_at``, ...):
    they are written as dictionary arrays of one entry, so Parquet stores a dictionary page and a
    run of zero indices instead of a value per row, and they give the partition of the write
    directly (no per-row partition transform). The files are pyiceberg's own shape: its column
    names and field ids (``schema_to_pyarrow``), its writer properties, file names and locations,
    and statistics (``data_file_statistics_from_parquet_metadata``). Not thread-safe: one caller.
    """

    def __init__(
        self,
        table_metadata: TableMetadata,
        io: FileIO,
        constants: dict[str, object],
        write_uuid: uuid.UUID,
        counter: itertools.count,
    ):
        self._metadata, self._io, self._uuid, self._counter = table_metadata, io, write_uuid, counter
        schema = table_metadata.schema()
        self._file_schema = sanitize_column_names(schema)
        self._arrow_schema = schema_to_pyarrow(self._file_schema, include_field_ids=True)
        names = [field.name for field in schema.fields]
        unknown = set(constants) - set(names)
        if unknown:
            raise ValueError(f"constant column(s) {sorted(unknown)} are not columns of the table")
        self._constants = {
            names.index(name): pa.array([value], self._arrow_schema.field(names.index(name)).type)
            for name, value in constants.items()
        }
        self._partition_key = _constant_partition_key(table_metadata, self._constants)
        properties = table_metadata.properties
        self._target_size = property_as_int(
            properties,
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
        )
        self._row_group_rows = property_as_int(
            properties,
            TableProperties.PARQUET_ROW_GROUP_LIMIT,
            TableProperties.PARQUET_ROW_GROUP_LIMIT_DEFAULT,
        )
        self._locations = load_location_provider(table_metadata.location, properties)
        self._zeros = pa.array(np.zeros(0, np.int32))
        self._open: _OpenFile | None = None
        self._buffered: list[pa.Table] = []  # the next row group's tables, not yet written
        self._buffered_rows = self._buffered_bytes = 0
        self.files: list[DataFile] = []

    def write(self, data: pa.Table) -> None:
        """Add the rows: ``data`` holds the table's other columns, in table order, by name."""
        if data.num_rows == 0:
            return
        self._buffered.append(data)
        self._buffered_rows += data.num_rows
        self._buffered_bytes += data.get_total_buffer_size()
        if self._buffered_rows >= self._row_group_rows or self._buffered_bytes >= ROW_GROUP_BUFFER_BYTES:
            self._write_row_group(whole_groups=True)

    def close(self) -> list[DataFile]:
        """Every data file written, the last one closed."""
        self._write_row_group()
        if self._open is not None:
            self._close_file()
        return self.files

    def _write_row_group(self, whole_groups: bool = False) -> None:
        """The buffered tables as row groups of the open file (opened first if none is).

        ``whole_groups``: rows past the last full row-group limit stay buffered for the next one.
        """
        if not self._buffered:
            return
        buffered, self._buffered, self._buffered_rows, self._buffered_bytes = self._buffered, [], 0, 0
        full = sum(t.num_rows for t in buffered) // self._row_group_rows * self._row_group_rows
        if whole_groups and full:
            for table in _rows_after(buffered, full):
                self._buffered.append(table)
                self._buffered_rows += table.num_rows
                self._buffered_bytes += table.get_total_buffer_size()
            buffered = _rows_before(buffered, full)
        if self._open is None:
            self._open = self._new_file(buffered[0])
        data = pa.concat_tables([self._file_table(table, self._open.schema) for table in buffered])
        self._open.writer.write_table(data, self._row_group_rows)
        if self._open.stream.tell() >= self._target_size:
            self._close_file()

    def abort(self) -> list[str]:
        """Close the open file without describing it; the paths of every file begun, for deletion."""
        paths = [data_file.file_path for data_file in self.files]
        self._buffered, self._buffered_rows, self._buffered_bytes = [], 0, 0
        if self._open is not None:
            try:
                self._open.writer.close()
                self._open.stream.close()
            except Exception:  # noqa: BLE001 - a half-written file is deleted below anyway
                pass
            paths.append(self._open.path)
            self._open = None
        self.files = []
        return paths

    def _file_table(self, data: pa.Table, schema: pa.Schema) -> pa.Table:
        """``data`` with the constant columns added and the file's column names and types."""
        if len(self._zeros) < data.num_rows:
            self._zeros = pa.array(np.zeros(data.num_rows, np.int32))
        zeros = self._zeros.slice(0, data.num_rows)
        columns, given = [], iter(data.columns)
        for index, field in enumerate(schema):
            if index in self._constants:
                columns.append(pa.DictionaryArray.from_arrays(zeros, self._constants[index]))
            else:
                column = next(given)
                columns.append(column if column.type.equals(field.type) else column.cast(field.type))
        return pa.Table.from_arrays(columns, schema=schema)

    def _new_file(self, data: pa.Table) -> _OpenFile:
        """The next file, its Arrow schema the file schema's (names, field ids) with the data's types.

        The data may hold ``string`` where pyiceberg's schema says ``large_string`` (and so on):
        Parquet stores both alike, so the data's own arrays are written without a copy.
        """
        types = iter(data.schema.types)
        fields = []
        for index, field in enumerate(self._arrow_schema):
            if index in self._constants:
                fields.append(field.with_type(pa.dictionary(pa.int32(), field.type)))
            else:
                fields.append(_with_type(field, next(types)))
        schema = pa.schema(fields)
        name = WriteTask(
            write_uuid=self._uuid,
            task_id=next(self._counter),
            schema=self._file_schema,
            record_batches=[],
            partition_key=self._partition_key,
        ).generate_data_file_filename("parquet")
        path = self._locations.new_data_location(data_file_name=name, partition_key=self._partition_key)
        output = self._io.new_output(path)
        stream = output.create(overwrite=True)
        # store_schema=False: without the Arrow schema in the footer the dictionary columns read
        # back as the plain columns they are in Parquet (readers map columns by field id).
        writer = pq.ParquetWriter(
            stream,
            schema,
            store_schema=False,
            store_decimal_as_integer=True,
            **_writer_options(self._metadata),
        )
        return _OpenFile(path, output, stream, writer, schema)

    def _close_file(self) -> None:
        done, self._open = self._open, None
        done.writer.close()
        done.stream.close()
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=done.writer.writer.metadata,
            stats_columns=compute_statistics_plan(self._file_schema, self._metadata.properties),
            parquet_column_mapping=parquet_path_to_id_mapping(self._file_schema),
        )
        self.files.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=done.path,
                file_format=FileFormat.PARQUET,
                partition=self._partition_key.partition if self._partition_key else Record(),
                file_size_in_bytes=len(done.output),
                sort_order_id=None,
                spec_id=self._metadata.default_spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )


def _rows_before(tables: list[pa.Table], rows: int) -> list[pa.Table]:
    """The first ``rows`` rows of the tables, as slices (no copy)."""
    head = []
    for table in tables:
        if rows <= 0:
            break
        head.append(table.slice(0, rows))
        rows -= table.num_rows
    return head


def _rows_after(tables: list[pa.Table], rows: int) -> list[pa.Table]:
    """The tables' rows after the first ``rows``, as slices (no copy)."""
    tail = []
    for table in tables:
        if rows < table.num_rows:
            tail.append(table.slice(max(rows, 0)))
        rows -= table.num_rows
    return tail


@dataclass
class _OpenFile:
    path: str
    output: OutputFile
    stream: object  # the output stream: tell() is the bytes written so far
    writer: pq.ParquetWriter
    schema: pa.Schema


def _with_type(field: pa.Field, data_type: pa.DataType) -> pa.Field:
    """``field`` (name, nullability, field id) holding ``data_type``, nested fields alike."""
    if pa.types.is_struct(data_type) and pa.types.is_struct(field.type):
        children = [_with_type(f, t.type) for f, t in zip(field.type, data_type, strict=True)]
        return field.with_type(pa.struct(children))
    if pa.types.is_list(data_type) and (pa.types.is_list(field.type) or pa.types.is_large_list(field.type)):
        return field.with_type(pa.list_(_with_type(field.type.value_field, data_type.value_type)))
    if pa.types.is_large_list(data_type) and pa.types.is_large_list(field.type):
        return field.with_type(pa.large_list(_with_type(field.type.value_field, data_type.value_type)))
    if pa.types.is_map(data_type) and pa.types.is_map(field.type):
        key = _with_type(field.type.key_field, data_type.key_type)
        item = _with_type(field.type.item_field, data_type.item_type)
        return field.with_type(pa.map_(key, item))
    return field.with_type(data_type)


def _writer_options(table_metadata: TableMetadata) -> dict:
    """Parquet writer options from the table's properties, as pyiceberg's own writer takes them."""
    properties = table_metadata.properties
    codec = properties.get(TableProperties.PARQUET_COMPRESSION, TableProperties.PARQUET_COMPRESSION_DEFAULT)
    level = property_as_int(
        properties,
        TableProperties.PARQUET_COMPRESSION_LEVEL,
        TableProperties.PARQUET_COMPRESSION_LEVEL_DEFAULT,
    )
    sizes = {
        "data_page_size": (
            TableProperties.PARQUET_PAGE_SIZE_BYTES,
            TableProperties.PARQUET_PAGE_SIZE_BYTES_DEFAULT,
        ),
        "dictionary_pagesize_limit": (
            TableProperties.PARQUET_DICT_SIZE_BYTES,
            TableProperties.PARQUET_DICT_SIZE_BYTES_DEFAULT,
        ),
        "write_batch_size": (
            TableProperties.PARQUET_PAGE_ROW_LIMIT,
            TableProperties.PARQUET_PAGE_ROW_LIMIT_DEFAULT,
        ),
    }
    options = {name: property_as_int(properties, key, default) for name, (key, default) in sizes.items()}
    return {
        "compression": "none" if codec == "uncompressed" else codec,
        "compression_level": level,
        **options,
    }


def _constant_partition_key(
    table_metadata: TableMetadata, constants: dict[int, pa.Array]
) -> PartitionKey | None:
    """The partition of a write whose partition source columns are constants; None: unpartitioned."""
    spec, schema = table_metadata.spec(), table_metadata.schema()
    if spec.is_unpartitioned():
        return None
    positions = {field.field_id: index for index, field in enumerate(schema.fields)}
    values = []
    for partition_field in spec.fields:
        index = positions.get(partition_field.source_id)
        if index not in constants:
            raise ValueError(
                f"partition source of {partition_field.name} is not a constant column of the write; "
                "each write holds the rows of one partition"
            )
        source = schema.find_field(partition_field.source_id)
        value = partition_field.transform.pyarrow_transform(source.field_type)(constants[index])[0].as_py()
        values.append(PartitionFieldValue(partition_field, value))
    return PartitionKey(field_values=values, partition_spec=spec, schema=schema)
