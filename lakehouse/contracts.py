"""The contract a batch is gated against: from a contract YAML file or from the registry.

Either way the result carries everything the gate needs besides the data: the contract, its registry
identity (schema id and version; 0 and 0 for a file, "not registered"), the schema texts its
references import, and for Confluent wire-format inputs a lookup of writers' schemas by id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.references import file_references, registry_references
from registry.contract import Contract, load_contract
from registry.errors import InvalidArgument

if TYPE_CHECKING:
    from registry.client import TlsConfig

UNREGISTERED = 0
"""Schema id and version of a contract read from a file."""


@dataclass(frozen=True)
class ResolvedContract:
    """A contract with its registry identity and the schema texts it imports (dependencies first)."""

    contract: Contract
    schema_id: int
    version: int
    schema_lookup: Callable[[int], Contract] | None = None  # schema id -> writer's Contract (Confluent)
    references: dict[str, str] = field(default_factory=dict)  # import name -> schema text

    @property
    def subject(self) -> str:
        return self.contract.subject


def unregistered(contract: Contract) -> ResolvedContract:
    """A contract read from a YAML file: id and version 0; references from the YAMLs of its folder.

    A reference no YAML of the folder provides fails here, naming the contract file and the reference.
    """
    return ResolvedContract(contract, UNREGISTERED, UNREGISTERED, references=file_references(contract))


def resolve_contract(
    subject: str,
    version: int | str = "latest",
    *,
    contract_file: str | Path | None = None,
    registry: str | None = None,
    token: str | None = None,
    tls: TlsConfig | None = None,
) -> ResolvedContract:
    """The contract of ``subject`` from a YAML file (unregistered) or from the registry at ``registry``.

    Its references are resolved the same way: from the registry by subject and version, or from the
    contract YAMLs in the YAML's folder. A reference that cannot be resolved fails here, before any
    table is touched. ``tls``: how to talk TLS to the registry (None: from the environment).
    """
    if contract_file:
        contract = load_contract(contract_file)
        if contract.subject != subject:
            raise InvalidArgument(
                f"{contract_file}: is the contract of {contract.subject!r}, not of {subject!r}"
            )
        return unregistered(contract)
    if not registry:
        raise InvalidArgument(f"{subject}: name a contract file or a registry to read the contract from")
    from registry.client import RegistryClient

    with RegistryClient(registry, token=token, tls=tls) as client:
        found = client.get_version(subject, version)
        where = f"{subject} version {found.version}"
        references = registry_references(client, list(found.references), where)
    contract = Contract(
        subject=subject,
        format=found.format,
        schema=found.schema,
        references=list(found.references),
        metadata=found.metadata,
        data_metadata=found.data_metadata,
        rule_set=found.rule_set,
    )

    @functools.cache
    def lookup(schema_id: int) -> Contract:
        """Confluent records name their writer's schema id; each id is fetched once, on a short channel."""
        with RegistryClient(registry, token=token, tls=tls) as client:
            record = client.get_by_id(schema_id)
        return Contract(subject, record.format, record.schema, list(record.references), found.metadata)

    return ResolvedContract(contract, found.schema_id, found.version, lookup, references)
