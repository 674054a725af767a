"""Lineage: contract -> Bronze table -> Silver and Gold models, read from dbt's ``manifest.json``.

The manifest is plain JSON (no dbt import). A dbt source whose name is a subject's table name
(``registry.contract.table_name``) is that subject's Bronze table. The graph is drawn server-side
as SVG in columns (contracts, Bronze, then models by depth), every node a link to its page; the
Gold metrics (daily active users, revenue) are SVG charts of the Gold tables in DuckDB, which is
imported only when the page is opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from meshgate.console.location import PREFIX
from registry.auth import Principal
from registry.contract import table_name
from registry.errors import SubjectNotFound

NODE_HEIGHT, COLUMN_GAP, ROW_GAP, CHAR_WIDTH = 34, 60, 16, 6.6
DBT_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
METRICS = (  # (title, SQL over the Gold tables: x, y)
    ("daily active users", "select activity_date, active_users from gold.daily_active_users order by 1"),
    ("revenue per day", "select revenue_date, sum(revenue) from gold.daily_revenue group by 1 order by 1"),
)


@dataclass
class Node:
    id: str
    label: str
    kind: str  # contract | bronze | silver | gold | model
    href: str
    parents: list[str] = field(default_factory=list)
    column: int = 0
    x: int = 0
    y: int = 0


@dataclass
class Graph:
    nodes: dict[str, Node]
    width: int
    height: int
    node_width: int

    def edges(self) -> list[tuple[Node, Node]]:
        return [(self.nodes[p], n) for n in self.nodes.values() for p in n.parents if p in self.nodes]


def lineage_graph(manifest: dict, subjects: list[str]) -> Graph:
    """The graph of ``subjects`` and the manifest's sources and models, laid out in columns."""
    by_table = {table_name(subject): subject for subject in subjects}
    nodes: dict[str, Node] = {}
    for source_id, source in manifest.get("sources", {}).items():
        subject = by_table.get(source.get("name", ""))
        if subject is None:
            continue
        contract_id = f"contract:{subject}"
        nodes[contract_id] = Node(
            contract_id, subject, "contract", f"{PREFIX}/subjects/{quote(subject, safe='')}"
        )
        nodes[source_id] = Node(
            source_id,
            f"bronze.{source['name']}",
            "bronze",
            f"{PREFIX}/lakehouse/tables/{quote(subject, safe='')}",
            [contract_id],
            column=1,
        )
    models = {
        unique_id: node
        for unique_id, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "model"
    }
    for unique_id, model in models.items():
        schema = model.get("schema", "")
        kind = schema if schema in ("silver", "gold") else "model"
        nodes[unique_id] = Node(
            unique_id,
            f"{schema}.{model.get('name', unique_id)}" if schema else model.get("name", unique_id),
            kind,
            f"{PREFIX}/lineage/models/{quote(unique_id, safe='')}",
            [p for p in model.get("depends_on", {}).get("nodes", [])],
        )
    kept = {
        nid: n for nid, n in nodes.items() if n.kind in ("contract", "bronze") or _reaches_bronze(n, nodes)
    }
    for node in kept.values():
        node.parents = [p for p in node.parents if p in kept]
    _assign_columns(kept)
    return _layout(kept)


def _reaches_bronze(node: Node, nodes: dict[str, Node], seen: frozenset = frozenset()) -> bool:
    if node.kind == "bronze":
        return True
    return any(
        p in nodes and p not in seen and _reaches_bronze(nodes[p], nodes, seen | {node.id})
        for p in node.parents
    )


def _assign_columns(nodes: dict[str, Node]) -> None:
    def column(node: Node, trail: frozenset) -> int:
        if node.kind == "contract":
            return 0
        if node.kind == "bronze":
            return 1
        return 1 + max(
            (column(nodes[p], trail | {node.id}) for p in node.parents if p not in trail), default=1
        )

    for node in nodes.values():
        node.column = column(node, frozenset())


def _layout(nodes: dict[str, Node]) -> Graph:
    node_width = int(max((len(n.label) for n in nodes.values()), default=10) * CHAR_WIDTH) + 24
    columns: dict[int, list[Node]] = {}
    for node in sorted(nodes.values(), key=lambda n: n.label):
        columns.setdefault(node.column, []).append(node)
    for index, members in columns.items():
        for row, node in enumerate(members):
            node.x = 10 + index * (node_width + COLUMN_GAP)
            node.y = 10 + row * (NODE_HEIGHT + ROW_GAP)
    width = 20 + (max(columns, default=0) + 1) * (node_width + COLUMN_GAP) - COLUMN_GAP
    height = 20 + max((len(m) for m in columns.values()), default=1) * (NODE_HEIGHT + ROW_GAP)
    return Graph(nodes, width, height, node_width)


@dataclass
class Chart:
    """A line chart's points in SVG coordinates, with its axis labels."""

    title: str
    points: str
    width: int
    height: int
    x_labels: list[tuple[float, str, str]]  # x, text, text-anchor
    y_max: str
    count: int


def chart(title: str, rows: list[tuple[Any, Any]], width: int = 520, height: int = 180) -> Chart:
    values = [float(y or 0) for _, y in rows]
    top = max(values, default=0) or 1
    step = (width - 60) / max(len(rows) - 1, 1)
    points = " ".join(
        f"{50 + i * step:.1f},{height - 25 - (v / top) * (height - 45):.1f}" for i, v in enumerate(values)
    )
    last = len(rows) - 1
    labels = [
        (50 + i * step, str(rows[i][0]), "start" if i == 0 else "end" if i == last else "middle")
        for i in sorted({0, len(rows) // 2, last})
        if rows
    ]
    return Chart(title, points, width, height, labels, f"{top:,.0f}", len(rows))


class LineagePages:
    def __init__(self, console: Any):
        self.console = console

    def _target(self) -> Path:
        from lakehouse.dbt.glue import target_dir

        return target_dir(self.console.lakehouse.data_dir)

    def _manifest(self) -> dict | None:
        path = self._target() / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else None

    async def lineage(self, request: Request, principal: Principal) -> Response:
        manifest = await self.console.call(self._manifest)
        subjects = await self.console.call(self.console.service.list_subjects)
        graph = lineage_graph(manifest, subjects) if manifest else None
        charts, chart_error = await self.console.call(self._charts)
        return self.console.render(
            request,
            principal,
            "lineage.html",
            graph=graph,
            charts=charts,
            chart_error=chart_error,
            has_docs=(self._target() / "index.html").exists(),
        )

    def _charts(self) -> tuple[list[Chart], str]:
        import duckdb

        from lakehouse.dbt.glue import DUCKDB_FILE

        path = Path(self.console.lakehouse.data_dir) / DUCKDB_FILE
        if not path.exists():
            return [], "no Gold tables yet: run `meshgate transform`"
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                return [chart(title, conn.sql(sql).fetchall()) for title, sql in METRICS], ""
        except duckdb.Error as exc:
            return [], f"Gold tables not readable: {exc}"

    async def model(self, request: Request, principal: Principal) -> Response:
        unique_id = request.path_params["unique_id"]
        manifest = await self.console.call(self._manifest)
        node = (manifest or {}).get("nodes", {}).get(unique_id)
        if node is None:
            raise SubjectNotFound(f"no dbt model {unique_id!r} in the manifest")
        from meshgate.console.highlight import highlighted_sql

        return self.console.render(
            request,
            principal,
            "model.html",
            node=node,
            unique_id=unique_id,
            sql=highlighted_sql(node.get("raw_code", "")),
            has_docs=(self._target() / "index.html").exists(),
        )

    async def dbt_docs(self, request: Request, principal: Principal) -> Response:
        """dbt's own docs site (``dbt docs generate``), as generated, behind the console's sign-in."""
        name = request.path_params["name"]
        path = self._target() / name
        if name not in DBT_DOCS_FILES or not path.exists():
            return Response("not found", status_code=404)
        return FileResponse(path)
