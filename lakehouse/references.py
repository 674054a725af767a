"""The schema texts a contract imports from other subjects (its ``references``), resolved recursively.

A contract whose Avro record uses another subject's named type, or whose ``.proto`` imports another
subject's file, cannot be mapped, decoded or validated without those texts. They come from the
registry (``subject`` at ``version``) or, for contract YAML files read offline, from a contract YAML
of the referenced subject in the same folder. Either way the result maps import names to texts,
dependencies first, the order Avro needs to know a named type before a schema uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from registry.contract import Contract, Reference, load_contract
from registry.errors import (
    InvalidArgument,
    SubjectNotFound,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionSoftDeleted,
)
from registry.limits import load_yaml

_MISSING = (SubjectNotFound, SubjectSoftDeleted, VersionNotFound, VersionSoftDeleted)


def resolve_references(
    references: list[Reference], fetch: Callable[[Reference], tuple[str, list[Reference]]]
) -> dict[str, str]:
    """``{import name: schema text}`` of ``references`` and of what they reference, dependencies first.

    ``fetch(reference) -> (schema text, its own references)``; a cycle is followed once.
    """
    texts: dict[str, str] = {}

    def visit(reference: Reference, trail: tuple[str, ...]) -> None:
        if reference.name in texts or reference.name in trail:
            return
        text, inner = fetch(reference)
        for nested in inner:
            visit(nested, (*trail, reference.name))
        texts[reference.name] = text

    for reference in references:
        visit(reference, ())
    return texts


def registry_references(client, references: list[Reference], where: str) -> dict[str, str]:
    """The texts of ``references`` from the registry (a ``registry.client.RegistryClient``).

    ``where`` names the contract in the error a missing reference raises.
    """

    def fetch(reference: Reference) -> tuple[str, list[Reference]]:
        try:
            found = client.get_version(reference.subject, reference.version)
        except _MISSING as exc:
            raise InvalidArgument(f"{where}: {_describe(reference)} cannot be resolved: {exc}") from None
        return found.schema, list(found.references)

    return resolve_references(references, fetch)


def file_references(contract: Contract) -> dict[str, str]:
    """The texts of a contract YAML's references, from the contract YAMLs of the same folder.

    Files carry no version: the YAML of the referenced subject stands for the version named. A
    reference no YAML of the folder provides fails, naming the contract file and the reference.
    """
    if not contract.references:
        return {}
    folder = Path(contract.source_file).parent if contract.source_file else Path.cwd()
    paths = _contract_paths_by_subject(folder)

    def fetch(reference: Reference) -> tuple[str, list[Reference]]:
        path = paths.get(reference.subject)
        if path is None:
            raise InvalidArgument(
                f"{contract.source_file or contract.subject}: {_describe(reference)} cannot be resolved: "
                f"no contract YAML with subject {reference.subject!r} in {folder}"
            )
        found = load_contract(path)  # a broken one says where it is broken
        return found.schema, list(found.references)

    return resolve_references(contract.references, fetch)


def _contract_paths_by_subject(folder: Path) -> dict[str, Path]:
    """The first contract YAML of ``folder`` (by name) for each subject its files name."""
    found: dict[str, Path] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data = load_yaml(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # names no subject we can read; a reference to it fails by subject
        if isinstance(data, dict) and isinstance(data.get("subject"), str):
            found.setdefault(data["subject"], path)
    return found


def _describe(reference: Reference) -> str:
    return f"reference {reference.name!r} (subject {reference.subject!r} version {reference.version})"
