"""Watch latency and drain rate.

Subscribers ask for batches (``WatchRequest.batch``: many events a message when behind), as the SDK does.

1. Fan-out latency: SUBSCRIBERS concurrent Watch streams (grpc.aio, one process) on a registry in
   its own process (SQLite). For each of ROUNDS registrations: the time from the Register call
   returning to the event arriving at each subscriber (p50, p99 over every subscriber × round).
   Baseline in the same run: the round trip of one unary GetSchemaById on the same channel
   (what "asking the registry" costs instead of being told).
   Target: p99 < 20 ms.
2. Drain: one subscriber replays EVENTS events from sequence 0 (events/s), batched, and as an old
   client that does not ask for batches (one event a message). Baseline in the same run: reading the
   same log straight from the store (``EventLog.read`` pages, no gRPC). Target: batched >= 60 %.

    .venv/bin/python -m benchmarks.watch [--subscribers 100] [--rounds 30] [--events 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from benchmarks._report import figure  # noqa: E402
from benchmarks.registry import _cpu_seconds  # noqa: E402
from registry.api import registry_pb2 as pb  # noqa: E402
from registry.api import registry_pb2_grpc as pb_grpc  # noqa: E402
from registry.events import EventLog  # noqa: E402
from registry.server import start_subprocess  # noqa: E402
from registry.service import RegistryService  # noqa: E402
from registry.store import Store  # noqa: E402

SCHEMA = '{"type": "record", "name": "E", "fields": [{"name": "id", "type": "string"}]}'


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fan_out(target: str, subscribers: int, rounds: int) -> dict:
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    stubs = [pb_grpc.ContractRegistryStub(channel) for channel in channels]
    arrivals: dict[int, list[float]] = {}
    ready = 0
    start_after = 0

    async def subscribe(index: int) -> None:
        nonlocal ready
        call = stubs[index % len(stubs)].Watch(pb.WatchRequest(after_sequence=start_after, batch=True))
        ready += 1
        async for response in call:
            arrived = time.perf_counter()
            for event in response.events:
                arrivals.setdefault(event.sequence, []).append(arrived)

    tasks = [asyncio.create_task(subscribe(i)) for i in range(subscribers)]
    while ready < subscribers:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # every stream open on the server
    stub = stubs[0]
    latencies, from_call, register_rtt, early, unary = [], [], [], 0, []
    for index in range(rounds):
        issued = time.perf_counter()
        registered = await stub.Register(
            pb.RegisterRequest(subject=f"bench.E{index}", schema=SCHEMA, format="AVRO")
        )
        returned = time.perf_counter()
        register_rtt.append(returned - issued)
        sequence = index + 1
        while len(arrivals.get(sequence, ())) < subscribers:
            await asyncio.sleep(0.0005)
        for arrived in arrivals[sequence]:
            early += arrived < returned
            latencies.append(max(0.0, arrived - returned))
            from_call.append(arrived - issued)
        before = time.perf_counter()
        await stub.GetSchemaById(pb.GetSchemaByIdRequest(id=registered.schema_id))
        unary.append(time.perf_counter() - before)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return {
        "latencies": latencies,
        "from_call": from_call,
        "register": register_rtt,
        "early": early,
        "unary": unary,
    }


async def drain(target: str, events: int, batch: bool) -> float:
    """Events/s of one subscriber replaying ``events`` from the start (``batch``: as the SDK asks)."""
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.ContractRegistryStub(channel).Watch(pb.WatchRequest(after_sequence=0, batch=batch))
        start = time.perf_counter()
        received = 0
        async for response in call:
            received += len(response.events) if batch else response.HasField("event")
            if received >= events:
                break
        elapsed = time.perf_counter() - start
        call.cancel()
    return events / elapsed


def store_read_rate(url: str, events: int) -> float:
    store = Store(url)
    log = EventLog(store)
    start = time.perf_counter()
    cursor, read = 0, 0
    while read < events:
        page = log.read(cursor, 500)
        read += len(page)
        cursor = page[-1].sequence
    elapsed = time.perf_counter() - start
    store.close()
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/registry.db"
        server = start_subprocess(url)
        try:
            cpu_before = _cpu_seconds(server.process.pid)
            result = asyncio.run(fan_out(server.grpc_target, args.subscribers, args.rounds))
            server_cpu_ms = (_cpu_seconds(server.process.pid) - cpu_before) * 1000 / args.rounds
        finally:
            server.stop()
        ms = [v * 1000 for v in result["latencies"]]
        unary = [v * 1000 for v in result["unary"]]
        p50, p99 = _percentile(ms, 0.5), _percentile(ms, 0.99)
        unary_p50 = statistics.median(unary)
        print(f"fan-out: {args.subscribers} subscribers x {args.rounds} registrations (batched streams)")
        print(
            f"  p50 {p50:.2f} ms, max {max(ms):.2f} ms; {result['early']} of {len(ms)} arrivals came before the "
            "Register call returned (counted as 0)"
        )
        issued = [v * 1000 for v in result["from_call"]]
        register_p50 = statistics.median(v * 1000 for v in result["register"])
        figure(
            "watch fan-out p99, register returned to event",
            p99,
            unary_p50,
            "ms",
            "baseline: one unary GetSchemaById round trip (p50); target < 20 ms",
        )
        figure(
            "watch fan-out p50, register issued to event",
            _percentile(issued, 0.5),
            register_p50,
            "ms",
            "baseline: the Register round trip (p50)",
        )
        figure(  # not flattered by a Register answer that waits behind the fan-out, unlike the p99 above
            "watch fan-out p99, register issued to event",
            _percentile(issued, 0.99),
            _percentile([v * 1000 for v in result["register"]], 0.99),
            "ms",
            "baseline: the Register round trip (p99)",
        )
        figure(
            "watch fan-out, server CPU per registration",
            server_cpu_ms,
            statistics.median(unary),
            "ms",
            f"the Register and its event written to {args.subscribers} streams; steadier under load "
            "than latency; baseline: one unary round trip (p50)",
        )

        service = RegistryService(Store(url))  # the log now holds the fan-out's events too
        written = args.rounds
        while written < args.events:
            service.set_config(None, ("FULL", "BACKWARD")[written % 2])
            written += 1
        service.store.close()
        server = start_subprocess(url)
        try:
            batched = max(asyncio.run(drain(server.grpc_target, args.events, True)) for _ in range(3))
            single = max(asyncio.run(drain(server.grpc_target, args.events, False)) for _ in range(3))
        finally:
            server.stop()
        baseline = max(store_read_rate(url, args.events) for _ in range(3))
        print(f"drain: one subscriber replays {args.events} events (best of 3)")
        figure(
            "watch replay, batched",
            batched,
            baseline,
            "events/s",
            "baseline: the store's read rate; target >= 0.6",
        )
        figure(
            "watch replay, one event a message (old clients)",
            single,
            baseline,
            "events/s",
            "baseline: the store's read rate",
        )


if __name__ == "__main__":
    main()
