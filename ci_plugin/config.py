"""``meshgate.yaml``: which files are contracts, where the registry and the dbt manifest are.

The file sits at the repository root. It is read as a YAML node tree (not plain values) so every
error names the file, the line and the key path, e.g. ``meshgate.yaml:7: contracts[1].dbt_source: ...``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from registry.errors import LimitExceeded
from registry.limits import check_yaml_depth

CONFIG_FILE = "meshgate.yaml"
GLOB_CHARS = re.compile(r"[*?\[]")


class ConfigError(Exception):
    """The configuration (or a contract it names) is malformed: exit code 2."""


@dataclass(frozen=True)
class ContractEntry:
    """One ``contracts`` item: a path or glob of contract YAML files, relative to the repository root."""

    pattern: str
    dbt_source: str | None = None  # "source_name.table", overrides the naming rule for this contract
    line: int = 0

    def matches(self, path: str) -> bool:
        return glob_regex(self.pattern).fullmatch(path) is not None


@dataclass(frozen=True)
class DbtConfig:
    manifest: str  # path of manifest.json, relative to the repository root
    project_dir: str | None = None  # when set and the manifest is missing, `dbt parse` runs there
    source: str = "bronze"  # the dbt source that holds the Bronze tables


@dataclass(frozen=True)
class Config:
    path: Path
    registry: str | None
    default_branch: str
    contracts: tuple[ContractEntry, ...]
    dbt: DbtConfig | None

    @property
    def root(self) -> Path:
        return self.path.parent

    def entry_for(self, path: str) -> ContractEntry | None:
        """The first entry whose pattern matches ``path`` (a repository-relative contract YAML)."""
        return next((entry for entry in self.contracts if entry.matches(path)), None)


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern:
    """A regex for a ``/``-separated glob: ``*`` and ``?`` stay within a folder, ``**/`` spans folders."""
    out = []
    segments = pattern.strip("/").split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        i = 0
        while i < len(segment):
            char = segment[i]
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[" and "]" in segment[i + 1 :]:
                end = segment.index("]", i + 1)
                out.append("[" + segment[i + 1 : end].replace("!", "^", 1) + "]")
                i = end
            else:
                out.append(re.escape(char))
            i += 1
        if not last:
            out.append("/")
    return re.compile("".join(out))


def load_config(path: str | Path) -> Config:
    path = Path(path)
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read the configuration: {exc.strerror}") from None
    try:
        check_yaml_depth(text, shown)  # before yaml.compose, which recurses once per level
        root = yaml.compose(text)
    except LimitExceeded as exc:
        raise ConfigError(exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    reader = _Reader(shown)
    top = reader.mapping(root, "", {"registry", "default_branch", "contracts", "dbt"}, line=1)
    contracts_node = top.get("contracts")
    if contracts_node is None:
        raise ConfigError(f"{shown}:1: contracts: required (a list of contract YAML paths or globs)")
    return Config(
        path=path.resolve(),
        registry=reader.string(top["registry"], "registry") if "registry" in top else None,
        default_branch=reader.string(top["default_branch"], "default_branch")
        if "default_branch" in top
        else "main",
        contracts=reader.contracts(contracts_node),
        dbt=reader.dbt(top["dbt"]) if "dbt" in top else None,
    )


def _shown(path: Path) -> str:
    """The path as a person running the command would type it: relative to the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Reader:
    """Turns YAML nodes into values, raising ``ConfigError`` with file, line and key path."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, node: yaml.Node | None, key: str, problem: str, line: int | None = None) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else line
        return ConfigError(f"{self.path}:{line}: {key or '(top level)'}: {problem}")

    def mapping(self, node: yaml.Node | None, key: str, allowed: set[str], line: int = 1) -> dict:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "expected a mapping", line)
        values = {}
        for key_node, value_node in node.value:
            name = key_node.value
            where = f"{key}.{name}" if key else name
            if name not in allowed:
                raise self.fail(key_node, where, f"unknown key; expected one of {', '.join(sorted(allowed))}")
            values[name] = value_node
        return values

    def string(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value:
            raise self.fail(node, key, "expected a non-empty string")
        return node.value

    def contracts(self, node: yaml.Node) -> tuple[ContractEntry, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, "contracts", "expected a non-empty list of paths or globs")
        entries = []
        for index, item in enumerate(node.value):
            key = f"contracts[{index}]"
            if isinstance(item, yaml.ScalarNode):
                entries.append(ContractEntry(self.string(item, key), line=item.start_mark.line + 1))
                continue
            fields = self.mapping(item, key, {"path", "dbt_source"})
            if "path" not in fields:
                raise self.fail(item, f"{key}.path", "required")
            pattern = self.string(fields["path"], f"{key}.path")
            dbt_source = None
            if "dbt_source" in fields:
                dbt_source = self.string(fields["dbt_source"], f"{key}.dbt_source")
                if GLOB_CHARS.search(pattern):
                    raise self.fail(
                        fields["dbt_source"], f"{key}.dbt_source", "only allowed on a single file, not a glob"
                    )
                if not re.fullmatch(r"\w+\.\w+", dbt_source):
                    raise self.fail(
                        fields["dbt_source"], f"{key}.dbt_source", "expected 'source_name.table_name'"
                    )
            entries.append(ContractEntry(pattern, dbt_source, line=item.start_mark.line + 1))
        return tuple(entries)

    def dbt(self, node: yaml.Node) -> DbtConfig:
        fields = self.mapping(node, "dbt", {"manifest", "project_dir", "source"})
        if "manifest" not in fields:
            raise self.fail(node, "dbt.manifest", "required (path of the dbt manifest.json)")
        return DbtConfig(
            manifest=self.string(fields["manifest"], "dbt.manifest"),
            project_dir=self.string(fields["project_dir"], "dbt.project_dir")
            if "project_dir" in fields
            else None,
            source=self.string(fields["source"], "dbt.source") if "source" in fields else "bronze",
        )
