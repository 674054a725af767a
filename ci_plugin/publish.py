"""``contract-check publish``: register the changed contracts after a merge, references first.

Idempotent: a schema the registry already holds under the subject is reported as "already registered"
and not registered again, so a rerun of the same pipeline changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_plugin.changes import ContractFile
from ci_plugin.config import ConfigError
from registry.errors import SchemaNotFound, SubjectNotFound


@dataclass(frozen=True)
class Published:
    subject: str
    contract_file: str
    outcome: str  # "registered" or "already registered"
    version: int | None = None
    schema_id: int | None = None


def dependency_order(contracts: list[ContractFile]) -> list[ContractFile]:
    """Contracts sorted so that every contract comes after the contracts it references.

    References to subjects outside ``contracts`` are assumed registered already. Ties keep path order,
    so the order is stable from run to run. A cycle is a configuration error naming its members.
    """
    by_subject = {found.contract.subject: found for found in contracts}
    ordered: list[ContractFile] = []
    state: dict[str, str] = {}  # subject -> "visiting" | "done"

    def visit(found: ContractFile, chain: list[str]) -> None:
        subject = found.contract.subject
        if state.get(subject) == "done":
            return
        if state.get(subject) == "visiting":
            cycle = " -> ".join([*chain[chain.index(subject) :], subject])
            raise ConfigError(f"{found.yaml_path}: references: cycle between contracts: {cycle}")
        state[subject] = "visiting"
        for reference in found.contract.references:
            if reference.subject in by_subject:
                visit(by_subject[reference.subject], [*chain, subject])
        state[subject] = "done"
        ordered.append(found)

    for found in sorted(contracts, key=lambda c: c.yaml_path):
        visit(found, [])
    return ordered


def publish(client, contracts: list[ContractFile]) -> list[Published]:
    """Register each contract unless the registry already holds its schema under the subject."""
    outcomes = []
    for found in dependency_order(contracts):
        contract = found.contract
        try:
            existing = client.lookup(contract.subject, contract.schema, contract.format, contract.references)
        except (SubjectNotFound, SchemaNotFound):
            existing = None
        if existing is not None:
            outcomes.append(
                Published(
                    contract.subject,
                    found.yaml_path,
                    "already registered",
                    existing.version,
                    existing.schema_id,
                )
            )
            continue
        registered = client.register(contract)
        outcomes.append(
            Published(
                contract.subject, found.yaml_path, "registered", registered.version, registered.schema_id
            )
        )
    return outcomes
