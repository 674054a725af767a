"""Watch latency and drain rate.

1. Fan-out latency: SUBSCRIBERS concurrent Watch streams (grpc.aio, one process) on a registry in
   its own process (SQLite). For each of ROUNDS registrations: the time from the Register call
   returning to the event arriving at each subscriber (p50, p99 over every subscriber × round).
   Baseline in the same run: the round trip of one unary GetSchemaById on the same channel
   (what "asking the registry" costs instead of being told).
2. Drain: one subscriber replays EVENTS events from sequence 0 (events/s). Baseline in the same
   run: reading the same log straight from the store (``EventLog.read`` pages, no gRPC).

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
        call = stubs[index % len(stubs)].Watch(pb.WatchRequest(after_sequence=start_after))
        ready += 1
        async for response in call:
            if response.HasField("event"):
                arrivals.setdefault(response.event.sequence, []).append(time.perf_counter())

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


async def drain(target: str, events: int) -> float:
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.ContractRegistryStub(channel).Watch(pb.WatchRequest(after_sequence=0))
        start = time.perf_counter()
        received = 0
        async for response in call:
            if response.HasField("event"):
                received += 1
                if received == events:
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
            result = asyncio.run(fan_out(server.grpc_target, args.subscribers, args.rounds))
        finally:
            server.stop()
        ms = [v * 1000 for v in result["latencies"]]
        unary = [v * 1000 for v in result["unary"]]
        p50, p99 = _percentile(ms, 0.5), _percentile(ms, 0.99)
        unary_p50 = statistics.median(unary)
        print(f"fan-out: {args.subscribers} subscribers x {args.rounds} registrations")
        print(
            f"  register returned -> event at subscriber: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(ms):.2f} ms"
        )
        print(
            f"  {result['early']} of {len(ms)} arrivals came before the Register call returned (counted as 0)"
        )
        issued = [v * 1000 for v in result["from_call"]]
        register_p50 = statistics.median(v * 1000 for v in result["register"])
        print(
            f"  register issued -> event at subscriber: p50 {_percentile(issued, 0.5):.2f} ms, "
            f"p99 {_percentile(issued, 0.99):.2f} ms (the Register round trip itself: p50 {register_p50:.2f} ms)"
        )
        print(f"  baseline: one unary GetSchemaById round trip p50 {unary_p50:.2f} ms")
        print(
            f"  ratio: p99 after the return / unary round trip {p99 / unary_p50:.1f}x; "
            f"p50 issued -> event / Register round trip {_percentile(issued, 0.5) / register_p50:.2f}x"
        )

        service = RegistryService(Store(url))  # the log now holds the fan-out's events too
        written = args.rounds
        while written < args.events:
            service.set_config(None, ("FULL", "BACKWARD")[written % 2])
            written += 1
        service.store.close()
        server = start_subprocess(url)
        try:
            rates = [asyncio.run(drain(server.grpc_target, args.events)) for _ in range(3)]
        finally:
            server.stop()
        baseline = max(store_read_rate(url, args.events) for _ in range(3))
        rate = max(rates)
        print(f"drain: one subscriber replays {args.events} events: {rate:,.0f} events/s (best of 3)")
        print(f"  baseline: reading the log straight from the store: {baseline:,.0f} events/s")
        print(f"  ratio: {rate / baseline:.0%} of the store's read rate")


if __name__ == "__main__":
    main()
