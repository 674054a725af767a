"""Differential test: our Avro verdicts against the ``avro`` package's ReaderWriterCompatibilityChecker.

Hypothesis generates random record schemas (primitives, nested records, enums, fixed, decimals,
arrays, maps, unions, defaults, namespaces) and random mutations, then both engines judge the pair in
both directions. Where the avro checker departs from the specification we do not copy it: each such
case is listed in ``KNOWN_DEVIATIONS`` with the specification section, recognised by a test that shows
the avro checker agrees once the difference is taken out, and left out of the comparison. Every other
disagreement fails the test. Run with ``-s`` to see the agreement rate. Along the way, our Parsing
Canonical Form is compared with fastavro's on every generated schema.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.compat import Direction, get_format
from registry.errors import InvalidSchema

AVRO = get_format("AVRO")

KNOWN_DEVIATIONS = {
    "decimal": (
        "Logical Types > Decimal: two decimal schemas match only if their scales and precisions match; "
        "the avro checker ignores logical types and accepts any two decimals over the same type."
    ),
    "relative_alias": (
        "Aliases: an alias may be relative to the namespace of the name it aliases; the avro checker "
        'compares the raw alias string with the writer\'s full name, so "aliases": ["Old"] in namespace '
        "n does not match writer n.Old."
    ),
}

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
PROMOTIONS = {"int": ["long", "float", "double"], "long": ["float", "double"], "float": ["double"]}
PROMOTIONS.update({"string": ["bytes"], "bytes": ["string"]})


class SchemaGenerator:
    """Random but valid Avro schemas as JSON-ready dicts; named types get fresh names."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def type(self, depth: int, allow_union: bool = True) -> object:
        roll = self.rnd.random()
        if depth <= 0 or roll < 0.45:
            return self.rnd.choice(PRIMITIVES[1:])
        if roll < 0.55:
            return self.record(depth - 1, self.rnd.randint(1, 3))
        if roll < 0.63:
            return self.enum()
        if roll < 0.68:
            return {"type": "fixed", "name": self.fresh("F"), "size": self.rnd.choice([4, 8])}
        if roll < 0.72:
            return {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": 9,
                "scale": self.rnd.choice([0, 2]),
            }
        if roll < 0.8:
            return {"type": "array", "items": self.type(depth - 1)}
        if roll < 0.87 or not allow_union:
            return {"type": "map", "values": self.type(depth - 1)}
        return self.union(depth - 1)

    def enum(self) -> dict:
        symbols = ["A", "B", "C", "D"][: self.rnd.randint(1, 4)]
        schema = {"type": "enum", "name": self.fresh("E"), "symbols": symbols}
        if self.rnd.random() < 0.3:
            schema["default"] = symbols[0]
        return schema

    def union(self, depth: int) -> list:
        branches: list = ["null"] if self.rnd.random() < 0.6 else []
        kinds = {"null"} if branches else set()
        for _ in range(self.rnd.randint(1, 3)):
            branch = self.type(depth, allow_union=False)
            kind = kind_of(branch)
            if kind not in kinds:
                kinds.add(kind)
                branches.append(branch)
        return branches

    def record(self, depth: int, field_count: int, namespace: str | None = None) -> dict:
        schema: dict = {"type": "record", "name": self.fresh("R"), "fields": []}
        if namespace:
            schema["namespace"] = namespace
        for _ in range(field_count):
            schema["fields"].append(self.field(depth))
        return schema

    def field(self, depth: int) -> dict:
        type_ = self.type(depth)
        result = {"name": self.fresh("f"), "type": type_}
        if self.rnd.random() < 0.4:
            result["default"] = default_for(type_)
        return result


def kind_of(schema: object) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return schema["name"] if schema["type"] in ("record", "enum", "fixed") else schema["type"]


def default_for(schema: object) -> object:
    """A valid default for ``schema`` (for a union: a value of its first branch)."""
    if isinstance(schema, list):
        return default_for(schema[0])
    kind = schema if isinstance(schema, str) else schema["type"]
    return (
        {
            "null": None,
            "boolean": False,
            "int": 1,
            "long": 2,
            "float": 0.5,
            "double": 1.5,
            "bytes": "b",
            "string": "s",
            "array": [],
            "map": {},
        }.get(kind)
        if kind not in ("record", "enum", "fixed")
        else _named_default(schema)
    )


def _named_default(schema: dict) -> object:
    if schema["type"] == "enum":
        return schema["symbols"][0]
    if schema["type"] == "fixed":
        return "\u0000" * schema["size"]
    return {f["name"]: default_for(f["type"]) for f in schema["fields"]}


def nodes(schema: object, kind: str) -> list:
    """Every dict (or list, for unions) of ``kind`` in the schema tree."""
    found = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            if kind == "union":
                found.append(node)
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("type") == kind:
                found.append(node)
            stack.extend(f["type"] for f in node.get("fields", []))
            stack.extend(node[k] for k in ("items", "values") if k in node)
    return found


class Mutator:
    """Random schema changes of the kinds people make: fields, types, symbols, branches, names."""

    def __init__(self, generator: SchemaGenerator):
        self.gen = generator
        self.rnd = generator.rnd

    def mutate(self, schema: dict) -> str:
        operations = [
            self.add_field,
            self.remove_field,
            self.change_type,
            self.toggle_default,
            self.rename_field,
        ]
        operations += [self.change_enum, self.change_union, self.rename_type, self.change_fixed_or_decimal]
        operation = self.rnd.choice(operations)
        return operation(schema) or "no-op"

    def record(self, schema: dict) -> dict:
        return self.rnd.choice(nodes(schema, "record"))

    def add_field(self, schema):
        self.record(schema)["fields"].append(self.gen.field(1))
        return "add_field"

    def remove_field(self, schema):
        record = self.record(schema)
        if len(record["fields"]) > 1:
            record["fields"].pop(self.rnd.randrange(len(record["fields"])))
            return "remove_field"

    def change_type(self, schema):
        field = self.rnd.choice(self.record(schema)["fields"])
        old = field["type"]
        if isinstance(old, str) and old in PROMOTIONS and self.rnd.random() < 0.6:
            field["type"] = self.rnd.choice(PROMOTIONS[old])
        elif isinstance(old, str) and self.rnd.random() < 0.3:
            field["type"] = self.rnd.choice([k for k, v in PROMOTIONS.items() if old in v] or PRIMITIVES[1:])
        else:
            field["type"] = self.gen.type(1)
        field.pop("default", None)
        if self.rnd.random() < 0.5:
            field["default"] = default_for(field["type"])
        return "change_type"

    def toggle_default(self, schema):
        field = self.rnd.choice(self.record(schema)["fields"])
        if "default" in field:
            del field["default"]
        else:
            field["default"] = default_for(field["type"])
        return "toggle_default"

    def rename_field(self, schema):
        field = self.rnd.choice(self.record(schema)["fields"])
        if self.rnd.random() < 0.5:
            field["aliases"] = [field["name"]]
        field["name"] = self.gen.fresh("g")
        return "rename_field"

    def change_enum(self, schema):
        enums = nodes(schema, "enum")
        if not enums:
            return None
        enum = self.rnd.choice(enums)
        roll = self.rnd.random()
        if roll < 0.4:
            enum["symbols"].append(self.gen.fresh("S"))
        elif roll < 0.7 and len(enum["symbols"]) > 1:
            removed = enum["symbols"].pop()
            if enum.get("default") == removed:
                del enum["default"]
        elif "default" in enum:
            del enum["default"]
        else:
            enum["default"] = enum["symbols"][0]
        return "change_enum"

    def change_union(self, schema):
        unions = nodes(schema, "union")
        if not unions:
            return None
        union = self.rnd.choice(unions)
        if self.rnd.random() < 0.5 and len(union) > 1:
            union.pop(self.rnd.randrange(1, len(union)))  # keep the first: defaults depend on it
        else:
            branch = self.gen.type(1, allow_union=False)
            if kind_of(branch) in {kind_of(b) for b in union}:
                return None
            union.append(branch)
        return "change_union"

    def rename_type(self, schema):
        named = nodes(schema, "record") + nodes(schema, "enum")
        target = self.rnd.choice(named)
        if self.rnd.random() < 0.6:
            target.setdefault("aliases", []).append(target["name"])
        target["name"] = self.gen.fresh("N")
        return "rename_type"

    def change_fixed_or_decimal(self, schema):
        fixed, decimals = nodes(schema, "fixed"), [b for b in nodes(schema, "bytes") if "logicalType" in b]
        if fixed:
            self.rnd.choice(fixed)["size"] += 1
            return "change_fixed"
        if decimals:
            self.rnd.choice(decimals)["scale"] += 1
            return "change_decimal"
        return None


def avro_checker_compatible(reader: dict, writer: dict) -> bool:
    checker = ReaderWriterCompatibilityChecker()
    result = checker.get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    return result.compatibility is SchemaCompatibilityType.compatible


def qualify_aliases(schema: object, namespace: str = "") -> object:
    """A copy where every named-type alias is written as a full name (what the specification means)."""
    if isinstance(schema, list):
        return [qualify_aliases(branch, namespace) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    result = dict(schema)
    if schema.get("type") in ("record", "enum", "fixed"):
        namespace = schema.get("namespace", namespace)
        if "aliases" in schema and namespace:
            result["aliases"] = [a if "." in a else f"{namespace}.{a}" for a in schema["aliases"]]
    if "fields" in schema:
        result["fields"] = [dict(f, type=qualify_aliases(f["type"], namespace)) for f in schema["fields"]]
    for key in ("items", "values"):
        if key in schema:
            result[key] = qualify_aliases(schema[key], namespace)
    return result


def classify(reader: dict, writer: dict, ours: list) -> str | None:
    """The known deviation that explains a disagreement, or None."""
    if ours and all(v.rule.startswith("DECIMAL_") for v in ours):
        return "decimal"
    if not ours and avro_checker_compatible(qualify_aliases(reader), qualify_aliases(writer)):
        return "relative_alias"
    return None


def test_verdicts_agree_with_the_avro_checker_outside_documented_deviations():
    stats: Counter = Counter()
    disagreements: list = []

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.randoms(use_true_random=False))
    def compare(rnd):
        generator = SchemaGenerator(rnd)
        namespace = rnd.choice([None, "shop.v1"])
        old = generator.record(depth=2, field_count=rnd.randint(1, 5), namespace=namespace)
        new = copy.deepcopy(old)
        operations = [Mutator(generator).mutate(new) for _ in range(rnd.randint(1, 2))]
        try:
            old_parsed, new_parsed = AVRO.parse(json.dumps(old)), AVRO.parse(json.dumps(new))
        except InvalidSchema:
            stats["mutation made an invalid schema"] += 1
            return
        # our Parsing Canonical Form equals fastavro's
        assert old_parsed.parsing_canonical_form == to_parsing_canonical_form(old)
        assert new_parsed.parsing_canonical_form == to_parsing_canonical_form(new)
        for direction, reader, writer in ((Direction.BACKWARD, new, old), (Direction.FORWARD, old, new)):
            ours = AVRO.check(old_parsed, new_parsed, direction, ruleset="RESOLUTION")
            theirs = avro_checker_compatible(reader, writer)
            stats["comparisons"] += 1
            stats["incompatible (avro checker)"] += not theirs
            stats.update(f"rule {v.rule}" for v in ours)
            if (not ours) == theirs:
                stats["agree"] += 1
                continue
            deviation = classify(reader, writer, ours)
            if deviation:
                stats[f"deviation: {deviation}"] += 1
            else:
                disagreements.append(
                    (operations, direction, reader, writer, [(v.rule, v.path) for v in ours])
                )

    compare()
    compared = stats["comparisons"] - sum(v for k, v in stats.items() if k.startswith("deviation"))
    rate = stats["agree"] / compared if compared else 0.0
    print(
        f"\navro checker agreement: {stats['agree']}/{compared} = {rate:.1%} outside known deviations; {dict(stats)}"
    )
    assert not disagreements, json.dumps(disagreements[0], indent=1, default=str)
    assert stats["comparisons"] >= 400
