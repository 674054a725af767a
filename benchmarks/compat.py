"""Compatibility-check speed: a 500-field Avro record and a 300-field Protobuf file against 100 earlier
versions (transitive), next to what the parsers alone cost for the same files.

Targets (2-core machine): Avro check under 50 ms, Protobuf check under 500 ms.

Then what history costs a registration: ``RegistryService.register`` (in-process, SQLite) of VERSIONS
versions of one 50-field subject at BACKWARD_TRANSITIVE and FULL_TRANSITIVE, each version differing
from the last in one place; the mean CPU time of versions 91-100 against that of versions 1-10 (the
issue's measure) and of versions 6-15 (around version 10: target within 1.5x), and the same in wall
time, for Avro and Protobuf here and JSON Schema in ``benchmarks.json_schema_compat``.

Run: ``make bench`` or ``.venv/bin/python -m benchmarks.compat [--versions 100]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import fastavro
from grpc_tools import protoc

from benchmarks._report import figure
from registry.compat import Level, check_compatibility, get_format
from registry.compat.protobuf_compile import WELL_KNOWN_INCLUDE
from registry.service import RegistryService
from registry.store import Store

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
    print(f"avro: 500-field record vs {VERSIONS} versions, BACKWARD_TRANSITIVE (target < 50 ms)")
    print(f"  meshgate parse, {VERSIONS + 1} files: {parse_ms:.1f} ms (done once per version, then cached)")
    figure(
        "avro transitive check vs 100 versions",
        check_ms,
        fastavro_ms,
        "ms",
        "baseline: fastavro parse of 1 file",
    )


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
    print(f"protobuf: 300-field message vs {VERSIONS} versions, FULL_TRANSITIVE (target < 500 ms)")
    print(f"  meshgate parse, {VERSIONS + 1} files: {parse_ms:.1f} ms (protoc per version, then cached)")
    figure(
        "protobuf transitive check vs 100 versions", check_ms, protoc_ms, "ms", "baseline: protoc of 1 file"
    )


GROWTH_FIELDS = 50


def avro_history(index: int, history: int = 0) -> str:
    """Version ``index``: the same 50 fields and an optional one of its own (the previous one's dropped)."""
    fields = [{"name": f"f{i}", "type": ["long", "double", "string"][i % 3]} for i in range(GROWTH_FIELDS)]
    fields.append({"name": f"v{index}", "type": ["null", "string"], "default": None})
    return json.dumps({"type": "record", "name": f"Wide{history}", "fields": fields})


def proto_history(index: int, history: int = 0) -> str:
    """Version ``index``: the same 50 fields and one of its own (the previous version's one dropped)."""
    types = ["int64", "string", "double", "bool", "bytes"]
    lines = ['syntax = "proto3";', "package bench.v1;", f"message Wide{history} {{"]
    lines += [f"  {types[i % len(types)]} f{i} = {i + 1};" for i in range(GROWTH_FIELDS)]
    lines.append(f"  string v{index} = {GROWTH_FIELDS + 1 + index};")
    return "\n".join([*lines, "}", ""])


HISTORIES = 3  # subjects registered one after the other; each version's figure is its fastest of them
_RUNS = itertools.count()  # every run its own schema texts: no parse cache of an earlier run helps


def registration_growth(label: str, format_name: str, level: str, version, versions: int) -> None:
    """Register ``versions`` versions (``version(i, history)``) of each of HISTORIES subjects;
    figure: the mean of versions 91-100 over that of versions 1-10, each version's fastest of the
    subjects (CPU time of this thread: a shared machine still disturbs it, the minimum less so)."""
    first = next(_RUNS) * (HISTORIES + 1)
    with tempfile.TemporaryDirectory() as tmp:
        service = RegistryService(Store(f"sqlite:///{tmp}/registry.db"))
        service.register("bench.WarmUp", version(versions, first + HISTORIES), format_name)  # imports
        for history in range(HISTORIES):
            service.set_config(f"bench.History{history}", level)
        samples = [[] for _ in range(versions)]
        walls = [[] for _ in range(versions)]
        for history in range(HISTORIES):
            for index in range(versions):
                start, wall = time.thread_time(), time.perf_counter()
                service.register(f"bench.History{history}", version(index, first + history), format_name)
                samples[index].append((time.thread_time() - start) * 1000)
                walls[index].append((time.perf_counter() - wall) * 1000)
        timings = [min(times) for times in samples]
        wall_timings = [min(times) for times in walls]
        service.store.close()
    last = statistics.mean(timings[-10:])
    figure(
        f"{label} register at {level}, versions {versions - 9}-{versions} vs 1-10",
        last,
        statistics.mean(timings[:10]),
        "ms CPU",
        "the issue's measure (version 1 checks nothing)",
    )
    figure(
        f"{label} register at {level}, versions {versions - 9}-{versions} vs 6-15",
        last,
        statistics.mean(timings[5:15]),
        "ms CPU",
        "around version 100 vs around version 10; target: within 1.5x",
    )
    figure(
        f"{label} register at {level}, versions {versions - 9}-{versions} vs 6-15, wall",
        statistics.mean(wall_timings[-10:]),
        statistics.mean(wall_timings[5:15]),
        "ms",
        "wall time, each version's fastest of the subjects",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=VERSIONS, help="history length (default 100)")
    args = parser.parse_args()
    if args.versions < 20:
        sys.exit("--versions: at least 20 (the figure compares the last 10 with the first 10)")
    bench_avro()
    bench_protobuf()
    for level in ("BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"):
        registration_growth("avro", "AVRO", level, avro_history, args.versions)
        registration_growth("protobuf", "PROTOBUF", level, proto_history, args.versions)


if __name__ == "__main__":
    main()
