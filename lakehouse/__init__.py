"""The Bronze gate: decode a batch, validate it against its contract, append it to Iceberg once.

The entry points: ``resolve_contract`` (from a YAML file or the registry) or ``unregistered`` (a
contract already loaded), then ``ingest(IngestRequest(files, contract, ...))``. The stages behind
them, in the order a batch meets them: ``decode`` (one module per input format), ``validate``,
``gate`` (the one orchestration), ``bronze`` (write and commit); ``dbt`` holds the dbt glue.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.contracts import ResolvedContract, resolve_contract, unregistered
    from lakehouse.gate import IngestResult
    from lakehouse.request import IngestRequest, ingest

# Each export is imported on first use: ``import lakehouse.naming`` (a table name) must not load
# pyarrow and pyiceberg with the gate.
_EXPORTS = {
    "IngestRequest": "lakehouse.request",
    "IngestResult": "lakehouse.gate",
    "ResolvedContract": "lakehouse.contracts",
    "ingest": "lakehouse.request",
    "resolve_contract": "lakehouse.contracts",
    "unregistered": "lakehouse.contracts",
}
__all__ = ["IngestRequest", "IngestResult", "ResolvedContract", "ingest", "resolve_contract", "unregistered"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lakehouse' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
