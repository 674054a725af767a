"""Sensors: new landing files -> gate runs; new Bronze batches -> dbt runs; contract changes -> sources.

- ``landing_files__<table>``: each new file under ``<landing>/<table>/`` becomes a partition of the
  subject's Bronze asset and a run request for it (run key = the file, so a file is requested once).
- ``bronze_batches``: after Bronze materialisations that landed rows, request a run of the dbt models
  downstream of those tables (read from the dbt manifest's lineage).
- ``contract_changes``: read the registry's Watch stream (resuming from the last sequence handled);
  when a subject got a new or deleted version, regenerate dbt's Bronze sources from the registry (in
  the code location's working copy of the dbt project, never the checkout) and request a run of the
  models downstream of the changed subjects.
"""

import re
import threading
from collections.abc import Iterable
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from pyiceberg.exceptions import NoSuchNamespaceError

from lakehouse import unregistered
from lakehouse.dbt.sources import contracts_from_registry, sources_yaml
from lakehouse.naming import BRONZE, table_name
from meshgate.pipeline.bronze import bronze_key, landing_partitions
from meshgate.pipeline.build_state import walk
from meshgate.pipeline.dbt import DBT_RUN_TAGS
from meshgate.pipeline.project import write_generated_sources
from meshgate.pipeline.resources import LakehouseResource
from registry.contract import Contract
from registry.errors import SequenceCompacted
from registry.model import VERSION_HARD_DELETED, VERSION_REGISTERED, VERSION_SOFT_DELETED

LANDED_STATUSES = ("accepted", "quarantined")  # a batch that changed Bronze (not rejected, not duplicate)


def landing_files(folder: Path) -> list[str]:
    """Complete landing files of a folder: writers write ``.name`` or ``name.tmp``/``.part``, then rename."""
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".tmp", ".part"))
    )


def landing_sensor(contract: Contract):
    """One sensor per subject: a run targets one Bronze asset (each has its own partitions)."""
    subject = contract.subject
    partitions = landing_partitions(subject)

    @sensor(
        name=f"landing_files__{table_name(subject)}",
        target=AssetSelection.assets(bronze_key(subject)),
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"A new file in the landing folder of {subject}: add its partition and gate it into Bronze.",
    )
    def _landing(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> SensorResult:
        known = set(context.instance.get_dynamic_partitions(partitions.name))
        new = [name for name in landing_files(lakehouse.landing_folder(subject)) if name not in known]
        if not new:
            return SensorResult(skip_reason=SkipReason("no new landing file"))
        run_requests = [
            RunRequest(
                run_key=f"{table_name(subject)}/{name}",
                partition_key=name,
                asset_selection=[bronze_key(subject)],
                tags={"meshgate/subject": subject},
            )
            for name in new
        ]
        return SensorResult(
            run_requests=run_requests, dynamic_partitions_requests=[partitions.build_add_request(new)]
        )

    return _landing


def downstream_models(
    manifest: dict, tables: Iterable[str], translator, landed: set[str] | None = None
) -> list[AssetKey]:
    """Asset keys of the dbt models that read the given Bronze tables, directly or not.

    With ``landed`` (the Bronze tables holding data), a model that also reads a table never
    ingested is left out: it cannot build yet (e.g. a Gold join of checkouts and sign-ups before the
    first sign-up batch), and it is requested once that table lands.
    """
    tables = set(tables)
    sources = {
        uid
        for uid, source in manifest["sources"].items()
        if source["source_name"] == BRONZE and source["name"] in tables
    }
    models = sorted(uid for uid in walk(manifest["child_map"], sources) if uid.startswith("model."))
    if landed is not None:
        models = [uid for uid in models if _bronze_sources(manifest, uid) <= landed]
    return [translator.get_asset_key(manifest["nodes"][uid]) for uid in models]


def _bronze_sources(manifest: dict, uid: str) -> set[str]:
    """The Bronze tables a node reads, directly or through other models."""
    sources = manifest["sources"]
    return {
        sources[parent]["name"]
        for parent in walk(manifest["parent_map"], {uid})
        if parent in sources and sources[parent]["source_name"] == BRONZE
    }


def landed_tables(catalog) -> set[str]:
    """Bronze tables with at least one snapshot (a table the gate created for a rejected batch has none)."""
    try:
        identifiers = catalog.list_tables(BRONZE)
    except NoSuchNamespaceError:
        return set()
    return {i[-1] for i in identifiers if catalog.load_table(i).current_snapshot() is not None}


def bronze_batches_sensor(contracts: list[Contract], manifest: dict, translator, dbt_selection):
    keys = {bronze_key(c.subject): table_name(c.subject) for c in contracts}

    @sensor(
        name="bronze_batches",
        target=dbt_selection,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Bronze batches landed: rebuild the dbt models downstream of those tables.",
    )
    def _bronze_batches(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> SensorResult:
        after = int(context.cursor) if context.cursor else None
        cursor, changed = after, set()
        for key, table in keys.items():
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=1000
            ).records
            for record in records:
                cursor = max(cursor or 0, record.storage_id)
                status = record.asset_materialization.metadata.get("status")
                if status is not None and status.value in LANDED_STATUSES:
                    changed.add(table)
        if not changed:
            return SensorResult(skip_reason=SkipReason("no batch landed in Bronze"), cursor=_str(cursor))
        models = downstream_models(manifest, changed, translator, landed_tables(lakehouse.catalog()))
        request = RunRequest(
            asset_selection=models, tags={**DBT_RUN_TAGS, "meshgate/bronze-tables": ",".join(sorted(changed))}
        )
        return SensorResult(run_requests=[request] if models else [], cursor=_str(cursor))

    return _bronze_batches


SCHEMA_EVENTS = (VERSION_REGISTERED, VERSION_SOFT_DELETED, VERSION_HARD_DELETED)


def contract_change_sensor(
    contracts: list[Contract],
    project_dir: Path,
    manifest: dict,
    translator,
    dbt_selection,
    drain_seconds: float = 2.0,
):
    """Reads the registry's Watch stream from the cursor (the last event sequence handled).

    ``manifest`` is the parsed dbt manifest the code location's dbt assets were built from."""
    tables = {c.subject: table_name(c.subject) for c in contracts}

    @sensor(
        name="contract_changes",
        target=dbt_selection,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="A contract changed in the registry: regenerate dbt's Bronze sources, rebuild what reads it.",
    )
    def _contract_changes(context: SensorEvaluationContext, lakehouse: LakehouseResource) -> SensorResult:
        if not lakehouse.registry:
            return SensorResult(skip_reason=SkipReason("no registry configured (MESHGATE_REGISTRY)"))
        from registry.client import RegistryClient

        after = int(context.cursor) if context.cursor else 0
        with RegistryClient(
            lakehouse.registry, token=lakehouse.token or None, tls=lakehouse.registry_tls()
        ) as client:
            try:
                events = schema_events(client, after, drain_seconds)
                last = max([after, *(e.sequence for e in events)])
                changed = sorted({e.subject for e in events if e.type in SCHEMA_EVENTS})
            except SequenceCompacted as exc:  # events were lost to retention: re-read the state
                last = resume_sequence(exc)
                changed = sorted(client.list_subjects())
                context.log.warning(f"{exc}; treating every subject as changed")
            if not changed:
                return SensorResult(skip_reason=SkipReason("no contract changed"), cursor=str(last))
            written = write_generated_sources(project_dir, generated_sources(client, contracts))
        context.log.info(
            f"contracts changed: {', '.join(changed)}; dbt sources {'rewritten' if written else 'unchanged'}"
        )
        ours = [tables[s] for s in changed if s in tables]
        landed = landed_tables(lakehouse.catalog())
        models = downstream_models(manifest, ours, translator, landed) if ours else []
        tags = {**DBT_RUN_TAGS, "meshgate/contracts": ",".join(changed)}
        requests = [RunRequest(asset_selection=models, tags=tags)] if models else []
        return SensorResult(run_requests=requests, cursor=str(last))

    return _contract_changes


def schema_events(client, after_sequence: int, drain_seconds: float) -> list:
    """The events after ``after_sequence`` the stream delivers within ``drain_seconds``.

    The stream replays missed events first, then waits for live ones; a sensor tick must end, so
    the stream is closed after the window and the next tick resumes from the last sequence read.
    """
    stream = client.watch(after_sequence=after_sequence, reconnect=False)
    timer = threading.Timer(drain_seconds, stream.close)
    timer.start()
    try:
        return list(stream)
    finally:
        timer.cancel()
        stream.close()


def resume_sequence(exc: SequenceCompacted) -> int:
    """Where to resume after compaction: the registry's message names it ("after_sequence=N")."""
    found = re.search(r"after_sequence=(\d+)", str(exc))
    if found is None:
        raise exc
    return int(found.group(1))


def generated_sources(client, contracts: list[Contract]) -> str:
    """Bronze sources from the registry's latest versions; a subject of the code location the
    registry does not hold yet keeps its contract file's (its models must still parse)."""
    registered, references = contracts_from_registry(client)
    known = {c.subject for c in registered}
    for contract in contracts:
        if contract.subject not in known:
            registered.append(contract)
            references[contract.subject] = unregistered(contract).references
    return sources_yaml(registered, references)


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)
