"""Which contracts a change touches: added, modified, renamed or deleted between a base and the checkout.

A contract is its YAML file plus the schema file it points at; it changed when either file did. Old
and new versions are paired by subject, so a moved file is a rename, not a delete plus an add.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from ci_plugin import git
from ci_plugin.config import Config, ConfigError, ContractEntry
from registry.contract import Contract, load_contract
from registry.errors import InvalidArgument, LimitExceeded
from registry.limits import load_yaml


@dataclass
class ContractFile:
    """A contract as found in the repository (at a ref or in the working tree)."""

    contract: Contract
    yaml_path: str  # repository-relative, '/'-separated
    schema_path: str
    entry: ContractEntry


@dataclass
class ContractChange:
    status: str  # "added", "modified", "renamed" or "deleted"
    subject: str
    new: ContractFile | None  # None when deleted
    old: ContractFile | None  # at the base; None when added

    @property
    def current(self) -> ContractFile:
        """The version findings point at: the new one, or the old one for a deleted contract."""
        return self.new or self.old


def contract_paths(config: Config, files: list[str]) -> list[str]:
    return [path for path in files if config.entry_for(path) is not None]


def load_working_tree(config: Config) -> dict[str, ContractFile]:
    """Every contract in the checkout, by subject; a malformed one is a configuration error."""
    root = config.root
    by_subject: dict[str, ContractFile] = {}
    for path in contract_paths(config, git.working_tree_files(root)):
        try:
            contract = load_contract(root / path)
        except InvalidArgument as exc:
            raise ConfigError(_relative_message(exc.message, root)) from None
        found = _contract_file(contract, path, root, config)
        _add_unique(by_subject, found)
    return by_subject


def load_at_ref(config: Config, ref: str, yaml_path: str) -> ContractFile | None:
    """The contract ``yaml_path`` as it was at ``ref`` (None when absent there).

    ``load_contract`` reads from disk, so the YAML and its schema file are copied out of git into a
    scratch folder with the same layout; messages name ``REF:path`` instead of that folder.
    """
    root = config.root
    text = git.show(root, ref, yaml_path)
    if text is None:
        return None
    try:
        data = load_yaml(text, f"{ref}:{yaml_path}")
    except (yaml.YAMLError, LimitExceeded):
        data = None  # load_contract below names what is wrong and where
    schema_rel = data.get("schema") if isinstance(data, dict) else None
    with tempfile.TemporaryDirectory(prefix="contract-check-") as scratch:
        scratch_root = Path(scratch)
        _write(scratch_root / yaml_path, text)
        if isinstance(schema_rel, str):
            schema_path = _normalise(PurePosixPath(yaml_path).parent / schema_rel)
            schema_text = git.show(root, ref, schema_path)
            if schema_text is not None:
                _write(scratch_root / schema_path, schema_text)
        try:
            contract = load_contract(scratch_root / yaml_path)
        except InvalidArgument as exc:
            message = exc.message.replace(str(scratch_root) + "/", f"{ref[:12]}:")
            raise ConfigError(message) from None
        return _contract_file(contract, yaml_path, scratch_root, config)


def find_changes(config: Config, base: str, head: dict[str, ContractFile]) -> list[ContractChange]:
    """The contracts that differ between ``base`` and the working tree (``head``), in path order."""
    changes = git.changed_files(config.root, base)
    at_base: dict[str, ContractFile | None] = {}  # a renamed file is looked at by both loops below

    def old_at_base(path: str) -> ContractFile | None:
        if path not in at_base:
            at_base[path] = load_at_ref(config, base, path)
        return at_base[path]

    changed_new = {c.new_path for c in changes if c.new_path}
    renamed_from = {c.new_path: c.old_path for c in changes if c.status == "R"}
    results: dict[str, ContractChange] = {}
    for subject, new in head.items():
        if new.yaml_path not in changed_new and new.schema_path not in changed_new:
            continue
        old = old_at_base(renamed_from.get(new.yaml_path, new.yaml_path))
        if old is None or old.contract.subject != subject:
            results[subject] = ContractChange("added", subject, new, None)
            if old is not None and old.contract.subject not in head:  # the file now names another subject
                results[old.contract.subject] = ContractChange("deleted", old.contract.subject, None, old)
        else:
            moved = old.yaml_path != new.yaml_path or old.schema_path != new.schema_path
            results[subject] = ContractChange("renamed" if moved else "modified", subject, new, old)
    for change in changes:
        gone = change.old_path
        if gone is None or change.status not in "DR" or config.entry_for(gone) is None:
            continue
        old = old_at_base(gone)
        if old is None:
            continue
        if old.contract.subject in head:
            now = head[old.contract.subject]
            if old.contract.subject not in results or results[old.contract.subject].status == "added":
                results[old.contract.subject] = ContractChange("renamed", old.contract.subject, now, old)
        else:
            results[old.contract.subject] = ContractChange("deleted", old.contract.subject, None, old)
    return sorted(results.values(), key=lambda c: c.current.yaml_path)


def _contract_file(contract: Contract, yaml_path: str, root: Path, config: Config) -> ContractFile:
    schema_path = Path(contract.schema_file).resolve()
    try:
        schema_rel = schema_path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ConfigError(f"{yaml_path}: schema: {contract.schema_file} is outside the repository") from None
    return ContractFile(contract, yaml_path, schema_rel, config.entry_for(yaml_path))


def _add_unique(by_subject: dict[str, ContractFile], found: ContractFile) -> None:
    other = by_subject.get(found.contract.subject)
    if other is not None:
        raise ConfigError(
            f"{found.yaml_path}: subject: {found.contract.subject} is already the subject of {other.yaml_path}"
        )
    by_subject[found.contract.subject] = found


def _relative_message(message: str, root: Path) -> str:
    return message.replace(str(root) + "/", "")


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
