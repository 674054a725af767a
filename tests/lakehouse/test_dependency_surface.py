"""The lakehouse and the meshgate composition root use only the public names of their dependencies:
no ``from x import _y`` and no ``Thing._attribute`` of a third-party module (e.g. pyiceberg's
``_dataframe_to_data_files``, dbt-duckdb's ``DuckDBConnectionManager._ENV``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"lakehouse", "meshgate", "registry", "ci_plugin", "__future__"}
SOURCES = sorted(p for package in ("lakehouse", "meshgate") for p in (ROOT / package).rglob("*.py"))


def private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    third_party: set[str] = set()  # local names bound to a third-party module or its members
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] not in OURS:
            for alias in node.names:
                third_party.add(alias.asname or alias.name)
                if alias.name.startswith("_") or any(p.startswith("_") for p in node.module.split(".")):
                    found.append(f"{path.name}:{node.lineno} from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in OURS:
                    third_party.add((alias.asname or alias.name).split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in third_party
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_of_a_dependency_is_used(path):
    assert private_uses(path) == []
