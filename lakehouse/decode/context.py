"""What the decoders of one batch share: the contract, its Arrow schemas, limits, the uniqueness tracker.

Every format's decoder imports this module, never the package: ``lakehouse.decode`` picks a decoder per
file, so the decoders must not import it back.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import pyarrow as pa

from lakehouse.json_schema_checks import KeywordCheck, keyword_check
from lakehouse.schema_mapping import contract_schema
from lakehouse.validate import Chunk, RowViolation, UniqueTracker, validate
from registry.compat.fields import Field
from registry.contract import Contract

SchemaLookup = Callable[[int], Contract]
"""``schema_lookup(schema_id) -> Contract``: the writer's contract of a Confluent wire-format record."""


@dataclass
class BatchContext:
    """What the decoders of one batch share: contract, schemas, limits, the uniqueness tracker.

    ``declared`` is the contract's Arrow schema (required fields non-nullable); decoded tables have
    ``schema``, its all-nullable twin, so that a missing value is a violation, not a decode failure.
    """

    contract: Contract
    declared: pa.Schema
    schema: pa.Schema
    chunk_rows: int
    max_line_bytes: int
    unique: UniqueTracker
    references: dict[str, str] = field(default_factory=dict)  # import name -> schema text
    workers: int = 1  # blocks decoded at once (see ``run``)
    pool: Executor | None = None  # the batch's decode threads; None with one worker
    pii: list[str] = field(init=False)
    fields: tuple[Field, ...] = field(init=False)  # the neutral field tree (registry.compat.fields)
    keywords: KeywordCheck | None = field(init=False)  # a JSON Schema contract's keywords

    def __post_init__(self) -> None:
        self.pii = list(self.contract.metadata.pii_fields)
        self.fields = contract_schema(self.contract, self.references).fields()
        self.keywords = keyword_check(self.contract, self.references, self.pii)

    def run(self, function: Callable, *args) -> Future:
        """``function(*args)`` on the batch's decode threads, or here and now with one worker."""
        if self.pool is None:
            done: Future = Future()
            try:
                done.set_result(function(*args))
            except Exception as exc:  # noqa: BLE001 - raised again by result(), as from a thread
                done.set_exception(exc)
            return done
        return self.pool.submit(function, *args)

    def finish(self, table: pa.Table, rows: pa.Array, problems: list[RowViolation], raw: dict, path: str,
               offsets: Callable[[set[int]], dict[int, int]]) -> Chunk:  # fmt: skip
        """Validate the typed rows and put every violation of the chunk together."""
        violations = problems + validate(
            table, self.contract, rows=rows, unique=self.unique, schema=self.declared
        )
        invalid = {v.row for v in violations}
        where = offsets(invalid) if invalid else {}
        for violation in violations:
            violation.file = path
            if violation.byte_offset is None:
                violation.byte_offset = where.get(violation.row)
        violations.sort(key=lambda v: v.row)
        return Chunk(table=table, rows=rows, violations=violations, invalid_rows=invalid, raw=raw, file=path)
