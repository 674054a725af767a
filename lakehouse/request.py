"""The lakehouse's one entry point: ``ingest(IngestRequest(...))`` gates one batch into Bronze.

The request holds everything the gate needs: the files, the resolved contract (which carries the
schema texts of its references and the writers' schema lookup), the batch id, the input format, the
policy for invalid rows, and where the lakehouse lives. ``meshgate ingest``, the demo and the Dagster
Bronze asset each build one request and call ``ingest``; none of them spells out the gate's arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse import gate
from lakehouse.catalog import open_catalog
from lakehouse.contracts import ResolvedContract
from lakehouse.decode import DEFAULT_CHUNK_ROWS
from lakehouse.gate import IngestResult


@dataclass(frozen=True)
class IngestRequest:
    """One batch of one subject to gate, and where the lakehouse lives.

    ``files``: local paths or ``s3://`` URLs, read in order as one batch. ``batch_id``: the
    idempotency key (None: the sha256 of the input bytes). ``input_format``: one of
    ``lakehouse.decode.INPUT_FORMATS``, None to go by each file's extension. ``on_invalid``:
    ``reject`` (any violation refuses the batch) or ``quarantine``. The lakehouse: ``data_dir``
    (SQLite catalog and warehouse), or ``catalog_url`` and ``warehouse``; ``storage_options`` are
    FileIO properties (``s3.endpoint``, ...) for both the warehouse and the input files.
    ``progress(rows_read, bytes_read, total_bytes)`` is called after every chunk and at the end
    (bytes as stored: compressed for a compressed file). ``max_violations``: how many violations
    the result lists (None: every one). ``workers``: blocks decoded at once (None: one per core).
    """

    files: Sequence[str | Path]
    contract: ResolvedContract
    batch_id: str | None = None
    input_format: str | None = None
    on_invalid: str = "reject"
    data_dir: str | Path = ".meshgate"
    catalog_url: str | None = None
    warehouse: str | None = None
    storage_options: Mapping[str, str] = field(default_factory=dict)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    progress: Callable[[int, int, int], None] | None = None
    max_violations: int | None = gate.MAX_REPORTED_VIOLATIONS
    workers: int | None = None

    @property
    def subject(self) -> str:
        return self.contract.subject


def ingest(request: IngestRequest) -> IngestResult:
    """Gate the request's batch into its Bronze table (see ``lakehouse.gate``) and return the decision."""
    storage_options = dict(request.storage_options)
    catalog = open_catalog(request.data_dir, request.catalog_url, request.warehouse, storage_options)
    resolved = request.contract
    try:
        return gate.ingest(
            [str(path) for path in request.files],
            resolved.contract,
            catalog,
            schema_id=resolved.schema_id,
            schema_version=resolved.version,
            batch_id=request.batch_id,
            input_format=request.input_format,
            on_invalid=request.on_invalid,
            storage_options=storage_options,
            progress=request.progress,
            schema_lookup=resolved.schema_lookup,
            references=resolved.references,
            chunk_rows=request.chunk_rows,
            max_violations=request.max_violations,
            workers=request.workers,
        )
    finally:
        catalog.engine.dispose()
