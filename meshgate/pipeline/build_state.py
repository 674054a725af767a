"""What each dbt model's last successful build read and wrote, so a run with nothing new skips it.

A model is up to date when the dbt project's files are those of its last successful build and so is
every table it depends on: the Bronze tables it reads (directly or through other models), the
Iceberg tables of the models it reads, and its own. A table's version is its current metadata file,
not its snapshot id: every commit moves it (a batch, a schema change, a rewrite), and a missing
table counts as ``None``. The record is ``<data_dir>/dbt-target/built.json``, written after a
successful ``dbt build`` only, so a failed or killed run leaves its models due again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

STATE_FILE = "built.json"


def walk(edges: dict[str, list[str]], start: set[str]) -> set[str]:
    """Every node reachable from ``start`` along ``edges`` (a dbt manifest's parent or child map)."""
    seen, queue = set(), list(start)
    while queue:
        for neighbour in edges.get(queue.pop(), []):
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen


def model_tables(manifest: dict, uid: str) -> set[str]:
    """``namespace.table`` of a model's own Iceberg table and of every table upstream of it."""
    tables = set()
    for node_id in {uid, *walk(manifest["parent_map"], {uid})}:
        if node_id in manifest["sources"]:
            source = manifest["sources"][node_id]
            tables.add(f"{source['source_name']}.{source['name']}")
        elif node_id.startswith("model."):
            node = manifest["nodes"][node_id]
            tables.add(f"{node['schema']}.{node['alias']}")
    return tables


def table_versions(catalog: Catalog, tables: Iterable[str]) -> dict[str, str | None]:
    """Each table's current metadata file; ``None`` for a table the catalog does not have (yet)."""
    versions = {}
    for name in sorted(set(tables)):
        try:
            versions[name] = catalog.load_table(tuple(name.split("."))).metadata_location
        except (NoSuchTableError, NoSuchNamespaceError):
            versions[name] = None
    return versions


class BuildState:
    """The record in ``folder`` of what each model's last successful build saw."""

    def __init__(self, folder: Path, manifest: dict, project_fingerprint: str):
        self.path = Path(folder) / STATE_FILE
        self.manifest = manifest
        self.project = project_fingerprint

    def _models(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            models = json.loads(self.path.read_text(encoding="utf-8")).get("models")
        except (json.JSONDecodeError, AttributeError):
            models = None
        return models if isinstance(models, dict) else {}  # unreadable: nothing is known to be up to date

    def due(self, models: Iterable[str], catalog: Catalog, versions: dict | None = None) -> list[str]:
        """The models (dbt unique ids) whose inputs, outputs or project changed since their last build;
        ``versions``: those ``versions_before`` already read for these models."""
        models = sorted(models)
        tables = {uid: model_tables(self.manifest, uid) for uid in models}
        if versions is None:
            versions = table_versions(catalog, set().union(*tables.values()))
        recorded = self._models()
        return [
            uid
            for uid in models
            if recorded.get(uid) != self._entry({name: versions[name] for name in tables[uid]})
        ]

    def versions_before(self, models: Iterable[str], catalog: Catalog) -> dict[str, str | None]:
        """The versions of every table the models depend on, read before dbt starts."""
        return table_versions(catalog, set().union(*(model_tables(self.manifest, m) for m in models)))

    def record(self, built: Iterable[str], before: dict[str, str | None], catalog: Catalog) -> None:
        """After a successful build: the models built, with the Bronze versions read before dbt started
        (a batch landing during the build is new for the next run) and their own tables' versions now."""
        built = sorted(built)
        outputs = {
            f"{self.manifest['nodes'][uid]['schema']}.{self.manifest['nodes'][uid]['alias']}" for uid in built
        }
        versions = {**before, **table_versions(catalog, outputs)}
        models = self._models()
        for uid in built:
            models[uid] = self._entry({name: versions.get(name) for name in model_tables(self.manifest, uid)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"models": models}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)

    def _entry(self, tables: dict[str, str | None]) -> dict:
        return {"project": self.project, "tables": dict(sorted(tables.items()))}
