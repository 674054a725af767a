"""dbt models as consumers: which Bronze source columns each model reads, from the dbt manifest.

The manifest (``target/manifest.json``, written by ``dbt parse``) lists every source with its columns
and every model with the nodes it depends on and its SQL. Which columns a model reads is a heuristic:
the model's SQL (compiled when available, raw otherwise), with comments and string literals removed,
is split into identifiers; a column of the source counts as read when its name appears as one. A
``select *`` straight from the source (``select * from {{ source('bronze', 'table') }}``) reads every
column. The heuristic errs towards "read": a column name that the model takes from another relation
also counts. It looks at the models that depend on the source directly, not at models further down.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ci_plugin.config import ConfigError, DbtConfig

_COMMENTS_AND_STRINGS = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.DOTALL)
_JINJA_COMMENTS = re.compile(r"\{#.*?#\}", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STAR_FROM_SOURCE = r"select\s+(?:distinct\s+)?(?:\w+\.)?\*\s+from\s+\{{\{{\s*source\(\s*['\"]{source}['\"]\s*,\s*['\"]{table}['\"]\s*\)"


@dataclass(frozen=True)
class ModelUse:
    """A dbt model that reads a source table, and the source columns it reads (all when ``star``)."""

    model: str
    file: str  # the model's SQL file, relative to the dbt project
    columns: frozenset[str]
    star: bool

    def reads(self, column: str) -> bool:
        return self.star or column.lower() in self.columns


def load_manifest(root: Path, dbt: DbtConfig) -> dict:
    """The manifest named in meshgate.yaml, produced by ``dbt parse`` first when it is missing."""
    path = root / dbt.manifest
    if not path.exists() and dbt.project_dir:
        _dbt_parse(root / dbt.project_dir, path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"dbt.manifest: cannot read {dbt.manifest}: {exc.strerror} (run `dbt parse`, or set dbt.project_dir)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"dbt.manifest: {dbt.manifest} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sources"), dict):
        raise ConfigError(f"dbt.manifest: {dbt.manifest} has no 'sources': is it a dbt manifest.json?")
    return manifest


def _dbt_parse(project_dir: Path, manifest_path: Path) -> None:
    dbt = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
    target = manifest_path.parent
    done = subprocess.run(
        [dbt, "parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=project_dir,
    )
    produced = project_dir / "target" / "manifest.json"
    if done.returncode != 0 or not produced.exists():
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise ConfigError(f"dbt.project_dir: `dbt parse` failed in {project_dir}: {' | '.join(tail)}")
    if produced.resolve() != manifest_path.resolve():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, manifest_path)


def source_consumers(manifest: dict, source_name: str, table: str) -> list[ModelUse]:
    """The models that depend on source ``source_name.table``, with the columns each reads."""
    source_id = _find_source(manifest, source_name, table)
    if source_id is None:
        return []
    star = _STAR_FROM_SOURCE.format(source=re.escape(source_name), table=re.escape(table))
    uses = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or source_id not in node.get("depends_on", {}).get(
            "nodes", []
        ):
            continue
        raw = _JINJA_COMMENTS.sub(" ", node.get("raw_code") or "")
        code = _COMMENTS_AND_STRINGS.sub(" ", _JINJA_COMMENTS.sub(" ", node.get("compiled_code") or raw))
        identifiers = {word.lower() for word in _IDENTIFIER.findall(code)}
        uses.append(
            ModelUse(
                model=node.get("name", node.get("unique_id", "?")),
                file=node.get("original_file_path", ""),
                columns=frozenset(identifiers),
                star=bool(re.search(star, raw, re.IGNORECASE)),
            )
        )
    return sorted(uses, key=lambda use: use.model)


def _find_source(manifest: dict, source_name: str, table: str) -> str | None:
    for unique_id, source in manifest["sources"].items():
        if source.get("source_name") == source_name and table in (
            source.get("name"),
            source.get("identifier"),
        ):
            return unique_id
    return None
