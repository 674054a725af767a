"""The lakehouse pages: Bronze tables and their snapshots, the ingestion log, quarantined rows.

Everything here reads ``lakehouse``'s public functions (what ``meshgate bronze``, ``ingest-log``
and ``lakehouse maintain`` call), imported inside the handlers: a registry replica loads pyarrow
and pyiceberg only once someone opens one of these pages. Quarantined rows are shown by file, row,
field, rule and message: never their raw text or values, which may hold personal data.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from registry.auth import Principal

LOG_SHOWN = 100
QUARANTINE_SHOWN = 200


class LakehousePages:
    def __init__(self, console: Any):
        self.console = console

    @functools.cached_property
    def catalog(self):
        from lakehouse.catalog import open_catalog

        where = self.console.lakehouse
        return open_catalog(where.data_dir, where.catalog_url, where.warehouse)

    def _log(self):
        from lakehouse.ingest_log import IngestLog

        return IngestLog(self.catalog.engine)

    async def overview(self, request: Request, principal: Principal) -> Response:
        subject = request.query_params.get("subject") or None
        tables, entries, retention = await self.console.call(self._overview, subject)
        return self.console.render(
            request,
            principal,
            "lakehouse.html",
            tables=tables,
            entries=entries,
            retention=retention,
            subject=subject,
        )

    def _overview(self, subject: str | None):
        from lakehouse import bronze
        from lakehouse.naming import BRONZE
        from lakehouse.retention import DEFAULT_RETENTION, DEFAULT_SNAPSHOT_MAX_AGE

        tables = []
        for identifier in self.catalog.list_tables(BRONZE):
            table = self.catalog.load_table(identifier)
            current = table.current_snapshot()
            summary = current.summary if current and current.summary else {}
            tables.append(
                {
                    "name": ".".join(identifier),
                    "subject": table.properties.get(bronze.TABLE_SUBJECT, ""),
                    "rows": summary.get("total-records", "0"),
                    "snapshots": len(table.metadata.snapshots),
                    "last_batch": summary.get(bronze.SUMMARY_BATCH_ID, ""),
                }
            )
        retention = {tier: f"{age.days} days" for tier, age in DEFAULT_RETENTION.items()}
        retention["snapshots"] = f"{DEFAULT_SNAPSHOT_MAX_AGE.days} days"
        return tables, self._log().entries(subject, LOG_SHOWN), retention

    async def table(self, request: Request, principal: Principal) -> Response:
        subject = request.path_params["subject"]
        name, snapshots = await self.console.call(self._snapshots, subject)
        return self.console.render(
            request, principal, "bronze_table.html", subject=subject, name=name, snapshots=snapshots
        )

    def _snapshots(self, subject: str):
        from lakehouse import bronze
        from lakehouse.naming import bronze_identifier

        table = self._table(bronze_identifier(subject))
        current = table.current_snapshot()
        snapshots = []
        for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True):
            summary = snapshot.summary
            snapshots.append(
                {
                    "id": snapshot.snapshot_id,
                    "current": bool(current and snapshot.snapshot_id == current.snapshot_id),
                    "time": datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
                    "operation": summary.operation.value,
                    "batch": summary.get(bronze.SUMMARY_BATCH_ID, ""),
                    "schema_id": summary.get(bronze.SUMMARY_SCHEMA_ID, ""),
                    "added": summary.get("added-records", "0"),
                    "rows": summary.get("total-records", "0"),
                }
            )
        return ".".join(table.name()), snapshots

    def _table(self, identifier):
        from pyiceberg.exceptions import NoSuchTableError

        from registry.errors import SubjectNotFound

        try:
            return self.catalog.load_table(identifier)
        except NoSuchTableError:
            raise SubjectNotFound(f"no table {'.'.join(identifier)} (nothing ingested yet?)") from None

    async def batch(self, request: Request, principal: Principal) -> Response:
        subject = request.path_params["subject"]
        batch_id = request.path_params["batch_id"]
        entries, by_reason = await self.console.call(self._batch, subject, batch_id)
        return self.console.render(
            request,
            principal,
            "batch.html",
            subject=subject,
            batch_id=batch_id,
            entries=entries,
            by_reason=by_reason,
        )

    def _batch(self, subject: str, batch_id: str):
        """The batch's log entries and its quarantined rows grouped by rule."""
        from pyiceberg.exceptions import NoSuchTableError
        from pyiceberg.expressions import EqualTo

        from lakehouse.naming import quarantine_identifier

        entries = [e for e in self._log().entries(subject, 10_000) if e.batch_id == batch_id]
        by_reason: dict[str, list[dict]] = {}
        try:
            table = self.catalog.load_table(quarantine_identifier(subject))
        except NoSuchTableError:
            return entries, by_reason
        rows = table.scan(
            row_filter=EqualTo("_batch_id", batch_id), selected_fields=("file", "row", "reasons")
        ).to_arrow()
        for record in rows.slice(0, QUARANTINE_SHOWN).to_pylist():
            for reason in record["reasons"] or []:
                by_reason.setdefault(reason["rule"], []).append(
                    {
                        "file": record["file"],
                        "row": record["row"],
                        "field": reason["field"],
                        "message": reason["message"],
                    }
                )
        return entries, dict(sorted(by_reason.items()))
