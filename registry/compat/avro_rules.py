"""The Avro rule table: one small function per rule, each judging one matched (reader, writer) pair.

Each rule is registered by ``RULE_LIST.rule`` with its stable id, description, categories and target
(which pairs the walker hands it). Rules never walk schemas; ``avro_walk`` pairs elements as the
specification's schema resolution does and hands each rule the pairs of its target. A rule returns a
sentence for a person (old value, new value, what to do) or None. Sentences speak of "old" and "new" schemas; which of them reads depends on the direction:
BACKWARD means the new schema reads old data, FORWARD means the old schema reads new data.

Categories: ``RESOLUTION`` rules come from the specification's "Schema Resolution" section (and its
decimal clause); ``LOGICAL`` rules go beyond it where the bytes resolve but the values would be
misread (a timestamp in millis read as micros).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.compat import Direction, Rule
from registry.compat.avro_model import AvroType, Enum, Field, Fixed, NamedType, Record, Union, describe

RESOLUTION, LOGICAL = "RESOLUTION", "LOGICAL"
RULESETS = (RESOLUTION, LOGICAL)
"""The named rule sets: each keeps the rules of that category. The default (None) runs every rule."""

TARGETS = ("types", "missing_field", "union_branch", "not_in_union")
"""What a rule judges: ``types`` a pair of non-union types; ``missing_field`` a record field the
reader has and the writer lacks (``Pair.field``); ``union_branch`` a branch of the writer's union
that nothing in the reader matches (``Pair.writer``); ``not_in_union`` a writer type no branch of
the reader's union matches."""

PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
"""Writer type -> reader types it may be promoted to (specification, Schema Resolution)."""

TIME_UNITS = {
    "date": "days",
    "time-millis": "milliseconds",
    "time-micros": "microseconds",
    "timestamp-millis": "milliseconds",
    "timestamp-micros": "microseconds",
    "timestamp-nanos": "nanoseconds",
    "local-timestamp-millis": "milliseconds",
    "local-timestamp-micros": "microseconds",
    "local-timestamp-nanos": "nanoseconds",
}


@dataclass(frozen=True)
class Pair:
    """A reader element and the writer element it resolves against, at ``path``."""

    reader: AvroType
    writer: AvroType
    direction: Direction
    path: str
    field: Field | None = None  # target missing_field: the reader's field the writer lacks

    @property
    def old(self) -> AvroType:
        return self.writer if self.direction is Direction.BACKWARD else self.reader

    @property
    def new(self) -> AvroType:
        return self.reader if self.direction is Direction.BACKWARD else self.writer

    @property
    def element(self) -> str:
        """``field 'amount'`` when the path ends at a record field, else the quoted path."""
        last = self.path.rpartition(".")[2]
        if "." in self.path and not any(mark in last for mark in "[]{}<>"):
            return f"field '{last}'"
        return f"'{self.path}'"

    @property
    def consequence(self) -> str:
        if self.direction is Direction.BACKWARD:
            return "readers using the new schema cannot read data written with the old one"
        return "readers still using the old schema cannot read data written with the new one"


@dataclass(frozen=True)
class AvroRule:
    rule: Rule
    target: str  # one of TARGETS
    check: Callable[[Pair], str | None]


class RuleList(list[AvroRule]):
    """The Avro rules in declaration order (the order of their findings on one pair)."""

    def rule(self, rule_id: str, description: str, categories: tuple[str, ...], target: str = "types"):
        if target not in TARGETS:
            raise ValueError(f"rule {rule_id}: unknown target {target!r}")

        def register(check):
            self.append(AvroRule(Rule(rule_id, description, categories), target, check))
            return check

        return register


RULE_LIST = RuleList()


def promotable(writer_kind: str, reader_kind: str) -> bool:
    return reader_kind in PROMOTIONS.get(writer_kind, ())


def names_match(reader: NamedType, writer: NamedType) -> bool:
    """Unqualified names equal, or a reader alias equal to the writer's full name (specification)."""
    return reader.name == writer.name or writer.fullname in reader.aliases


def matches(reader: AvroType, writer: AvroType) -> bool:
    """The specification's shallow "match", used to pick a union branch (logical types aside)."""
    if reader.kind == writer.kind:
        if isinstance(reader, NamedType):
            same_size = not isinstance(reader, Fixed) or reader.size == writer.size
            return names_match(reader, writer) and same_size
        return True
    return promotable(writer.kind, reader.kind)


def first_match(union: Union, writer: AvroType) -> int | None:
    """Index of the first branch of the reader's union that matches the writer (specification)."""
    return next((i for i, branch in enumerate(union.branches) if matches(branch, writer)), None)


# Rules on a pair of non-union types.


@RULE_LIST.rule(
    "TYPE_CHANGED",
    "A type changed to one that cannot read or be read as the other.",
    (RESOLUTION,),
)
def type_changed(pair: Pair) -> str | None:
    reader, writer = pair.reader, pair.writer
    if (
        reader.kind == writer.kind
        or promotable(writer.kind, reader.kind)
        or promotable(reader.kind, writer.kind)
    ):
        return None
    old, new = describe(pair.old), describe(pair.new)
    return (
        f"{pair.element} changed type from {old} to {new}: {pair.consequence}. Keep {old}, or add a new "
        f"field of type {new} with a default and stop writing this one."
    )


@RULE_LIST.rule(
    "TYPE_NARROWED",
    "A type changed against the promotion order (e.g. long to int).",
    (RESOLUTION,),
)
def type_narrowed(pair: Pair) -> str | None:
    reader, writer = pair.reader, pair.writer
    if not promotable(reader.kind, writer.kind) or promotable(writer.kind, reader.kind):
        return None
    allowed = ", ".join(sorted(PROMOTIONS[reader.kind]))
    old, new = describe(pair.old), describe(pair.new)
    return (
        f"{pair.element} changed type from {old} to {new}: Avro promotes {reader.kind} to {allowed} but never "
        f"{writer.kind} to {reader.kind}, so {pair.consequence}. Keep {old}"
        + (
            ", or upgrade every consumer first and use BACKWARD compatibility."
            if pair.direction is Direction.FORWARD
            else "."
        )
    )


@RULE_LIST.rule(
    "NAME_CHANGED",
    "A record, enum or fixed changed its name and no reader alias covers it.",
    (RESOLUTION,),
)
def name_changed(pair: Pair) -> str | None:
    reader, writer = pair.reader, pair.writer
    if not isinstance(reader, NamedType) or reader.kind != writer.kind or names_match(reader, writer):
        return None
    old, new = pair.old.fullname, pair.new.fullname
    fix = (
        f'Keep the name {old}, or add "aliases": ["{old}"] to {new}.'
        if pair.direction is Direction.BACKWARD
        else f"Keep the name {old}: readers of the old schema match types by name."
    )
    return f"{pair.element}: {reader.kind} renamed from {old} to {new}: {pair.consequence}. {fix}"


@RULE_LIST.rule(
    "FIXED_SIZE_CHANGED",
    "A fixed type changed its size.",
    (RESOLUTION,),
)
def fixed_size_changed(pair: Pair) -> str | None:
    if (
        not isinstance(pair.reader, Fixed)
        or not isinstance(pair.writer, Fixed)
        or pair.reader.size == pair.writer.size
    ):
        return None
    old, new = pair.old.size, pair.new.size
    return (
        f"{pair.element}: fixed {pair.new.fullname} changed size from {old} to {new} bytes: {pair.consequence}. "
        f"Keep {old} bytes, or add a new field with the new fixed type."
    )


@RULE_LIST.rule(
    "ENUM_SYMBOL_MISSING",
    "The writer has enum symbols the reader lacks, and the reader enum has no default.",
    (RESOLUTION,),
)
def enum_symbol_missing(pair: Pair) -> str | None:
    reader, writer = pair.reader, pair.writer
    if not isinstance(reader, Enum) or not isinstance(writer, Enum) or reader.default is not None:
        return None
    missing = [symbol for symbol in writer.symbols if symbol not in reader.symbols]
    if not missing:
        return None
    listed = ", ".join(missing)
    if pair.direction is Direction.BACKWARD:
        return (
            f"{pair.element}: enum {reader.fullname} removed symbol(s) {listed}: old data may hold them and the new "
            f'enum has no "default". Keep the symbol(s), or give the enum a "default" symbol.'
        )
    return (
        f"{pair.element}: enum {writer.fullname} added symbol(s) {listed}: readers still using the old schema "
        f'cannot decode them because the old enum has no "default". Release a version whose enum has a '
        f'"default" first, then add the symbol(s).'
    )


def _decimal_change(pair: Pair, attribute: str) -> tuple[int, int] | None:
    """(old, new) ``scale`` or ``precision`` where both sides are decimals and it differs."""
    if pair.reader.logical != "decimal" or pair.writer.logical != "decimal":
        return None
    old, new = getattr(pair.old, attribute), getattr(pair.new, attribute)
    return None if old == new else (old, new)


@RULE_LIST.rule(
    "DECIMAL_SCALE_CHANGED",
    "A decimal changed its scale.",
    (RESOLUTION, LOGICAL),
)
def decimal_scale_changed(pair: Pair) -> str | None:
    change = _decimal_change(pair, "scale")
    if change is None:
        return None
    old, new = change
    return (
        f"{pair.element}: decimal changed scale from {old} to {new}: the bytes hold an unscaled integer, so every "
        f"value would be read 10^{abs(old - new)} times too {'small' if new > old else 'large'} (the specification "
        f"lets decimals match only with equal scale and precision). Keep scale {old}, or add a new field."
    )


@RULE_LIST.rule(
    "DECIMAL_PRECISION_CHANGED",
    "A decimal changed its precision.",
    (RESOLUTION, LOGICAL),
)
def decimal_precision_changed(pair: Pair) -> str | None:
    change = _decimal_change(pair, "precision")
    if change is None:
        return None
    old, new = change
    overflow = f"; values with more than {new} digits would not fit" if new < old else ""
    return (
        f"{pair.element}: decimal changed precision from {old} to {new}: {pair.consequence}, because the "
        f"specification lets decimals match only when precision and scale are both equal{overflow}. "
        f"Keep precision {old}, or add a new field."
    )


@RULE_LIST.rule(
    "TIME_UNIT_CHANGED",
    "A date, time or timestamp changed its unit (e.g. millis to micros).",
    (LOGICAL,),
)
def time_unit_changed(pair: Pair) -> str | None:
    old_unit, new_unit = TIME_UNITS.get(pair.old.logical or ""), TIME_UNITS.get(pair.new.logical or "")
    if old_unit is None or new_unit is None or old_unit == new_unit:
        return None
    return (
        f"{pair.element} changed from {pair.old.logical} to {pair.new.logical}: the stored number stays an Avro "
        f"{pair.writer.kind}, but {old_unit} would be read as {new_unit}, shifting every value silently. Keep "
        f"{pair.old.logical}, or add a new field with the new unit."
    )


# Rules on a record field the reader has and the writer lacks, and on unions.


@RULE_LIST.rule(
    "FIELD_MISSING_DEFAULT",
    "The reader has a field the writer lacks, and it has no default.",
    (RESOLUTION,),
    target="missing_field",
)
def field_missing_default(pair: Pair) -> str | None:
    reader_field = pair.field
    if reader_field.has_default:
        return None
    name, record = reader_field.name, pair.reader
    assert isinstance(record, Record)
    if pair.direction is Direction.BACKWARD:
        return (
            f"field '{name}' was added to {record.name} without a default: old data has no '{name}', so "
            f"readers using the new schema cannot read it. Add a default to field '{name}' (for an optional "
            f'field: "type": ["null", ...], "default": null).'
        )
    return (
        f"field '{name}' was removed from {record.name}, and the old schema gives it no default: readers still "
        f"using the old schema need '{name}' in new data. Keep the field, or first release a version that "
        "gives it a default, then remove it."
    )


@RULE_LIST.rule(
    "UNION_BRANCH_MISSING",
    "A union branch the writer may use matches nothing in the reader.",
    (RESOLUTION,),
    target="union_branch",
)
def union_branch_missing(pair: Pair) -> str:
    branch = describe(pair.writer)
    if pair.direction is Direction.BACKWARD:
        return (
            f"{pair.element} no longer accepts {branch}: the old schema allowed it, the new type is "
            f"{describe(pair.reader)}, so old data holding {branch} values cannot be read. Keep {branch} in the union."
        )
    return (
        f"{pair.element} now allows {branch}, which readers still using the old schema ({describe(pair.reader)}) "
        f"cannot read. Do not add {branch}, or make consumers upgrade first and use BACKWARD compatibility."
    )


@RULE_LIST.rule(
    "TYPE_NOT_IN_UNION",
    "The writer's type matches no branch of the reader's union.",
    (RESOLUTION,),
    target="not_in_union",
)
def type_not_in_union(pair: Pair) -> str:
    old, new = describe(pair.old), describe(pair.new)
    if pair.direction is Direction.BACKWARD:
        return (
            f"{pair.element} changed from {old} to {new}, which has no branch for {old}: old data cannot be "
            f"read. Add {old} to the union."
        )
    return (
        f"{pair.element} changed from {old} to {new}, which matches none of the old union's branches: "
        f"{pair.consequence}. Write one of the old union's types."
    )


RULES: dict[str, Rule] = {spec.rule.id: spec.rule for spec in RULE_LIST}


def rules_for(ruleset: str | None) -> list[AvroRule]:
    """The rules a rule set runs: every rule for None, else the rules of that category."""
    return [spec for spec in RULE_LIST if ruleset is None or ruleset in spec.rule.categories]
