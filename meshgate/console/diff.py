"""Side-by-side diffs of two schema versions, with compatibility findings on the lines they concern.

The findings come from the compat engines at every level: the subject's own level is marked as
such; a finding whose line is known sits on that line of the newer schema, the rest above the diff.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from registry.compat import Direction, Level, ParsedSchema, SchemaFormat, Violation


@dataclass(frozen=True)
class Finding:
    levels: tuple[str, ...]  # the levels it is found at ("" for a finding of the registry's own check)
    rule: str
    path: str
    message: str
    line: int | None
    hint: str  # the rule's description from the format's rule table
    subject_level: bool  # found at the level the subject is configured with


@dataclass
class DiffRow:
    kind: str  # same | changed | removed | added
    old_number: int | None = None
    old_html: Markup = Markup("")
    new_number: int | None = None
    new_html: Markup = Markup("")
    findings: list[Finding] = field(default_factory=list)


def findings_at_every_level(
    schema_format: SchemaFormat,
    subject_level: Level,
    ruleset: str | None,
    new: ParsedSchema,
    previous: Sequence[ParsedSchema],
) -> list[Finding]:
    """Violations of ``new`` against ``previous`` (oldest first; the last is the one compared
    against at non-transitive levels) at each level, the subject's level first; a violation found
    at several levels is one finding naming them all. Each level is what ``check_compatibility``
    finds (its olds, its directions), with every (old, direction) pair checked once for all levels."""
    levels = [subject_level, *(level for level in Level if level not in (subject_level, Level.NONE))]
    checked: dict[tuple[int, Direction], list[Violation]] = {}  # levels share their pair checks

    def check(index: int, direction: Direction) -> list[Violation]:
        if (index, direction) not in checked:
            checked[index, direction] = schema_format.check(previous[index], new, direction, ruleset)
        return checked[index, direction]

    found: dict[tuple, tuple[Violation, list[str]]] = {}
    for level in levels:
        olds = range(len(previous)) if level.transitive else range(len(previous))[-1:]
        for index in reversed(olds):  # newest first, as check_compatibility reports them
            for direction in level.directions:
                for violation in check(index, direction):
                    key = (violation.rule, violation.path, violation.message, violation.line)
                    names = found.setdefault(key, (violation, []))[1]
                    if level.value not in names:
                        names.append(level.value)
    return [
        _finding(schema_format, tuple(names), violation, subject_level.value in names)
        for violation, names in found.values()
    ]


def findings_of(violations: Sequence[Violation], schema_format: SchemaFormat) -> list[Finding]:
    """Violations found by the registry itself (a check: the subject's level and its consumers)."""
    return [_finding(schema_format, (), v, True) for v in violations]


def _finding(
    schema_format: SchemaFormat, levels: tuple[str, ...], v: Violation, subject_level: bool
) -> Finding:
    rule = schema_format.rules.get(v.rule)
    return Finding(levels, v.rule, v.path, v.message, v.line, rule.description if rule else "", subject_level)


def side_by_side(
    old_text: str,
    new_text: str,
    old_html: Sequence[Markup],
    new_html: Sequence[Markup],
    findings: Sequence[Finding],
) -> list[DiffRow]:
    """Rows pairing the old and new lines (``difflib``), each new line carrying its findings."""
    by_line: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.line:
            by_line.setdefault(finding.line, []).append(finding)
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        kind = {"equal": "same", "replace": "changed", "delete": "removed", "insert": "added"}[tag]
        for old_i, new_j in itertools.zip_longest(range(i1, i2), range(j1, j2)):
            row = DiffRow(kind)
            if old_i is not None:
                row.old_number, row.old_html = old_i + 1, _line(old_html, old_i)
            if new_j is not None:
                row.new_number, row.new_html = new_j + 1, _line(new_html, new_j)
                row.findings = by_line.get(new_j + 1, [])
            rows.append(row)
    return rows


def _line(lines: Sequence[Markup], index: int) -> Markup:
    return lines[index] if index < len(lines) else Markup("")
