"""Registry read throughput next to a bare grpc.aio echo server, and register latency.

Both servers run in their own process (SQLite store for the registry, holding SCHEMAS subjects of
one schema each); one load generator (grpc.aio, CONCURRENCY requests in flight) measures requests/s
and p99 latency of GetSchemaById and GetSchemaByVersion (latest) against each, in the same run, the
requests spread over every schema (each caller walks its own shuffled order), so the registry's
caches meet cold entries as a real fleet of consumers makes them do. The hit and miss counts of the
registry's caches (``meshgate_cache_lookups_total`` on ``/metrics``) are reported beside the
throughput. The echo server answers the same RPCs with a prebuilt response of the same size and
does nothing else, so the ratio is the registry's overhead (service, caches, worker thread, store
query) over gRPC itself. Target: ratio >= 90 %.
Then: latency of registering 100 versions of one subject at BACKWARD_TRANSITIVE (each version one
field more), and registrations/s of new subjects with CONCURRENCY writers. ``--database-url`` runs the registry on another store (e.g.
PostgreSQL: ``postgresql+psycopg://127.0.0.1/test``, a fresh schema made and dropped for the run).

    .venv/bin/python -m benchmarks.registry [--seconds 1] [--rounds 5] [--concurrency 16] [--schemas 10000]
        [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import httpx  # noqa: E402

from benchmarks._report import figure  # noqa: E402
from registry.api import registry_pb2 as pb  # noqa: E402
from registry.api import registry_pb2_grpc as pb_grpc  # noqa: E402
from registry.client import RegistryClient  # noqa: E402
from registry.server import start_subprocess  # noqa: E402
from registry.service import RegistryService  # noqa: E402
from registry.store import Store  # noqa: E402

SUBJECT = "bench.Orders"
SCHEMA = (ROOT / "examples/contracts/checkout/checkout_completed.avsc").read_text()


def _version(index: int) -> str:
    """The checkout schema plus ``index`` optional fields: each version reads every earlier one."""
    schema = json.loads(SCHEMA)
    schema["fields"] += [
        {"name": f"extra_{i}", "type": ["null", "string"], "default": None} for i in range(index)
    ]
    return json.dumps(schema)


# ---- the baseline: a grpc.aio server that answers from memory


class _Echo(pb_grpc.ContractRegistryServicer):
    def __init__(self):
        self.schema = pb.Schema(id=1, format="AVRO", schema=SCHEMA)
        self.version = pb.SchemaVersion(subject=SUBJECT, version=1, schema_id=1, format="AVRO", schema=SCHEMA)

    async def GetSchemaById(self, request, context):
        return self.schema

    async def GetSchemaByVersion(self, request, context):
        return self.version


async def _serve_echo() -> None:
    server = grpc.aio.server()
    pb_grpc.add_ContractRegistryServicer_to_server(_Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"grpc_port": port}), flush=True)
    await server.wait_for_termination()


# ---- the load generator


@dataclass
class Round:
    rps: float
    p99_ms: float
    server_cpu_us: float  # server CPU time per request: steady even when other work shares the machine


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    target: str, pid: int, method: str, requests: list, seconds: float, concurrency: int
) -> Round:
    """Drive ``method`` with ``concurrency`` callers for ``seconds``, each walking ``requests`` in its
    own shuffled order; measure the server ``pid`` too."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        call = getattr(pb_grpc.ContractRegistryStub(channel), method)
        for request in requests[:200]:  # warm up: the connection (and as many cache entries)
            await call(request)
        deadline = time.perf_counter() + seconds

        async def caller(seed: int) -> None:
            order = random.Random(seed).sample(requests, len(requests))
            index = 0
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await call(order[index % len(order)])
                latencies.append(time.perf_counter() - start)
                index += 1

        cpu_before, begin = _cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(caller(seed) for seed in range(concurrency)))
        elapsed, cpu = time.perf_counter() - begin, _cpu_seconds(pid) - cpu_before
    latencies.sort()
    return Round(
        len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000, cpu / len(latencies) * 1e6
    )


def _rss_mib(pid: int) -> float:
    """Resident set size of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _idle_serve_rss(data_dir: str) -> float:
    """RSS of ``meshgate serve`` (console mounted, no auth) two seconds after it listens."""
    command = [sys.executable, "-m", "meshgate.cli", "serve", "--grpc-port", "0", "--http-port", "0"]
    serve = subprocess.Popen(
        [*command, "--data-dir", data_dir, "--no-auth"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        serve.stdout.readline()  # the line of bound ports: it listens
        time.sleep(2)
        return _rss_mib(serve.pid)
    finally:
        serve.terminate()
        serve.wait(10)


def _lookups(http_url: str, method: str) -> dict[str, float]:
    """The registry's cache hit and miss counts so far for a gRPC method (its /metrics)."""
    text = httpx.get(f"{http_url}/metrics").text
    counts = {"hit": 0.0, "miss": 0.0}
    pattern = (
        rf'^meshgate_cache_lookups_total{{method="{method}",result="(hit|miss)",transport="grpc"}} (\S+)$'
    )
    for match in re.finditer(pattern, text, re.MULTILINE):
        counts[match[1]] = float(match[2])
    return counts


def _populate(url: str, schemas: int) -> list[tuple[str, int]]:
    """``schemas`` subjects of one small schema each, written straight to the store: (subject, id)."""
    service = RegistryService(Store(url))
    subjects = []
    for n in range(schemas):
        schema = json.loads(SCHEMA)
        schema["name"] = f"Orders{n}"
        subject = f"bench.Orders{n}"
        subjects.append((subject, service.register(subject, json.dumps(schema)).schema_id))
    service.store.close()
    return subjects


def _median(rounds: list[Round]) -> Round:
    return Round(
        *(statistics.median(getattr(r, name) for r in rounds) for name in ("rps", "p99_ms", "server_cpu_us"))
    )


def _register_latency(target: str, versions: int) -> list[float]:
    with RegistryClient(target, timeout=60) as client:
        client.set_config(SUBJECT + ".transitive", "BACKWARD_TRANSITIVE")
        timings = []
        for index in range(versions):
            start = time.perf_counter()
            client.register(SUBJECT + ".transitive", _version(index))
            timings.append((time.perf_counter() - start) * 1000)
    return timings


async def _registrations(target: str, seconds: float, concurrency: int) -> float:
    """Registrations/s of new subjects (one version each) with ``concurrency`` writers."""
    done = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.ContractRegistryStub(channel)
        deadline = time.perf_counter() + seconds

        async def writer(index: int) -> None:
            nonlocal done
            count = 0
            while time.perf_counter() < deadline:
                subject = f"bench.writes.w{index}.s{count}"
                await stub.Register(pb.RegisterRequest(subject=subject, format="AVRO", schema=SCHEMA))
                count += 1
            done += count

        begin = time.perf_counter()
        await asyncio.gather(*(writer(index) for index in range(concurrency)))
        return done / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per server; medians reported"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--schemas", type=int, default=10_000, help="subjects the lookups spread over")
    parser.add_argument("--database-url", help="registry store (default: a temporary SQLite file)")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(_serve_echo())
        return

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/registry.db"
        started = time.perf_counter()
        subjects = _populate(url, args.schemas)
        print(f"setup: {args.schemas} subjects registered in {time.perf_counter() - started:.0f} s")
        registry = start_subprocess(url)
        echo = subprocess.Popen(
            [sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True
        )
        try:
            echo_target = f"127.0.0.1:{json.loads(echo.stdout.readline())['grpc_port']}"
            figure(
                "meshgate serve idle RSS",
                _idle_serve_rss(f"{tmp}/serve"),
                _rss_mib(echo.pid),
                "MiB",
                "baseline: the bare grpc.aio echo process; target < 100 MiB",
            )
            cases = [
                ("get by id", "GetSchemaById", [pb.GetSchemaByIdRequest(id=i) for _, i in subjects]),
                (
                    "get latest",
                    "GetSchemaByVersion",
                    [pb.GetSchemaByVersionRequest(subject=s, version=0) for s, _ in subjects],
                ),
            ]
            print(
                f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, {args.concurrency} requests "
                f"in flight over {args.schemas} schemas, median of {args.rounds} alternating {args.seconds:g}s rounds"
            )
            for label, method, requests in cases:
                ours, base = [], []
                before = _lookups(registry.http_url, method)
                for _ in range(args.rounds):  # alternate, so both see the same background load
                    ours.append(
                        asyncio.run(
                            _load(
                                registry.grpc_target,
                                registry.process.pid,
                                method,
                                requests,
                                args.seconds,
                                args.concurrency,
                            )
                        )
                    )
                    base.append(
                        asyncio.run(
                            _load(echo_target, echo.pid, method, requests, args.seconds, args.concurrency)
                        )
                    )
                after = _lookups(registry.http_url, method)
                hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
                a, b = _median(ours), _median(base)
                print(
                    f"{label}: registry p99 {a.p99_ms:.2f} ms, {a.server_cpu_us:.0f} us CPU/request; echo p99 "
                    f"{b.p99_ms:.2f} ms, {b.server_cpu_us:.0f} us CPU/request; registry caches: "
                    f"{hits / max(1.0, hits + misses):.1%} hits, {misses / max(1.0, hits + misses):.1%} misses "
                    f"({hits:.0f} / {misses:.0f})"
                )
                figure(
                    f"registry {label}, req/s",
                    a.rps,
                    b.rps,
                    "req/s",
                    "baseline: grpc.aio echo; target >= 0.9",
                )
                figure(
                    f"registry {label}, server CPU per request",
                    b.server_cpu_us,
                    a.server_cpu_us,
                    "us",
                    "value: echo, baseline: registry (the throughput ratio with a core each)",
                )
                figure(f"registry {label}, cache hits", hits, hits + misses, "lookups", "ratio: the hit rate")
            timings = _register_latency(registry.grpc_target, args.versions)
            print(
                f"register at BACKWARD_TRANSITIVE, {args.versions} versions (one field more each): median "
                f"{statistics.median(timings):.1f} ms, p99 {sorted(timings)[int(len(timings) * 0.99) - 1]:.1f} ms"
            )
            figure(
                f"registry register at BACKWARD_TRANSITIVE, versions {args.versions - 9}-{args.versions} vs 1-10",
                statistics.mean(timings[-10:]),
                statistics.mean(timings[:10]),
                "ms",
                "over gRPC; target within 1.5x",
            )
            rate = asyncio.run(
                _registrations(registry.grpc_target, args.seconds * args.rounds, args.concurrency)
            )
            print(f"register new subjects, {args.concurrency} writers: {rate:.0f} registrations/s")
        finally:
            registry.stop()
            echo.terminate()
            echo.wait(10)


if __name__ == "__main__":
    main()
