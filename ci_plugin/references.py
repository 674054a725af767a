"""Schema references: the text of every schema a contract imports, found in the repository first."""

from __future__ import annotations

from collections.abc import Callable

from ci_plugin.changes import ContractFile
from ci_plugin.config import ConfigError

ResolveReferences = Callable[[ContractFile], dict[str, str]]


def reference_resolver(head: dict[str, ContractFile], client=None) -> ResolveReferences:
    """A function giving ``{import name: schema text}`` for a contract's references, transitively.

    A referenced subject is taken from the repository's contracts; failing that, from the registry
    (``client.get_version``) when there is one; offline a missing one is a configuration error.
    """

    def resolve(found: ContractFile) -> dict[str, str]:
        texts: dict[str, str] = {}
        pending = [(found, index, ref) for index, ref in enumerate(found.contract.references)]
        while pending:
            owner, index, ref = pending.pop()
            if ref.name in texts:
                continue
            if ref.subject in head:
                texts[ref.name] = head[ref.subject].contract.schema
                pending += [
                    (head[ref.subject], i, r) for i, r in enumerate(head[ref.subject].contract.references)
                ]
            elif client is not None:
                texts[ref.name] = client.get_version(ref.subject, ref.version).schema
            else:
                raise ConfigError(
                    f"{owner.yaml_path}: references[{index}]: subject {ref.subject} is not a contract in this "
                    "repository (offline, the registry is not asked)"
                )
        return texts

    return resolve
