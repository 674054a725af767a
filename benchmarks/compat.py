"""Compatibility-check speed: a 500-field Avro record and a 300-field Protobuf file against 100 earlier
versions (transitive), next to what the parsers alone cost for the same files.

Targets (2-core machine): Avro check under 50 ms, Protobuf check under 500 ms. Run: ``make bench`` or
``.venv/bin/python -m benchmarks.compat``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import fastavro
from grpc_tools import protoc

from registry.compat import Level, check_compatibility, get_format
from registry.compat.protobuf_compile import WELL_KNOWN_INCLUDE

VERSIONS = 100
RUNS = 7


def avro_version(fields: int) -> str:
    """A record with ``fields`` fields; every field past the first 400 has a default (a compatible history)."""
    body = []
    for i in range(fields):
        field = {"name": f"f{i}", "type": ["long", "double", "string"][i % 3]}
        if i >= 400:
            field = {"name": f"f{i}", "type": ["null", "string"], "default": None}
        body.append(field)
    return json.dumps({"type": "record", "name": "Wide", "namespace": "bench", "fields": body})


def proto_version(fields: int) -> str:
    types = ["int64", "string", "double", "bool", "bytes"]
    lines = ['syntax = "proto3";', "package bench.v1;", "message Wide {"]
    lines += [f"  {types[i % len(types)]} f{i} = {i + 1};" for i in range(fields)]
    return "\n".join([*lines, "}", ""])


def median_ms(action) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench_avro() -> None:
    fmt = get_format("AVRO")
    texts = [avro_version(400 + i) for i in range(VERSIONS)] + [avro_version(500)]
    start = time.perf_counter()
    parsed = [fmt.parse(text) for text in texts]
    parse_ms = (time.perf_counter() - start) * 1000
    fastavro_ms = median_ms(lambda: fastavro.parse_schema(json.loads(texts[-1]), _write_hint=False))
    check_ms = median_ms(lambda: check_compatibility(fmt, Level.BACKWARD_TRANSITIVE, parsed[-1], parsed[:-1]))
    result = check_compatibility(fmt, Level.BACKWARD_TRANSITIVE, parsed[-1], parsed[:-1])
    assert result.compatible, result.violations[:3]
    print(f"avro: 500-field record vs {VERSIONS} versions, BACKWARD_TRANSITIVE")
    print(f"  check (median of {RUNS}):        {check_ms:8.1f} ms   target < 50 ms")
    print(f"  fastavro.parse_schema, 1 file: {fastavro_ms:8.1f} ms   (baseline)")
    print(
        f"  meshgate parse, {VERSIONS + 1} files:    {parse_ms:8.1f} ms   (done once per version, then cached)"
    )
    print(f"  check / fastavro parse of 1 file: {check_ms / fastavro_ms:.2f}x")


def protoc_alone_ms(text: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "wide.proto"
        source.write_text(text)
        args = [
            "protoc",
            f"--proto_path={tmp}",
            f"--proto_path={WELL_KNOWN_INCLUDE}",
            "--include_source_info",
            f"--descriptor_set_out={tmp}/out.pb",
            str(source),
        ]
        return median_ms(lambda: protoc.main(args))


def bench_protobuf() -> None:
    fmt = get_format("PROTOBUF")
    texts = [proto_version(200 + i) for i in range(VERSIONS)] + [proto_version(300)]
    start = time.perf_counter()
    parsed = [fmt.parse(text) for text in texts]
    parse_ms = (time.perf_counter() - start) * 1000
    check_ms = median_ms(lambda: check_compatibility(fmt, Level.FULL_TRANSITIVE, parsed[-1], parsed[:-1]))
    result = check_compatibility(fmt, Level.FULL_TRANSITIVE, parsed[-1], parsed[:-1])
    assert result.compatible, result.violations[:3]
    protoc_ms = protoc_alone_ms(texts[-1])
    print(f"protobuf: 300-field message vs {VERSIONS} versions, FULL_TRANSITIVE")
    print(f"  check (median of {RUNS}):        {check_ms:8.1f} ms   target < 500 ms")
    print(f"  protoc alone, 1 file:          {protoc_ms:8.1f} ms   (baseline)")
    print(
        f"  meshgate parse, {VERSIONS + 1} files:    {parse_ms:8.1f} ms   (protoc per version, then cached)"
    )
    print(f"  check / protoc of 1 file: {check_ms / protoc_ms:.2f}x")


if __name__ == "__main__":
    bench_avro()
    bench_protobuf()
