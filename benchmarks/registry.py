"""Registry read throughput next to a bare grpc.aio echo server, and register latency.

Both servers run in their own process (SQLite store for the registry); one load generator
(grpc.aio, CONCURRENCY requests in flight) measures requests/s and p99 latency of GetSchemaById and
GetSchemaByVersion (latest) against each, in the same run. The echo server answers the same RPCs
with a prebuilt response of the same size and does nothing else, so the ratio is the registry's
overhead (service, caches, worker thread, store query) over gRPC itself. Target: ratio >= 70 %.
Then: latency of registering 100 versions of one subject at BACKWARD_TRANSITIVE, and registrations/s
of new subjects with CONCURRENCY writers. ``--database-url`` runs the registry on another store (e.g.
PostgreSQL: ``postgresql+psycopg://127.0.0.1/test``, a fresh schema made and dropped for the run).

    .venv/bin/python benchmarks/registry.py [--seconds 1] [--rounds 5] [--concurrency 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from registry.api import registry_pb2 as pb  # noqa: E402
from registry.api import registry_pb2_grpc as pb_grpc  # noqa: E402
from registry.client import RegistryClient  # noqa: E402
from registry.server import start_subprocess  # noqa: E402

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


async def _load(target: str, pid: int, method: str, request, seconds: float, concurrency: int) -> Round:
    """Drive ``method`` with ``concurrency`` callers for ``seconds``; measure the server ``pid`` too."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        call = getattr(pb_grpc.ContractRegistryStub(channel), method)
        for _ in range(200):  # warm up: connection, caches
            await call(request)
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await call(request)
                latencies.append(time.perf_counter() - start)

        cpu_before, begin = _cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - begin, _cpu_seconds(pid) - cpu_before
    latencies.sort()
    return Round(
        len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000, cpu / len(latencies) * 1e6
    )


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
    parser.add_argument("--database-url", help="registry store (default: a temporary SQLite file)")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(_serve_echo())
        return

    with tempfile.TemporaryDirectory() as tmp:
        registry = start_subprocess(args.database_url or f"sqlite:///{tmp}/registry.db")
        echo = subprocess.Popen(
            [sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True
        )
        try:
            echo_target = f"127.0.0.1:{json.loads(echo.stdout.readline())['grpc_port']}"
            with RegistryClient(registry.grpc_target) as client:
                schema_id = client.register(SUBJECT, SCHEMA).schema_id
            cases = [
                ("get by id", "GetSchemaById", pb.GetSchemaByIdRequest(id=schema_id)),
                (
                    "get latest",
                    "GetSchemaByVersion",
                    pb.GetSchemaByVersionRequest(subject=SUBJECT, version=0),
                ),
            ]
            print(
                f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, {args.concurrency} requests "
                f"in flight, median of {args.rounds} alternating {args.seconds:g}s rounds"
            )
            print(
                f"{'call':<11}{'registry req/s':>15}{'p99 ms':>8}{'cpu us/req':>11}"
                f"{'echo req/s':>12}{'p99 ms':>8}{'cpu us/req':>11}{'req/s ratio':>12}{'cpu ratio':>10}"
            )
            for label, method, request in cases:
                ours, base = [], []
                for _ in range(args.rounds):  # alternate, so both see the same background load
                    ours.append(
                        asyncio.run(
                            _load(
                                registry.grpc_target,
                                registry.process.pid,
                                method,
                                request,
                                args.seconds,
                                args.concurrency,
                            )
                        )
                    )
                    base.append(
                        asyncio.run(
                            _load(echo_target, echo.pid, method, request, args.seconds, args.concurrency)
                        )
                    )
                a, b = _median(ours), _median(base)
                print(
                    f"{label:<11}{a.rps:>15.0f}{a.p99_ms:>8.2f}{a.server_cpu_us:>11.0f}"
                    f"{b.rps:>12.0f}{b.p99_ms:>8.2f}{b.server_cpu_us:>11.0f}"
                    f"{a.rps / b.rps:>12.0%}{b.server_cpu_us / a.server_cpu_us:>10.0%}"
                )
            print(
                "req/s ratio: registry over echo throughput (target >= 70%); cpu ratio: echo's server CPU per "
                "request over the registry's, i.e. the throughput ratio when each server has a core to itself."
            )
            timings = _register_latency(registry.grpc_target, args.versions)
            print(
                f"register at BACKWARD_TRANSITIVE, {args.versions} versions: "
                f"median {statistics.median(timings):.1f} ms, p99 {sorted(timings)[int(len(timings) * 0.99) - 1]:.1f} ms, "
                f"first 10 mean {statistics.mean(timings[:10]):.1f} ms, last 10 mean {statistics.mean(timings[-10:]):.1f} ms"
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
