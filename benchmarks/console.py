"""Web console server time: the subject list over 10,000 subjects, and a diff of two 500-field versions.

A registry server (SQLite, auth off) with the console runs in this process; requests go over
loopback HTTP (httpx), so each time is the server's time plus one local round trip. Baseline in the
same run, on the same server: the Confluent REST ``GET /subjects`` (every name, JSON), which the
ratios below divide by.

- subject list: the first page (50 rows) cold (the console's first look at the event log and the
  page's summaries) and warm; a name search; a filter on the level (a summary of every subject);
- diff: two versions of a 500-field Avro record (50 fields change type, 50 are added), with the
  compatibility findings at all seven levels and pygments on both sides.

    .venv/bin/python -m benchmarks.console [--subjects 10000] [--fields 500] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks._report import figure  # noqa: E402
from meshgate.console import LakehouseLocation, console_routes  # noqa: E402
from registry.server import RegistryServer, ThreadedServer  # noqa: E402
from registry.store import sqlite_url  # noqa: E402


def _record(name: str, fields: int, changed: int = 0, added: int = 0) -> str:
    """A record of ``fields`` long fields; the first ``changed`` become strings, ``added`` more come last."""
    items = [
        {"name": f"f{i:03d}", "type": "string" if i < changed else "long", "doc": f"field {i}"}
        for i in range(fields)
    ]
    items += [{"name": f"extra{i:03d}", "type": "long"} for i in range(added)]
    return json.dumps({"type": "record", "name": name, "fields": items}, indent=2)


def _median_ms(client: httpx.Client, path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--fields", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshgate-bench-console-") as tmp:
        server = RegistryServer(
            sqlite_url(tmp), http_routes=lambda s: console_routes(s, LakehouseLocation(tmp))
        )
        threaded = ThreadedServer(server)
        threaded.start()
        try:
            service = server.service
            started = time.perf_counter()
            for n in range(args.subjects):
                service.register(f"domain{n % 20:02d}.Subject{n:05d}", _record(f"S{n}", 3), "AVRO")
            print(f"setup: {args.subjects} subjects registered in {time.perf_counter() - started:.0f} s")
            service.register("bench.Wide", _record("Wide", args.fields), "AVRO")
            service.set_config("bench.Wide", "NONE")
            service.register("bench.Wide", _record("Wide", args.fields, changed=50, added=50), "AVRO")
            service.set_config("bench.Wide", "BACKWARD")
            with httpx.Client(base_url=server.http_url, timeout=120) as client:
                cold_start = time.perf_counter()
                client.get("/ui/").raise_for_status()
                cold = (time.perf_counter() - cold_start) * 1000
                baseline = _median_ms(client, "/subjects", args.repeat)
                results = {
                    "subject list, first page (warm)": _median_ms(client, "/ui/", args.repeat),
                    "subject list, search 'Subject0999'": _median_ms(
                        client, "/ui/?q=Subject0999", args.repeat
                    ),
                    "subject list, filter level=BACKWARD": _median_ms(
                        client, "/ui/?level=BACKWARD", args.repeat
                    ),
                    f"diff of two {args.fields}-field versions": _median_ms(
                        client, "/ui/diff/bench.Wide?from=1&to=2", max(3, args.repeat // 4)
                    ),
                }
        finally:
            threaded.stop()
    print(f"baseline: REST GET /subjects ({args.subjects + 1} names)")
    figure("console subject list, first page (cold)", cold, baseline, "ms", "baseline: REST GET /subjects")
    for name, ms in results.items():
        figure(f"console {name}", ms, baseline, "ms", "baseline: REST GET /subjects")


if __name__ == "__main__":
    main()
