"""The Confluent CEL rules registered with a contract, enforced by the gate like its own rules.

A Confluent client may register domain rules of kind CONDITION in WRITE (or WRITEREAD) mode: ``CEL``
(``expr`` over the record, bound as ``message``) and ``CEL_FIELD`` (``expr`` over each field whose
metadata tags include one of the rule's ``tags``, bound as ``value`` with its ``name``). A record
breaks the rule when the expression is not ``true`` (an evaluation error included), as Confluent's
executors decide. A rule whose expression maps to Arrow compute runs on the whole batch
(``lakehouse.cel_vector``), any other per record through cel-python's interpreter, with the same
results (tests/lakehouse/test_cel_vector.py compares them); a violation names the rule, never the
value (it may be PII). meshgate's own quality rules, which the registry also
publishes as CEL rules (``registry.data_contracts``), are checked by ``lakehouse.validate``.
"""

from __future__ import annotations

from collections.abc import Iterator

import celpy
import numpy as np
import pyarrow as pa

from lakehouse.cel_vector import Field, Unsupported, compile_condition
from registry.contract import Contract
from registry.data_contracts import PUBLISHED_RULE_PREFIX

ENFORCED_TYPES = ("CEL", "CEL_FIELD")
ENFORCED_MODES = ("WRITE", "WRITEREAD")


def enforced_rules(contract: Contract) -> list[dict]:
    """The domain rules of the contract's rule set the gate enforces."""
    rules = (contract.rule_set or {}).get("domainRules") or []
    return [
        rule
        for rule in rules
        if rule.get("type") in ENFORCED_TYPES
        and rule.get("kind", "TRANSFORM") == "CONDITION"
        and rule.get("mode") in ENFORCED_MODES
        and not rule.get("disabled")
        and not rule["name"].startswith(PUBLISHED_RULE_PREFIX)
    ]


def cel_failures(table: pa.Table, contract: Contract, rows: pa.Array) -> list[tuple[int, str, str, str]]:
    """``(row, field, rule name, message)`` for every record (and field) that breaks an enforced
    rule on ``table``; row numbers come from ``rows``."""
    rules = enforced_rules(contract)
    if not rules or table.num_rows == 0:
        return []
    environment = celpy.Environment()
    tagged = _tagged_paths(contract)
    numbers = rows.to_pylist()
    records = None  # read from Arrow only when a rule needs the interpreter
    found = []
    for rule in rules:
        tree = environment.compile(rule["expr"])
        failed = vectorised_failures(tree, rule, table, tagged)
        if failed is None:
            records = table.to_pylist() if records is None else records
            failed = interpreted_failures(environment.program(tree), rule, records, tagged)
        for index, field in failed:
            where = f" on {field}" if field else ""
            message = f"CEL rule {rule['name']}{where} failed: {rule.get('doc') or rule['expr']}"
            found.append((numbers[index], field, rule["name"], message))
    return found


def vectorised_failures(tree, rule: dict, table: pa.Table, tagged: dict[str, set[str]]):
    """``(row index, field)`` of each failure, from Arrow compute; ``None`` when the expression
    (or a field type it meets) has no Arrow form."""
    failed = []
    try:
        for field, variables in _bindings(rule, tagged):
            holds = compile_condition(tree, variables)(table)
            failed += [(int(index), field) for index in np.flatnonzero(~holds)]
    except Unsupported:
        return None
    return failed


def interpreted_failures(program, rule: dict, records: list[dict], tagged: dict[str, set[str]]):
    """``(row index, field)`` of each failure, record by record through the interpreter."""
    return [
        (index, field)
        for index, record in enumerate(records)
        for field, activation in _activations(rule, record, tagged)
        if not _holds(program, activation)
    ]


def _bindings(rule: dict, tagged: dict[str, set[str]]) -> Iterator[tuple[str, dict]]:
    if rule["type"] == "CEL":
        yield "", {"message": Field()}
        return
    wanted = set(rule.get("tags") or ())
    for path, tags in tagged.items():
        if tags & wanted:
            yield path, {"value": Field(path), "name": path.rsplit(".", 1)[-1], "message": Field()}


def _activations(rule: dict, record: dict, tagged: dict[str, set[str]]) -> Iterator[tuple[str, dict]]:
    if rule["type"] == "CEL":
        yield "", {"message": celpy.json_to_cel(_plain(record))}
        return
    wanted = set(rule.get("tags") or ())
    for path, tags in tagged.items():
        if tags & wanted:
            yield (
                path,
                {
                    "value": celpy.json_to_cel(_plain(_at(record, path))),
                    "name": celpy.celtypes.StringType(path.rsplit(".", 1)[-1]),
                    "message": celpy.json_to_cel(_plain(record)),
                },
            )


def _holds(program, activation: dict) -> bool:
    try:
        result = program.evaluate(activation)
    except celpy.CELEvalError:  # an expression that cannot be evaluated on a record fails it, as in Confluent
        return False
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def _tagged_paths(contract: Contract) -> dict[str, set[str]]:
    tags = ((contract.data_metadata or {}).get("tags")) or {}
    return {path: set(values) for path, values in tags.items()}


def _at(record: dict, path: str):
    value = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _plain(value):
    """Arrow's Python values as JSON-like ones (times and bytes become text) for ``json_to_cel``."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
