"""JSON Schema compatibility-check speed: a 300-property schema against 100 earlier versions at
BACKWARD_TRANSITIVE, next to the Avro record of the same fields checked the same way in the same run.

Version ``i`` has ``200 + i`` properties (the last has 300); every property past the first 200 is
optional, and the content model is closed (``additionalProperties: false``), so the history is
compatible under Confluent's rules (optional properties added to a closed content model). The Avro
records carry the same fields (long, double, string; the added ones nullable with a default).
Then what history costs a JSON Schema registration (``benchmarks.compat.registration_growth``: 100
versions of a 50-property schema, each with its own description, which the transitive check sees
as one schema (``check_key``), and each with its own default, which it checks version by version;
versions 91-100 against 1-10 and 6-15).
Run: ``.venv/bin/python -m benchmarks.json_schema_compat``.
"""

from __future__ import annotations

import json
import statistics
import time

from benchmarks._report import figure
from benchmarks.compat import GROWTH_FIELDS, registration_growth
from registry.compat import Level, check_compatibility, get_format

VERSIONS = 100
FIELDS = 300
RUNS = 7
JSON_TYPES = ["integer", "number", "string"]
AVRO_TYPES = ["long", "double", "string"]


def json_version(fields: int) -> str:
    properties = {f"f{i}": {"type": JSON_TYPES[i % 3]} for i in range(fields)}
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "required": [f"f{i}" for i in range(min(fields, 200))],
        "additionalProperties": False,
    }
    return json.dumps(schema)


def avro_version(fields: int) -> str:
    body = []
    for i in range(fields):
        field = {"name": f"f{i}", "type": AVRO_TYPES[i % 3]}
        if i >= 200:
            field = {"name": f"f{i}", "type": ["null", AVRO_TYPES[i % 3]], "default": None}
        body.append(field)
    return json.dumps({"type": "record", "name": "Wide", "namespace": "bench", "fields": body})


def median_ms(action) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench(format_name: str, version) -> tuple[float, float]:
    fmt = get_format(format_name)
    texts = [version(FIELDS - VERSIONS + i) for i in range(VERSIONS)] + [version(FIELDS)]
    start = time.perf_counter()
    parsed = [fmt.parse(text) for text in texts]
    parse_ms = (time.perf_counter() - start) * 1000
    result = check_compatibility(fmt, Level.BACKWARD_TRANSITIVE, parsed[-1], parsed[:-1])
    assert result.compatible, result.violations[:3]
    check_ms = median_ms(lambda: check_compatibility(fmt, Level.BACKWARD_TRANSITIVE, parsed[-1], parsed[:-1]))
    return check_ms, parse_ms


def main() -> None:
    json_ms, json_parse_ms = bench("JSON", json_version)
    avro_ms, avro_parse_ms = bench("AVRO", avro_version)
    print(
        f"{FIELDS} fields vs {VERSIONS} versions, BACKWARD_TRANSITIVE (median of {RUNS}); parse {VERSIONS + 1} "
        f"versions: JSON Schema {json_parse_ms:.0f} ms, Avro {avro_parse_ms:.0f} ms (once per version)"
    )
    figure(
        "json schema transitive check vs 100 versions", json_ms, avro_ms, "ms", "baseline: Avro, same fields"
    )
    for level in ("BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"):
        registration_growth("json schema", "JSON", level, json_history, VERSIONS)
        registration_growth("json schema (a default changes)", "JSON", level, json_default_history, VERSIONS)


def json_history(index: int, history: int = 0) -> str:
    """Version ``index``: the same 50 properties, its own description (every version compatible)."""
    properties = {f"f{i}": {"type": JSON_TYPES[i % 3]} for i in range(GROWTH_FIELDS)}
    schema = {
        "type": "object",
        "description": f"history {history}, version {index}",
        "properties": properties,
    }
    return json.dumps({**schema, "additionalProperties": False})


def json_default_history(index: int, history: int = 0) -> str:
    """Version ``index``: the same 50 properties, the first with the default ``index`` (a change the
    checks compare in every version, unlike a description: every version compatible both ways)."""
    properties = {f"f{i}": {"type": JSON_TYPES[i % 3]} for i in range(GROWTH_FIELDS)}
    properties["f0"]["default"] = index
    schema = {"type": "object", "description": f"history {history}", "properties": properties}
    return json.dumps({**schema, "additionalProperties": False})


if __name__ == "__main__":
    main()
