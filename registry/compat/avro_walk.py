"""The pairing walker: resolves a reader schema against a writer schema as the specification does.

It walks (reader, writer) pairs side by side: record fields by name or reader alias, array items,
map values, union branches (each writer branch against the first reader branch that matches), and
hands every pair to the rules of its target (``avro_rules.TARGETS``). Named types recurse through shared nodes; a set of
visited (reader record, writer record) pairs stops the walk on recursive schemas. Identical subtrees
(same signature) are skipped, since a type always resolves against itself.

Paths: the top-level type's short name, then ``.field`` for record fields, ``[]`` for array items,
``{}`` for map values and ``<branch>`` for a union branch (the branch's short name or kind), e.g.
``CheckoutCompleted.items[].sku`` or ``Order.payment<Card>.number``. Lines are in the new schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from registry.compat import Direction, Violation
from registry.compat.avro_canonical import signature
from registry.compat.avro_model import Array, AvroType, Field, Map, Record, Union, branch_label
from registry.compat.avro_rules import AvroRule, Pair, first_match, matches, names_match
from registry.compat.lru import shared


def resolve(
    reader: AvroType, writer: AvroType, direction: Direction, rules: Mapping[str, Sequence[AvroRule]]
) -> list[Violation]:
    """Violations found resolving ``reader`` against ``writer`` with ``rules`` (``by_target``)."""
    walker = _Walker(direction, rules)
    new_root = reader if direction is Direction.BACKWARD else writer
    walker.walk(reader, writer, branch_label(new_root), reader.line, writer.line)
    return walker.violations


def by_target(rules: Iterable[AvroRule]) -> dict[str, tuple[AvroRule, ...]]:
    """The rules grouped by target (the caller keeps it per rule set: a transitive check resolves
    many pairs)."""
    grouped: dict[str, list[AvroRule]] = {}
    for spec in rules:
        grouped.setdefault(spec.target, []).append(spec)
    return {target: tuple(specs) for target, specs in grouped.items()}


class _Walker:
    def __init__(self, direction: Direction, rules_by_target: Mapping[str, Sequence[AvroRule]]):
        self.direction = direction
        self.by_target = rules_by_target
        self.violations: list[Violation] = []
        self.visited: set[tuple[int, int]] = set()

    def report(self, target: str, pair: Pair, reader_line: int | None, writer_line: int | None) -> None:
        """Hand ``pair`` to every rule of ``target``; lines are in the new schema."""
        line = reader_line if self.direction is Direction.BACKWARD else writer_line
        for spec in self.by_target.get(target, ()):
            message = spec.check(pair)
            if message:
                self.violations.append(Violation(spec.rule.id, pair.path, message, line, self.direction))

    def walk(self, reader: AvroType, writer: AvroType, path: str, reader_line, writer_line) -> None:
        if signature(reader) == signature(writer):
            return
        if isinstance(writer, Union):
            self._writer_union(reader, writer, path, reader_line)
        elif isinstance(reader, Union):
            index = first_match(reader, writer)
            if index is None:
                self.report(
                    "not_in_union", Pair(reader, writer, self.direction, path), reader_line, writer_line
                )
            else:
                branch = reader.branches[index]
                branch_path = f"{path}<{branch_label(branch)}>"
                self.walk(branch, writer, branch_path, reader.branch_lines[index], writer_line)
        else:
            self._pair(reader, writer, path, reader_line, writer_line)

    def _writer_union(self, reader: AvroType, writer: Union, path: str, reader_line) -> None:
        """Every branch the writer may use must resolve against the reader."""
        for branch, writer_line in zip(writer.branches, writer.branch_lines, strict=True):
            branch_path = f"{path}<{branch_label(branch)}>"
            if isinstance(reader, Union):
                index = first_match(reader, branch)
                target = None if index is None else reader.branches[index]
                target_line = None if index is None else reader.branch_lines[index]
            else:
                target, target_line = (reader, reader_line) if matches(reader, branch) else (None, None)
            if target is None:
                pair = Pair(reader, branch, self.direction, branch_path)
                self.report("union_branch", pair, reader_line, writer_line)
            else:
                self.walk(target, branch, branch_path, target_line, writer_line)

    def _pair(self, reader: AvroType, writer: AvroType, path: str, reader_line, writer_line) -> None:
        self.report("types", Pair(reader, writer, self.direction, path), reader_line, writer_line)
        if isinstance(reader, Record) and isinstance(writer, Record) and names_match(reader, writer):
            self._records(reader, writer, path, reader_line, writer_line)
        elif isinstance(reader, Array) and isinstance(writer, Array):
            self.walk(reader.items, writer.items, f"{path}[]", reader.items_line, writer.items_line)
        elif isinstance(reader, Map) and isinstance(writer, Map):
            self.walk(reader.values, writer.values, path + "{}", reader.values_line, writer.values_line)

    def _records(self, reader: Record, writer: Record, path: str, reader_line, writer_line) -> None:
        key = (id(reader), id(writer))
        if key in self.visited:
            return
        self.visited.add(key)
        # A field of the same name and type on both sides resolves: only the others are walked.
        differing = {name for name, _ in _typed_names(reader) - _typed_names(writer)}
        if not differing:
            return
        differing_fields = [reader.fields_by_name[name] for name in differing]
        for reader_field in sorted(differing_fields, key=_positions(reader).__getitem__):  # reader's order
            writer_field = writer.fields_by_name.get(reader_field.name)
            if writer_field is None and reader_field.aliases:
                aliased = (writer.fields_by_name.get(alias) for alias in reader_field.aliases)
                writer_field = next((f for f in aliased if f is not None), None)
            if writer_field is None:
                field_pair = Pair(reader, writer, self.direction, f"{path}.{reader_field.name}", reader_field)
                self.report("missing_field", field_pair, reader_field.line, writer_line)
            elif signature(reader_field.type) != signature(writer_field.type):  # identical types resolve
                new_name = reader_field.name if self.direction is Direction.BACKWARD else writer_field.name
                self.walk(
                    reader_field.type,
                    writer_field.type,
                    f"{path}.{new_name}",
                    reader_field.type_line,
                    writer_field.type_line,
                )


def _positions(record: Record) -> dict[Field, int]:
    """Each field's position in the record, once per parsed record."""
    if record.positions is None:
        record.positions = {f: i for i, f in enumerate(record.fields)}
    return record.positions


def _typed_names(record: Record) -> frozenset[tuple[str, str]]:
    """``(name, type signature)`` of every field, computed once per parsed record (they are cached)."""
    names = record.typed_names
    if names is None:
        names = record.typed_names = frozenset(shared((f.name, signature(f.type))) for f in record.fields)
    return names
