"""One Bronze asset per contract, fed by the gate, partitioned by landing file.

Partitions are dynamic, one set per subject, keyed by the landing file's name: each file is one
gate batch, so a partition is exactly one batch and re-materialising it is a no-op (the gate's batch
id is the sha256 of the file's bytes, and a batch id already in Bronze is not appended again). The
gate's decision is the asset check ``gate_decision``: a rejected batch fails it with the reasons.
"""

from collections.abc import Callable
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    asset,
)

from lakehouse import IngestRequest, IngestResult, ingest
from lakehouse.decode import DEFAULT_CHUNK_ROWS
from lakehouse.naming import BRONZE, table_name
from meshgate.pipeline.resources import LakehouseResource
from registry.contract import Contract

GATE_CHECK = "gate_decision"


class InjectedFailure(Exception):
    """Raised by ``GateConfig.fail_after_rows``: a run that dies midway, to prove retries are safe."""


class GateConfig(Config):
    """Run config of a Bronze asset.

    ``fail_after_rows`` > 0 injects a failure once that many rows were read (data files written,
    nothing committed): a fault drill for retries, off by default.
    """

    on_invalid: str = "reject"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    fail_after_rows: int = 0


def bronze_key(subject: str) -> AssetKey:
    """The asset key of a subject's Bronze table; equal to dagster-dbt's key of the dbt source."""
    return AssetKey([BRONZE, table_name(subject)])


def landing_partitions(subject: str) -> DynamicPartitionsDefinition:
    return DynamicPartitionsDefinition(name=f"landing__{table_name(subject)}")


def bronze_asset(file_contract: Contract) -> AssetsDefinition:
    """The Bronze asset of one contract: materialising partition ``name`` gates landing file ``name``."""
    subject = file_contract.subject
    key = bronze_key(subject)

    @asset(
        key=key,
        partitions_def=landing_partitions(subject),
        check_specs=[
            AssetCheckSpec(GATE_CHECK, asset=key, description="The gate accepted the landing batch.")
        ],
        group_name=BRONZE,
        kinds={"iceberg", "python"},
        description=f"{subject}: Bronze Iceberg table, one snapshot per accepted landing file.",
        metadata={"subject": subject},
    )
    def _bronze(context: AssetExecutionContext, config: GateConfig, lakehouse: LakehouseResource):
        path = lakehouse.landing_folder(subject) / context.partition_key
        if not path.is_file():
            raise Failure(f"landing file {path} of partition {context.partition_key!r} does not exist")

        def progress(rows_read: int, bytes_read: int, total_bytes: int) -> None:
            if config.fail_after_rows and rows_read >= config.fail_after_rows:
                raise InjectedFailure(f"injected failure after {rows_read} rows of {path.name}")

        result = gate_file(lakehouse, file_contract, path, config.on_invalid, config.chunk_rows, progress)
        context.log.info(result.message)
        return MaterializeResult(metadata=_metadata(result), check_results=[gate_check(key, result)])

    return _bronze


def gate_file(
    lakehouse: LakehouseResource,
    file_contract: Contract,
    path: Path,
    on_invalid: str = "reject",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[int, int, int], None] | None = None,
) -> IngestResult:
    """Gate one landing file into its Bronze table: one batch, id = sha256 of the file (idempotent).

    The contract is the registry's latest version of the subject when a registry is configured.
    Shared by the Dagster asset and the Airflow DAG (examples/airflow/meshgate_dag.py).
    """
    return ingest(
        IngestRequest(
            [path],
            lakehouse.contract(file_contract),
            on_invalid=on_invalid,
            data_dir=lakehouse.data_dir,
            catalog_url=lakehouse.catalog_url or None,
            warehouse=lakehouse.warehouse or None,
            storage_options=lakehouse.storage_options(),
            chunk_rows=chunk_rows,
            progress=progress,
        )
    )


def gate_check(key: AssetKey, result: IngestResult) -> AssetCheckResult:
    """Passed unless the gate rejected the batch; a rejection carries its reasons and first violations."""
    metadata = {"status": result.status, "batch_id": result.batch_id, "message": result.message}
    if result.reasons:
        metadata["reasons"] = dict(result.reasons)
    if result.violations:
        metadata["first_violations"] = [
            f"{v.file or ''}:{v.row} {v.rule} {v.field}: {v.message}" for v in result.violations[:10]
        ]
    return AssetCheckResult(
        asset_key=key,
        check_name=GATE_CHECK,
        passed=result.status != "rejected",
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def _metadata(result: IngestResult) -> dict:
    metadata = {
        "status": result.status,
        "batch_id": result.batch_id,
        "rows_accepted": result.rows_accepted,
        "rows_rejected": result.rows_rejected,
    }
    if result.snapshot_id is not None:
        metadata["snapshot_id"] = str(result.snapshot_id)
    return metadata
