"""The Bronze gate: decode a batch, validate it against its contract, append it to Iceberg once.

The entry points: ``resolve_contract`` (from a YAML file or the registry) or ``unregistered`` (a
contract already loaded), then ``ingest(IngestRequest(files, contract, ...))``. The stages behind
them, in the order a batch meets them: ``decode`` (one module per input format), ``validate``,
``gate`` (the one orchestration), ``bronze`` (write and commit); ``dbt`` holds the dbt glue.
"""

from lakehouse.contracts import ResolvedContract, resolve_contract, unregistered
from lakehouse.gate import IngestResult
from lakehouse.request import IngestRequest, ingest

__all__ = ["IngestRequest", "IngestResult", "ResolvedContract", "ingest", "resolve_contract", "unregistered"]
