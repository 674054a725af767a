"""How long ``contract-check`` takes on a repository with 50 contracts of which 5 changed.

Builds a scratch git repository (40 Avro + 10 Protobuf contracts on ``main``, a ``feature`` branch
changing 5 of them compatibly), then times, as a CI job would run them (the console script, a fresh
process each time, median of several runs):
  - ``contract-check --against main``          offline, the figure asked for;
  - ``contract-check --registry ...``           against a real registry (all 50 registered);
  - baseline: ``contract-check --against main`` on a branch that changes no contract (the fixed cost:
    process start, imports, git, reading 50 contract files);
  - ``run_check`` in-process with imports warm (the work itself, without process start);
  - baseline: ``contract-check diff`` run once per changed schema (5 processes): the bare comparisons.

Run: .venv/bin/python benchmarks/contract_check.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import figure  # noqa: E402
from ci_plugin.cli import run_check  # noqa: E402
from registry.client import RegistryClient  # noqa: E402
from registry.contract import load_contract  # noqa: E402
from registry.server import RegistryServer, ThreadedServer  # noqa: E402

CONTRACT_CHECK = str(Path(sys.executable).with_name("contract-check"))
AVRO_COUNT, PROTO_COUNT, CHANGED = 40, 10, 5


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def avro_schema(index: int, extra: bool = False) -> str:
    fields = [{"name": f"field_{n}", "type": ["string", "long", "double"][n % 3]} for n in range(12)]
    if extra:
        fields.append({"name": "added", "type": ["null", "string"], "default": None})
    return json.dumps(
        {"type": "record", "name": f"Event{index}", "namespace": "bench", "fields": fields}, indent=2
    )


def proto_schema(index: int, extra: bool = False) -> str:
    fields = "".join(f"  string field_{n} = {n + 1};\n" for n in range(12))
    if extra:
        fields += "  string added = 20;\n"
    return f'syntax = "proto3";\npackage bench.v1;\n\nmessage Event{index} {{\n{fields}}}\n'


def build_repo(root: Path) -> list[Path]:
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "bench")
    git(root, "config", "user.email", "bench@example.test")
    (root / "meshgate.yaml").write_text("default_branch: main\ncontracts:\n  - contracts/**/*.yaml\n")
    for index in range(AVRO_COUNT + PROTO_COUNT):
        avro = index < AVRO_COUNT
        folder = root / "contracts" / f"domain{index % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        schema_name = f"event{index}.{'avsc' if avro else 'proto'}"
        (folder / schema_name).write_text(avro_schema(index) if avro else proto_schema(index))
        (folder / f"event{index}.yaml").write_text(
            f"subject: domain{index % 5}.Event{index}\nformat: {'AVRO' if avro else 'PROTOBUF'}\n"
            f"schema: {schema_name}\ncompatibility: BACKWARD\n"
        )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "50 contracts")
    git(root, "branch", "unchanged")
    git(root, "checkout", "-q", "-b", "feature")
    changed = []
    for index in (0, 11, 22, 33, AVRO_COUNT + 4):  # 4 Avro, 1 Protobuf
        avro = index < AVRO_COUNT
        path = root / "contracts" / f"domain{index % 5}" / f"event{index}.{'avsc' if avro else 'proto'}"
        path.write_text(avro_schema(index, extra=True) if avro else proto_schema(index, extra=True))
        changed.append(path)
    git(root, "commit", "-q", "-am", "5 compatible changes")
    return changed


def timed(command: list[str], cwd: Path, expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stdout}{done.stderr}")
    return elapsed


def in_process_check(root: Path) -> float:
    """``run_check`` in this process, imports already warm: the work without the process start."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        start = time.perf_counter()
        report = run_check(against="main")
        elapsed = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    assert len(report.results) == CHANGED and not report.breaking
    return elapsed


def median_of(runs: int, measure) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-contract-check-") as scratch:
        root = Path(scratch) / "repo"
        root.mkdir()
        changed = build_repo(root)

        offline = median_of(runs, lambda: timed([CONTRACT_CHECK, "--against", "main"], root))
        in_process = median_of(runs, lambda: in_process_check(root))
        git(root, "checkout", "-q", "unchanged")
        fixed = median_of(runs, lambda: timed([CONTRACT_CHECK, "--against", "main"], root))
        git(root, "checkout", "-q", "feature")

        def diffs() -> float:
            total = 0.0
            for path in changed:
                relative = path.relative_to(root).as_posix()
                old = Path(scratch) / f"old-{path.name}"
                old.write_text(git(root, "show", f"main:{relative}") + "\n")
                kind = "avro" if path.suffix == ".avsc" else "protobuf"
                total += timed([CONTRACT_CHECK, "diff", "--format", kind, str(old), str(path)], root)
            return total

        bare_diffs = median_of(runs, diffs)

        server = RegistryServer(f"sqlite:///{Path(scratch) / 'registry.db'}")
        threaded = ThreadedServer(server)
        threaded.start()
        try:
            git(root, "checkout", "-q", "main")
            with RegistryClient(server.grpc_target) as client:
                for yaml_path in sorted(root.glob("contracts/*/*.yaml")):
                    client.register(load_contract(yaml_path))
            git(root, "checkout", "-q", "feature")
            online = median_of(runs, lambda: timed([CONTRACT_CHECK, "--registry", server.grpc_target], root))
        finally:
            threaded.stop()

    print(
        f"repository: {AVRO_COUNT + PROTO_COUNT} contracts ({AVRO_COUNT} Avro, {PROTO_COUNT} Protobuf), {CHANGED} changed"
    )
    print(f"median of {runs} runs, each a fresh process as in CI")
    figure(
        "contract-check --against main", offline * 1000, fixed * 1000, "ms", "baseline: no contract changed"
    )
    figure(
        "contract-check --against main vs diffs",
        offline * 1000,
        bare_diffs * 1000,
        "ms",
        "baseline: 5 x diff",
    )
    figure(
        "contract-check in-process", in_process * 1000, fixed * 1000, "ms", "baseline: no contract changed"
    )
    figure("contract-check --registry", online * 1000, fixed * 1000, "ms", "baseline: no contract changed")


if __name__ == "__main__":
    main()
