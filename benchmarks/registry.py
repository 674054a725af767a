"""Registry read throughput next to a bare grpc.aio echo server, and register latency.

Both servers run in their own process (SQLite store for the registry); one load generator
(grpc.aio, CONCURRENCY requests in flight) measures requests/s and p99 latency of GetSchemaById and
GetSchemaByVersion (latest) against each, in the same run. The echo server answers the same RPCs
with a prebuilt response of the same size and does nothing else, so the ratio is the registry's
overhead (service, caches, worker thread, store query) over gRPC itself. Target: ratio >= 70 %.
Then: latency of registering 100 versions of one subject at BACKWARD_TRANSITIVE.

    .venv/bin/python benchmarks/registry.py [--seconds 1] [--rounds 5] [--concurrency 16]
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


async def _load(target: str, method: str, request, seconds: float, concurrency: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of ``method`` under ``concurrency`` callers."""
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

        begin = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs)


def _register_latency(target: str, versions: int) -> list[float]:
    with RegistryClient(target, timeout=60) as client:
        client.set_config(SUBJECT + ".transitive", "BACKWARD_TRANSITIVE")
        timings = []
        for index in range(versions):
            start = time.perf_counter()
            client.register(SUBJECT + ".transitive", _version(index))
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per server; medians reported"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(_serve_echo())
        return

    with tempfile.TemporaryDirectory() as tmp:
        registry = start_subprocess(f"sqlite:///{tmp}/registry.db")
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
                f"cpus {os.cpu_count()}, {args.concurrency} requests in flight, "
                f"median of {args.rounds} alternating {args.seconds:g}s rounds"
            )
            print(
                f"{'call':<12}{'registry req/s':>16}{'p99 ms':>9}{'echo req/s':>12}{'p99 ms':>9}{'ratio':>8}"
            )
            for label, method, request in cases:
                ours, base = [], []
                for _ in range(args.rounds):  # alternate, so both see the same background load
                    ours.append(
                        asyncio.run(
                            _load(registry.grpc_target, method, request, args.seconds, args.concurrency)
                        )
                    )
                    base.append(
                        asyncio.run(_load(echo_target, method, request, args.seconds, args.concurrency))
                    )
                (ours_rps, ours_p99), (base_rps, base_p99) = _median(ours), _median(base)
                ratio = ours_rps / base_rps
                verdict = "ok" if ratio >= 0.7 else "BELOW 70% TARGET"
                print(
                    f"{label:<12}{ours_rps:>16.0f}{ours_p99:>9.2f}{base_rps:>12.0f}{base_p99:>9.2f}{ratio:>7.0%} {verdict}"
                )
            timings = _register_latency(registry.grpc_target, args.versions)
            print(
                f"register at BACKWARD_TRANSITIVE, {args.versions} versions: "
                f"median {statistics.median(timings):.1f} ms, p99 {sorted(timings)[int(len(timings) * 0.99) - 1]:.1f} ms, "
                f"first 10 mean {statistics.mean(timings[:10]):.1f} ms, last 10 mean {statistics.mean(timings[-10:]):.1f} ms"
            )
        finally:
            registry.stop()
            echo.terminate()
            echo.wait(10)


if __name__ == "__main__":
    main()
