"""Differential test: our WIRE and WIRE_JSON rule sets against the real ``buf breaking``.

A seeded generator writes random proto3 and proto2 files (messages, enums, maps, oneofs, proto3
optional, proto2 required and defaults, reserved numbers and names, json_name) and applies random mutations (type, label, oneof, name,
json_name, deletions with and without reservations, package, enum values ...). Every case is one file
with its own package, so one ``buf breaking`` call per category checks all cases (the binary costs
~100 ms a call). We compare, per case, the set of rule ids buf reports with ours.

buf comes from the npm package ``@bufbuild/buf`` installed into ``<repo>/.tools`` (git-ignored). The
test skips when npm is missing, except under ``CI=true``, where it fails.

Known deviations (listed in KNOWN_DEVIATIONS and excluded from the agreement rate only when their
reason applies): none are expected for generated proto3 files; FILE_SAME_SYNTAX is ours alone (buf has
it in its FILE and PACKAGE categories only) and the generator never changes syntax.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from registry.compat import Direction, get_format

ROOT = Path(__file__).resolve().parents[3]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
CASES = int(os.environ.get("MESHGATE_BUF_DIFF_CASES", "100"))
SEED = int(os.environ.get("MESHGATE_BUF_DIFF_SEED", "20261125"))
FORMAT = get_format("PROTOBUF")

# rule id -> why we differ from buf on purpose; a difference on any other rule fails the test.
KNOWN_DEVIATIONS: dict[str, str] = {
    "FILE_SAME_SYNTAX": "ours is in WIRE/WIRE_JSON (proto2 and proto3 decode differently); buf: FILE/PACKAGE only",
}


@pytest.fixture(scope="session")
def buf_binary() -> Path:
    if BUF.exists():
        return BUF
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is needed to install @bufbuild/buf for the differential test (CI=true)")
        pytest.skip("npm not found: cannot install @bufbuild/buf")
    subprocess.run(
        [npm, "install", "--no-save", "--prefix", str(ROOT / ".tools"), "@bufbuild/buf"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert BUF.exists(), f"npm install did not produce {BUF}"
    return BUF


# -- a small .proto model, rendered to text ------------------------------------------------------

SCALARS = [
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool", "string", "bytes",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double",
]  # fmt: skip
MAP_KEYS = ["string", "int32", "int64", "bool"]


@dataclass
class Field:
    name: str
    number: int
    type: str  # scalar name, or a message / enum name of the same file
    label: str = ""  # "" (proto3 implicit presence), "optional", "required", "repeated", "map"
    map_key: str = "string"
    oneof: str | None = None
    json_name: str | None = None
    default: str | None = None  # proto2 only, already in .proto syntax ("5", "\"text\"", "nan")


@dataclass
class Enum:
    path: str  # name relative to the package: "E1", or "M2.E1" when nested
    values: list[tuple[str, int]] = field(default_factory=list)
    reserved_numbers: list[int] = field(default_factory=list)
    reserved_names: list[str] = field(default_factory=list)


@dataclass
class Message:
    path: str  # name relative to the package: "M1", or "M1.N2" when nested
    fields: list[Field] = field(default_factory=list)
    reserved_numbers: list[int] = field(default_factory=list)
    reserved_names: list[str] = field(default_factory=list)
    nested: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)


@dataclass
class ProtoFile:
    package: str
    messages: list[Message]
    enums: list[Enum]
    syntax: str = "proto3"

    def all_messages(self) -> list[Message]:
        out, pending = [], list(self.messages)
        while pending:
            message = pending.pop(0)
            out.append(message)
            pending.extend(message.nested)
        return out

    def all_enums(self) -> list[Enum]:
        return self.enums + [e for m in self.all_messages() for e in m.enums]

    def type_names(self) -> list[str]:
        return SCALARS + [e.path for e in self.all_enums()] + [m.path for m in self.all_messages()]


def render(file: ProtoFile) -> str:
    lines = [f'syntax = "{file.syntax}";', f"package {file.package};", ""]
    for enum in file.enums:
        lines += _enum(enum, "")
    for message in file.messages:
        lines += _message(message, file, "")
    return "\n".join(lines) + "\n"


def _enum(enum: Enum, indent: str) -> list[str]:
    lines = [f"{indent}enum {enum.path.rpartition('.')[2]} {{"]
    lines += _reserved(enum.reserved_numbers, enum.reserved_names, indent)
    lines += [f"{indent}  {name} = {number};" for name, number in enum.values]
    return [*lines, f"{indent}}}"]


def _message(message: Message, file: ProtoFile, indent: str) -> list[str]:
    lines = [f"{indent}message {message.path.rpartition('.')[2]} {{"]
    lines += _reserved(message.reserved_numbers, message.reserved_names, indent)
    oneofs: dict[str, list[Field]] = {}
    for f in message.fields:
        if f.oneof:
            oneofs.setdefault(f.oneof, []).append(f)
        else:
            lines.append(f"{indent}  {_field(f, file)}")
    for name, members in oneofs.items():
        lines.append(f"{indent}  oneof {name} {{")
        lines += [f"{indent}    {_field(f, file, in_oneof=True)}" for f in members]
        lines.append(f"{indent}  }}")
    for enum in message.enums:
        lines += _enum(enum, indent + "  ")
    for nested in message.nested:
        lines += _message(nested, file, indent + "  ")
    return [*lines, f"{indent}}}"]


def _reserved(numbers: list[int], names: list[str], indent: str) -> list[str]:
    out = []
    if numbers:
        out.append(f"{indent}  reserved {', '.join(str(n) for n in sorted(numbers))};")
    if names:
        out.append(f"{indent}  reserved {', '.join(json.dumps(n) for n in sorted(names))};")
    return out


def _field(f: Field, file: ProtoFile, in_oneof: bool = False) -> str:
    options = [f"default = {f.default}"] if f.default is not None else []
    options += [f'json_name = "{f.json_name}"'] if f.json_name else []
    option = f" [{', '.join(options)}]" if options else ""
    type_name = f.type if f.type in SCALARS else f".{file.package}.{f.type}"  # no scope surprises
    if f.label == "map":
        return f"map<{f.map_key}, {type_name}> {f.name} = {f.number}{option};"
    label = "" if in_oneof else f.label or ("optional" if file.syntax == "proto2" else "")
    return f"{label} {type_name} {f.name} = {f.number}{option};".lstrip()


class Generator:
    """Random files and mutations that always compile (checked: every case must parse)."""

    def __init__(self, rng: random.Random, case: int):
        self.rng = rng
        self.case = case
        self.counter = 0
        self.syntax = "proto3"

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def file(self) -> ProtoFile:
        self.syntax = self.rng.choice(["proto3", "proto3", "proto2"])
        enums = [self.enum(self.fresh("E")) for _ in range(self.rng.randint(1, 2))]
        messages = [Message(self.fresh("M")) for _ in range(self.rng.randint(1, 3))]
        for message in messages:
            if self.rng.random() < 0.3:
                message.nested.append(Message(f"{message.path}.{self.fresh('N')}"))
            if self.rng.random() < 0.3:  # an enum of the same short name: buf allows swapping to it
                model = self.rng.choice(enums)
                copy = Enum(f"{message.path}.{model.path}", list(model.values))
                if self.rng.random() < 0.5:
                    copy.values.append((f"{model.path}_EXTRA", len(copy.values)))
                elif len(copy.values) > 1:
                    copy.values.pop()
                message.enums.append(copy)
        file = ProtoFile(f"c{self.case}", messages, enums, self.syntax)
        types = file.type_names()
        for message in file.all_messages():
            for number in range(1, self.rng.randint(2, 7)):
                message.fields.append(self.field(number, types))
            if self.rng.random() < 0.3:
                members = [f for f in message.fields if f.label in ("", "optional")]
                for f in members[: self.rng.randint(1, 2)]:
                    f.oneof = "choice"
            if self.rng.random() < 0.3:
                message.reserved_numbers = [20 + self.rng.randint(0, 5)]
                message.reserved_names = [self.fresh("gone_")]
        return file

    def enum(self, name: str) -> Enum:
        values = [(f"{name}_V{i}", i) for i in range(self.rng.randint(1, 4))]
        enum = Enum(name, values)
        if self.rng.random() < 0.3:
            enum.reserved_numbers, enum.reserved_names = [10], [f"{name}_OLD"]
        return enum

    def labels(self) -> list[str]:
        if self.syntax == "proto2":
            return ["optional", "optional", "required", "repeated", "map"]
        return ["", "", "optional", "repeated", "map"]

    def field(self, number: int, types: list[str]) -> Field:
        label = self.rng.choice(self.labels())
        kind = self.rng.choice(types)
        json_name = self.fresh("j") if self.rng.random() < 0.15 else None
        key = self.rng.choice(MAP_KEYS)
        new = Field(self.fresh("f_"), number, kind, label, key, None, json_name)
        if self.rng.random() < 0.4:
            new.default = self.default_for(new)
        return new

    def default_for(self, f: Field) -> str | None:
        """A random explicit default, where proto2 allows one (singular scalars; not enums here)."""
        if self.syntax != "proto2" or f.label in ("repeated", "map") or f.type not in SCALARS:
            return None
        if f.type == "bool":
            return self.rng.choice(["true", "false"])
        if f.type in ("string", "bytes"):
            return json.dumps(self.rng.choice(["", "a", "b"]))
        if f.type in ("float", "double"):
            return self.rng.choice(["0", "1.5", "-2", "inf", "nan"])
        low = 0 if f.type.startswith(("uint", "fixed")) else -2
        return str(self.rng.randint(low, 2))

    # -- mutations --------------------------------------------------------------------------------

    def mutate(self, file: ProtoFile) -> tuple[ProtoFile, list[str]]:
        new = copy.deepcopy(file)
        done = []
        for _ in range(self.rng.randint(1, 2)):
            name = self.rng.choice(MUTATIONS)
            if getattr(self, name)(new):
                done.append(name)
        return new, done

    def _pick_field(self, file: ProtoFile, where=lambda f: True):
        options = [(m, f) for m in file.all_messages() for f in m.fields if where(f)]
        return self.rng.choice(options) if options else (None, None)

    def change_type(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file)
        if f is None:
            return False
        f.type = self.rng.choice(file.type_names())
        f.default = self.default_for(f) if self.rng.random() < 0.5 else None
        return True

    def swap_enum(self, file: ProtoFile) -> bool:
        """Point an enum field at another enum with the same short name."""
        enums = file.all_enums()
        short = {e.path: e.path.rpartition(".")[2] for e in enums}
        message, f = self._pick_field(
            file,
            lambda f: f.type in short and any(p != f.type and s == short[f.type] for p, s in short.items()),
        )
        if f is None:
            return False
        f.type = self.rng.choice([p for p, s in short.items() if p != f.type and s == short[f.type]])
        return True

    def delete_field(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file)
        if f is None:
            return False
        message.fields.remove(f)
        choice = self.rng.choice(["none", "number", "name", "both"])
        if choice in ("number", "both"):
            message.reserved_numbers.append(f.number)
        if choice in ("name", "both"):
            message.reserved_names.append(f.name)
        return True

    def rename_field(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file)
        if f is None:
            return False
        f.name = self.fresh("r_")
        return True

    def change_json_name(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file)
        if f is None:
            return False
        f.json_name = None if f.json_name else self.fresh("j")
        return True

    def change_label(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file, lambda f: f.oneof is None)
        if f is None:
            return False
        f.label = self.rng.choice([x for x in self.labels() if x != f.label])
        if f.label in ("repeated", "map"):
            f.default = None
        return True

    def change_map_key(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file, lambda f: f.label == "map")
        if f is None:
            return False
        f.map_key = self.rng.choice([k for k in MAP_KEYS if k != f.map_key])
        return True

    def move_oneof(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file, lambda f: f.label in ("", "optional") or f.oneof is not None)
        if f is None:
            return False
        f.oneof = None if f.oneof else self.rng.choice(["choice", "other"])
        return True

    def change_default(self, file: ProtoFile) -> bool:
        message, f = self._pick_field(file, lambda f: self.default_for(f) is not None)
        if f is None:
            return False
        f.default = None if f.default is not None and self.rng.random() < 0.3 else self.default_for(f)
        return True

    def add_field(self, file: ProtoFile) -> bool:
        message = self.rng.choice(file.all_messages())
        used = {f.number for f in message.fields} | set(message.reserved_numbers)
        number = next(n for n in range(1, 100) if n not in used)
        message.fields.append(self.field(number, SCALARS))
        return True

    def delete_message(self, file: ProtoFile) -> bool:
        """Delete a message (top-level or nested) that no field refers to, nested types included."""
        used = {f.type for m in file.all_messages() for f in m.fields}

        def unused(m: Message) -> bool:
            return not any(t == m.path or t.startswith(m.path + ".") for t in used)

        parents = [(None, file.messages)] + [(m, m.nested) for m in file.all_messages()]
        options = [(siblings, m) for _, siblings in parents for m in siblings if unused(m)]
        options = [(s, m) for s, m in options if s is not file.messages or len(file.messages) > 1]
        if not options:
            return False
        siblings, message = self.rng.choice(options)
        siblings.remove(message)
        return True

    def delete_enum_value(self, file: ProtoFile) -> bool:
        enum = self.rng.choice(file.all_enums())
        if len(enum.values) < 2:
            return False
        name, number = self.rng.choice(enum.values[1:])  # proto3: the first value must stay 0
        enum.values.remove((name, number))
        choice = self.rng.choice(["none", "number", "name", "both"])
        if choice in ("number", "both"):
            enum.reserved_numbers.append(number)
        if choice in ("name", "both"):
            enum.reserved_names.append(name)
        return True

    def rename_enum_value(self, file: ProtoFile) -> bool:
        enum = self.rng.choice(file.all_enums())
        index = self.rng.randrange(len(enum.values))
        short = enum.path.rpartition(".")[2]
        enum.values[index] = (self.fresh(f"{short}_R"), enum.values[index][1])
        return True

    def drop_reservations(self, file: ProtoFile) -> bool:
        holders = [
            x for x in file.all_messages() + file.all_enums() if x.reserved_numbers or x.reserved_names
        ]
        if not holders:
            return False
        holder = self.rng.choice(holders)
        holder.reserved_numbers, holder.reserved_names = [], []
        return True

    def change_package(self, file: ProtoFile) -> bool:
        file.package = f"{file.package}.v2"
        return True


MUTATIONS = [
    "change_type", "change_type", "delete_field", "delete_field", "rename_field", "change_json_name",
    "change_label", "change_map_key", "move_oneof", "add_field", "delete_message", "delete_enum_value",
    "rename_enum_value", "drop_reservations", "change_package", "change_default", "change_default",
    "swap_enum", "swap_enum",
]  # fmt: skip


# -- the comparison ------------------------------------------------------------------------------


def generate_cases(count: int, seed: int) -> list[tuple[str, str, list[str]]]:
    rng = random.Random(seed)
    cases = []
    for case in range(count):
        generator = Generator(rng, case)
        old = generator.file()
        new, mutations = generator.mutate(old)
        cases.append((render(old), render(new), mutations))
    return cases


def run_buf(buf: Path, workdir: Path, category: str) -> dict[str, set[str]]:
    """Rule ids buf reports per case file, in one call for all cases (buf.yaml v2 rule sets)."""
    config = json.dumps({"version": "v2", "breaking": {"use": [category]}})
    result = subprocess.run(
        [str(buf), "breaking", ".", "--against", "../old", "--config", config,
         "--against-config", '{"version": "v2"}', "--error-format", "json"],
        cwd=workdir / "new", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 100), result.stderr
    found: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        annotation = json.loads(line)
        found.setdefault(Path(annotation["path"]).name, set()).add(annotation["type"])
    return found


def ours(old_text: str, new_text: str, ruleset: str) -> set[str]:
    old, new = FORMAT.parse(old_text), FORMAT.parse(new_text)
    return {v.rule for v in FORMAT.check(old, new, Direction.BACKWARD, ruleset)}


@pytest.mark.parametrize("category", ["WIRE", "WIRE_JSON"])
def test_rule_sets_agree_with_buf_breaking(buf_binary, tmp_path, category):
    cases = generate_cases(CASES, SEED)
    for side in ("old", "new"):
        (tmp_path / side).mkdir()
    for i, (old_text, new_text, _) in enumerate(cases):
        (tmp_path / "old" / f"case_{i}.proto").write_text(old_text)
        (tmp_path / "new" / f"case_{i}.proto").write_text(new_text)
    theirs = run_buf(buf_binary, tmp_path, category)

    verdicts_agree = rules_agree = breaking = 0
    unexplained = []
    for i, (old_text, new_text, mutations) in enumerate(cases):
        mine = ours(old_text, new_text, category)
        buf_rules = theirs.get(f"case_{i}.proto", set())
        breaking += bool(buf_rules)
        verdicts_agree += bool(mine) == bool(buf_rules)
        rules_agree += mine == buf_rules
        differing = mine ^ buf_rules
        if differing - set(KNOWN_DEVIATIONS):
            unexplained.append(f"case_{i} {mutations}: ours {sorted(mine)} buf {sorted(buf_rules)}\n"
                               f"--- old\n{old_text}--- new\n{new_text}")  # fmt: skip
    print(
        f"\n{category}: {len(cases)} cases ({breaking} breaking per buf), verdicts agree "
        f"{verdicts_agree}/{len(cases)} = {verdicts_agree / len(cases):.1%}, rule ids agree "
        f"{rules_agree}/{len(cases)} = {rules_agree / len(cases):.1%}"
    )
    assert breaking >= len(cases) // 4, "the generator should produce a fair share of breaking changes"
    assert not unexplained, "\n".join(unexplained[:5])


def test_buf_rule_cases_agree_with_buf_breaking(buf_binary, tmp_path):
    """The hand-written case of every WIRE/WIRE_JSON rule (proto2 required and defaults, nested maps,
    enums, reserved ranges) gives buf's rule ids too. One buf call per rule set: each case's package
    gets a unique prefix so that the cases can share one module."""
    cases_dir = Path(__file__).parent / "protobuf_cases"
    cases = {}
    for i, case in enumerate(sorted(p for p in cases_dir.iterdir() if p.is_dir())):
        spec = json.loads((case / "case.json").read_text())
        if spec["ruleset"] is None:
            continue  # Confluent semantics: buf has no such category
        texts = [(case / f"{side}.proto").read_text() for side in ("old", "new")]
        texts = [re.sub(r"^package ", f"package rc{i}.", text, flags=re.M) for text in texts]
        cases[f"case_{i}.proto"] = (case.name, spec["ruleset"], *texts)
        for side, text in zip(("old", "new"), texts, strict=True):
            target = tmp_path / spec["ruleset"] / side / f"case_{i}.proto"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    theirs = {
        category: run_buf(buf_binary, tmp_path / category, category) for category in ("WIRE", "WIRE_JSON")
    }
    deviations = []
    for file_name, (name, ruleset, old_text, new_text) in cases.items():
        mine, buf_rules = ours(old_text, new_text, ruleset), theirs[ruleset].get(file_name, set())
        if mine != buf_rules:
            deviations.append((name, sorted(mine - buf_rules), sorted(buf_rules - mine)))
    print(f"\nrule cases: {len(cases)} compared with buf, deviations: {deviations}")
    assert len(cases) >= 18
    assert all(set(ours_only + buf_only) <= set(KNOWN_DEVIATIONS) for _, ours_only, buf_only in deviations), (
        deviations
    )
