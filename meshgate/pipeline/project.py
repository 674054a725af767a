"""The code location's working copy of the dbt project, under the data directory.

The contract-change sensor regenerates dbt's Bronze sources from the registry; it writes them into
this copy (``<data_dir>/dbt-project``), never into the checked-in ``dbt/``, so a repository checkout
stays clean and a deployment's sources follow its own registry. The copy is refreshed from the
checked-in project file by file (only what differs, atomically), except the sources once the sensor
generated them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lakehouse.dbt.sources import SOURCES_FILE
from meshgate.pipeline.dbt import PROJECT_INPUTS

WORKING_PROJECT = "dbt-project"
GENERATED_MARK = Path("models") / "bronze" / ".generated-from-registry"


def working_project(source: Path, data_dir: str | Path) -> Path:
    """``<data_dir>/dbt-project``, in step with ``source`` (the checked-in project); its path."""
    target = Path(data_dir).resolve() / WORKING_PROJECT
    generated = (target / GENERATED_MARK).is_file()
    wanted = set()
    for name in PROJECT_INPUTS:
        path = source / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if not file.is_file():
                continue
            relative = file.relative_to(source)
            wanted.add(relative)
            if generated and relative == SOURCES_FILE:
                continue
            _copy_if_changed(file, target / relative)
    for name in PROJECT_INPUTS:  # a file removed from the checkout leaves the copy too
        path = target / name
        for file in path.rglob("*") if path.is_dir() else []:
            relative = file.relative_to(target)
            if file.is_file() and relative not in wanted and relative not in (SOURCES_FILE, GENERATED_MARK):
                file.unlink()
    return target


def write_generated_sources(project_dir: Path, text: str) -> bool:
    """Write the sensor's generated Bronze sources into a working project when they changed;
    whether it wrote. Marked, so refreshing the copy keeps them."""
    path = Path(project_dir) / SOURCES_FILE
    (Path(project_dir) / GENERATED_MARK).parent.mkdir(parents=True, exist_ok=True)
    (Path(project_dir) / GENERATED_MARK).touch()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    _write_atomically(path, text.encode("utf-8"))
    return True


def _copy_if_changed(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        return
    _write_atomically(target, data)
    shutil.copystat(source, target)


def _write_atomically(path: Path, data: bytes) -> None:
    """Two processes (daemon, webserver) refresh the same copy: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
