"""The Bronze gate: only batches that conform to their contract enter Bronze, atomically, once.

``ingest`` decodes and validates a batch chunk by chunk, writes the valid chunks' data files as it
goes, and publishes them as ONE snapshot at the end, or discards them. With ``on_invalid="reject"``
(default) any violation rejects the whole batch and nothing is committed; with ``"quarantine"`` the
invalid rows go to ``quarantine.<table>`` and the valid rows to Bronze. Every decision is logged.
Without a given batch id, the content hash is computed on a thread alongside the first chunks'
decoding; nothing is written before it is known and checked against the table's history.

Ordering, so that a batch's quarantined rows and its Bronze rows land exactly once under the same
batch id: every data file is written first; then the quarantine snapshot is committed, then the Bronze
snapshot (the Bronze snapshot is what makes a batch count as landed), then the log entry. A gate killed
between the two commits leaves the quarantine half only; its retry finds the batch id in the
quarantine table's history, skips that commit (deleting the files it wrote again) and commits Bronze.

Callers outside the lakehouse go through ``lakehouse.ingest(IngestRequest)``, which opens the catalog
and hands this module's ``ingest`` everything the request holds.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakehouse import bronze
from lakehouse.decode import DEFAULT_CHUNK_ROWS, BytesRead, open_input, read_batch
from lakehouse.errors import InvalidBatch
from lakehouse.ingest_log import ACCEPTED, DUPLICATE, QUARANTINED, REJECTED, IngestLog, LogEntry
from lakehouse.masking import mask_key, mask_table, masked_schema
from lakehouse.naming import bronze_identifier, quarantine_identifier
from lakehouse.quarantine import QUARANTINE_SCHEMA, quarantine_rows
from lakehouse.renames import column_renames
from lakehouse.schema_mapping import arrow_schema
from lakehouse.validate import RowViolation
from registry.contract import Contract
from registry.errors import InvalidArgument

ON_INVALID = ("reject", "quarantine")
MAX_REPORTED_VIOLATIONS = 100
MEMORY_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"  # set: the user's choice of Arrow allocator stands
# Test hook: the gate pauses at the named checkpoint (see ``_checkpoint``, docs/lakehouse.md).
PAUSE_AT_ENV = "MESHGATE_GATE_PAUSE_AT"


@dataclass(frozen=True)
class ReasonKind:
    """Every violation of one rule at one field path in a batch: how many, and the first one."""

    rule: str
    field: str
    count: int
    first: RowViolation  # its ``file`` is always set


@dataclass
class IngestResult:
    """The gate's decision on one batch."""

    batch_id: str
    subject: str
    status: str  # accepted | rejected | quarantined | duplicate
    rows_accepted: int = 0
    rows_rejected: int = 0
    violations: list = field(default_factory=list)  # the first ``max_violations`` RowViolations
    reasons: dict[str, int] = field(default_factory=dict)  # rule -> number of violations
    snapshot_id: int | None = None
    message: str = ""
    kinds: list[ReasonKind] = field(default_factory=list)  # per (rule, field), in order of appearance


def content_hash(paths: list[str], storage_options: dict | None = None) -> str:
    """The default batch id: sha256 of the decoded input bytes of every file, in order, streamed."""
    digest = hashlib.sha256()
    for path in paths:
        with open_input(path, storage_options) as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        digest.update(b"\x00")  # file boundary: [ab, c] and [a, bc] differ
    return f"sha256:{digest.hexdigest()}"


def ingest(
    paths: list[str],
    contract: Contract,
    catalog: Catalog,
    *,
    schema_id: int,
    schema_version: int,
    batch_id: str | None = None,
    input_format: str | None = None,
    on_invalid: str = "reject",
    storage_options: dict | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    schema_lookup: Callable[[int], Contract] | None = None,
    references: dict[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    clock: Callable[[], datetime] | None = None,
    max_violations: int | None = MAX_REPORTED_VIOLATIONS,
    workers: int | None = None,
) -> IngestResult:
    """Gate one batch (one or more files of one subject) into its Bronze table.

    ``schema_id``/``schema_version`` identify the contract version in the registry (0/0: a contract
    read from a file, not registered). ``progress(rows_read, bytes_read, total_bytes)`` is called
    after every chunk and once at the end; bytes are as stored (a compressed file's compressed
    bytes), the total is the files' size.
    ``clock`` gives ``_ingested_at`` (tests inject one; retention is measured against it).
    ``references`` maps import names to the schema texts the contract imports (see
    ``lakehouse.references``); a contract with references cannot be gated without them.
    ``max_violations``: how many violations the result lists (None: all; counts are always whole).
    ``workers``: blocks decoded and validated at once (None: one per core; see ``read_batch``).
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise InvalidArgument("ingest: at least one input file is needed")
    if on_invalid not in ON_INVALID:
        raise InvalidArgument(f"on_invalid: {on_invalid!r} is not one of {', '.join(ON_INVALID)}")
    references = _checked_references(contract, references)
    _returning_memory_pool()
    key = mask_key() if contract.metadata.mask_pii_at == "bronze" and contract.metadata.pii_fields else None
    hashing = None if batch_id else _hash_in_background(paths, storage_options)
    data_schema = arrow_schema(contract, references)
    gate = _Gate(catalog, contract, data_schema, references, key, schema_id, schema_version, batch_id, clock)
    if batch_id and gate.landed():
        return gate.duplicate(paths)
    meter = BytesRead(paths, storage_options) if progress else None
    chunks = read_batch(
        paths,
        contract,
        input_format=input_format,
        chunk_rows=chunk_rows,
        schema_lookup=schema_lookup,
        storage_options=storage_options,
        references=references,
        workers=workers,
        meter=meter,
    )
    report = (lambda rows: progress(rows, meter.count, meter.total)) if progress else None
    return gate.run(chunks, paths, on_invalid, report, hashing, max_violations)


def _returning_memory_pool() -> None:
    """Arrow's allocations from jemalloc, which hands freed pages back to the system within a second.

    pyarrow's default pool (mimalloc) keeps the pages of the chunks a batch has streamed through:
    about 60 MiB of RSS at 1,000,000 records that no chunk uses any more (benchmarks/gate_memory.py).
    Process-wide and once; left alone when ``ARROW_DEFAULT_MEMORY_POOL`` names a pool, or when this
    pyarrow has no jemalloc.
    """
    if os.environ.get(MEMORY_POOL_ENV) or pa.default_memory_pool().backend_name != "mimalloc":
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow built without jemalloc
        pass


def _checked_references(contract: Contract, references: dict[str, str] | None) -> dict[str, str]:
    """The given texts, refused before anything is written when one the contract names is missing."""
    references = dict(references or {})
    missing = [r for r in contract.references if r.name not in references]
    if missing:
        named = ", ".join(f"{r.name!r} (subject {r.subject!r} version {r.version})" for r in missing)
        raise InvalidArgument(
            f"{contract.source_file or contract.subject}: the schema text of reference {named} is "
            "not given; resolve references first (lakehouse.references)"
        )
    return references


def _hash_in_background(paths: list[str], storage_options: dict | None) -> Future:
    """The content hash, computed on its own thread while the first chunks are decoded.

    hashlib and file reads release the GIL, so the hash overlaps with parsing instead of delaying it.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="content-hash")
    try:
        return pool.submit(content_hash, paths, storage_options)
    finally:
        pool.shutdown(wait=False)


class _AlreadyLanded(Exception):
    """The content hash, known only after decoding began, names a batch that already landed."""


class _Gate:
    """One batch on its way through the gate (state shared by the steps of ``ingest``)."""

    def __init__(self, catalog, contract, data_schema, references, key, schema_id, schema_version, batch_id, clock):  # fmt: skip
        self.catalog = catalog
        self.contract = contract
        self.subject = contract.subject
        self.pii = list(contract.metadata.pii_fields)
        self.key = key  # HMAC key when PII is masked at Bronze
        if self.key is not None:
            data_schema = masked_schema(data_schema, self.pii)
        self.schema_id, self.schema_version, self.batch_id = schema_id, schema_version, batch_id or None
        self.ingested_at = (clock or (lambda: datetime.now(UTC)))()
        self.log = IngestLog(catalog.engine)
        identifier = bronze_identifier(self.subject)
        existing = bronze.existing_table(catalog, identifier)
        renames, properties = column_renames(
            contract,
            existing.schema() if existing else None,
            dict(existing.properties) if existing else {},
            references,
        )
        properties[bronze.TABLE_SUBJECT] = self.subject
        self.table = bronze.ensure_table(catalog, identifier, data_schema, renames, properties, existing)

    def landed(self) -> bool:
        return bronze.find_batch(self.table, self.batch_id) is not None or self.log.landed(
            self.subject, self.batch_id
        )

    def duplicate(self, paths: list[str]) -> IngestResult:
        snapshot = bronze.find_batch(self.table, self.batch_id)
        message = f"batch {self.batch_id} is already in {'.'.join(self.table.name())}; nothing to do"
        self._record(DUPLICATE, 0, 0, {}, paths, snapshot.snapshot_id if snapshot else None, message)
        return IngestResult(
            self.batch_id,
            self.subject,
            DUPLICATE,
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            message=message,
        )

    def identify(self, hashing: Future) -> bool:
        """Wait for the content hash and take it as the batch id; True when that batch already landed."""
        self.batch_id = hashing.result()
        self.table.refresh()  # decoding took a while: another gate may have landed it meanwhile
        return self.landed()

    def identified(self, chunks: Iterable, hashing: Future | None, lookahead: int = 2) -> Iterator:
        """The chunks, handed on only once the batch id is known (every Bronze row carries it).

        Up to ``lookahead`` chunks are decoded while the content hash is still being computed; a
        batch that already landed stops there with ``_AlreadyLanded``.
        """
        held: list = []
        for chunk in chunks:
            held.append(chunk)
            if self.batch_id is None:
                if not hashing.done() and len(held) < lookahead:
                    continue
                if self.identify(hashing):
                    raise _AlreadyLanded
            while held:
                yield held.pop(0)
        if held and self.identify(hashing):
            raise _AlreadyLanded
        yield from held

    def run(
        self,
        chunks: Iterable,
        paths: list[str],
        on_invalid: str,
        progress,
        hashing: Future | None = None,
        max_violations: int | None = MAX_REPORTED_VIOLATIONS,
    ) -> IngestResult:
        writer = quarantine = None
        reasons: Counter = Counter()
        kinds = _ReasonKinds()
        reported: list = []
        rows_read = rows_invalid = 0
        try:
            for chunk in self.identified(chunks, hashing):
                writer = writer or bronze.BatchWriter(self.table, self._gate_values())
                violations = [v if v.file else replace(v, file=chunk.file) for v in chunk.violations]
                reasons.update(v.rule for v in violations)
                kinds.update(violations)
                room = len(violations) if max_violations is None else max_violations - len(reported)
                reported.extend(violations[:room])
                rows_read += len(chunk.rows) + len(chunk.raw)
                rows_invalid += len(chunk.invalid_rows)
                if on_invalid == "reject":
                    if rows_invalid:
                        writer.discard()  # keep reading only to report every violation
                    else:
                        writer.write(self._bronze_rows(chunk.table))
                else:
                    writer.write(self._bronze_rows(chunk.valid_table()))
                    if chunk.invalid_rows:
                        quarantine = quarantine or bronze.BatchWriter(
                            self._quarantine_table(), self._gate_values()
                        )
                        quarantine.write(
                            quarantine_rows(
                                chunk.table,
                                chunk.rows.to_pylist(),
                                chunk.raw,
                                violations,
                                self.pii,
                                chunk.file,
                            )
                        )
                if progress:
                    progress(rows_read)
            if progress and rows_read:
                progress(rows_read)  # every file read to its end
        except _AlreadyLanded:
            _discard(writer, quarantine)
            return self.duplicate(paths)
        except BaseException as exc:
            _discard(writer, quarantine)
            if not isinstance(exc, Exception):
                raise
            return self._undecodable(exc, hashing, paths)
        if on_invalid == "reject" and rows_invalid:
            message = f"batch {self.batch_id} rejected: {_summary(reasons)}; nothing was written"
            self._record(REJECTED, 0, rows_invalid, dict(reasons), paths, None, message)
            return IngestResult(
                self.batch_id, self.subject, REJECTED, 0, rows_invalid, reported, dict(reasons), None, message,
                kinds.listed(),
            )  # fmt: skip
        for finished in (writer, quarantine):
            if finished is not None:
                finished.finish()  # every data file of the batch is written
        _checkpoint("written")
        if quarantine:
            _commit_once(quarantine, self._summary(quarantine.rows))
            _checkpoint("between-commits")
        outcome = _commit_once(
            writer,
            self._summary(writer.rows),
            already_landed=lambda: self.log.landed(self.subject, self.batch_id),
        )
        if outcome.duplicate:
            return self.duplicate(paths)
        status = QUARANTINED if rows_invalid else ACCEPTED
        where = f"{'.'.join(self.table.name())} snapshot {outcome.snapshot.snapshot_id}"
        message = f"batch {self.batch_id}: {writer.rows} rows into {where}"
        if rows_invalid:
            message += f", {rows_invalid} rows quarantined ({_summary(reasons)})"
        self._record(
            status, writer.rows, rows_invalid, dict(reasons), paths, outcome.snapshot.snapshot_id, message
        )
        return IngestResult(
            self.batch_id,
            self.subject,
            status,
            writer.rows,
            rows_invalid,
            reported,
            dict(reasons),
            outcome.snapshot.snapshot_id,
            message,
            kinds.listed(),
        )

    def _undecodable(self, exc: Exception, hashing: Future | None, paths: list[str]) -> IngestResult:
        """Log the failure and raise it, under the batch id once the content hash is known.

        A batch that already landed is still a duplicate; a file the hash could not read either is
        logged under an empty batch id, as no id exists.
        """
        if self.batch_id is None:
            try:
                if self.identify(hashing):
                    return self.duplicate(paths)
            except InvalidBatch as unreadable:
                self.batch_id = ""
                self._record(REJECTED, 0, 0, {}, paths, None, str(unreadable))
                raise unreadable from None
        self._record(REJECTED, 0, 0, {"undecodable": 1}, paths, None, str(exc))
        raise exc

    def _bronze_rows(self, table: pa.Table) -> pa.Table:
        return mask_table(table, self.pii, self.key) if self.key is not None else table

    def _gate_values(self) -> bronze.GateValues:
        """The gate columns of every row of the batch (the batch id is known by the first chunk)."""
        return bronze.GateValues(self.batch_id, self.ingested_at, self.schema_id, self.schema_version)

    def _quarantine_table(self):
        return bronze.ensure_table(self.catalog, quarantine_identifier(self.subject), QUARANTINE_SCHEMA)

    def _summary(self, rows: int) -> dict[str, str]:
        return {
            bronze.SUMMARY_BATCH_ID: self.batch_id,
            bronze.SUMMARY_SUBJECT: self.subject,
            bronze.SUMMARY_SCHEMA_ID: str(self.schema_id),
            bronze.SUMMARY_SCHEMA_VERSION: str(self.schema_version),
            bronze.SUMMARY_RECORD_COUNT: str(rows),
        }

    def _record(self, status, accepted, rejected, reasons, paths, snapshot_id, message) -> None:
        self.log.record(
            LogEntry(
                subject=self.subject,
                batch_id=self.batch_id,
                status=status,
                rows_accepted=accepted,
                rows_rejected=rejected,
                schema_id=self.schema_id,
                schema_version=self.schema_version,
                snapshot_id=snapshot_id,
                reasons=reasons,
                files=paths,
                message=message,
            )
        )


class _ReasonKinds:
    """Count and first violation per (rule, field path), across the chunks of one batch."""

    def __init__(self) -> None:
        self._counts: Counter = Counter()
        self._first: dict[tuple[str, str], RowViolation] = {}

    def update(self, violations: list[RowViolation]) -> None:
        for violation in violations:
            key = (violation.rule, violation.field)
            self._counts[key] += 1
            self._first.setdefault(key, violation)

    def listed(self) -> list[ReasonKind]:
        return [
            ReasonKind(rule, path, self._counts[rule, path], first)
            for (rule, path), first in self._first.items()
        ]


def _commit_once(writer: bronze.BatchWriter, summary: dict[str, str], **options) -> bronze.CommitOutcome:
    """Commit the writer's files as the batch's snapshot; when the batch is already there (a retry
    after a crash, or a concurrent gate), delete them instead: they would be orphans."""
    outcome = bronze.commit_batch(writer.table, writer.finish(), summary, **options)
    if outcome.duplicate:
        writer.discard()
    return outcome


def _checkpoint(name: str) -> None:
    """Test hook: with ``MESHGATE_GATE_PAUSE_AT=name`` the gate says so on stderr and waits here.

    Lets a test SIGKILL a real gate process (the pid it prints) at one exact point (``written``:
    every data file written, nothing committed; ``between-commits``: quarantine committed, Bronze
    not). Unset, it costs one environment lookup per batch.
    """
    if os.environ.get(PAUSE_AT_ENV) == name:
        print(f"meshgate gate paused at {name} (pid {os.getpid()})", file=sys.stderr, flush=True)
        time.sleep(3600)


def _discard(*writers) -> None:
    for writer in writers:
        if writer is not None:
            writer.discard()


def _summary(reasons: Counter) -> str:
    return ", ".join(f"{count} {rule}" for rule, count in reasons.most_common())
