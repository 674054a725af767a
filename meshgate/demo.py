"""``meshgate demo``: the whole story on the embedded defaults, one step after another.

Each step prints what it shows; the closing summary table lists every step's outcome.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from registry.compat import Level, check_compatibility, get_format

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONSOLE_URL = "http://127.0.0.1:8081/ui/"  # where `meshgate serve`'s defaults put the web console


@dataclass
class DemoContext:
    """What the steps share: where state lives, the console, and what to stop at the end."""

    data_dir: Path
    console: Console
    cleanup: contextlib.ExitStack
    state: dict = field(default_factory=dict)  # e.g. "registry_target" once the registry runs


def step_compatibility(ctx: DemoContext) -> str:
    """Diff a compatible and a breaking change of each example contract, explained."""
    cases = [
        ("AVRO", "contracts/checkout/checkout_completed.avsc", "evolution/checkout_completed.v2.avsc"),
        ("AVRO", "evolution/checkout_completed.v2.avsc", "evolution/checkout_completed.v3-breaking.avsc"),
        ("PROTOBUF", "contracts/identity/user_signed_up.proto", "evolution/user_signed_up.v2.proto"),
        ("PROTOBUF", "evolution/user_signed_up.v2.proto", "evolution/user_signed_up.v3-breaking.proto"),
    ]
    breaking = 0
    for format_name, old_file, new_file in cases:
        schema_format = get_format(format_name)
        old = schema_format.parse((EXAMPLES / old_file).read_text(), source_name=old_file)
        new = schema_format.parse((EXAMPLES / new_file).read_text(), source_name=new_file)
        result = check_compatibility(schema_format, Level.FULL, new, [old])
        verdict = "[green]compatible[/]" if result.compatible else "[red]BREAKING[/]"
        ctx.console.print(f"contract-check diff --level FULL {old_file} {new_file}: {verdict}")
        for v in result.violations:
            line = f":{v.line}" if v.line else ""
            ctx.console.print(f"  {new_file}{line} [yellow]{v.rule}[/] {v.path}: {v.message}")
        breaking += not result.compatible
    return f"{len(cases)} diffs, {breaking} breaking"


def step_registry(ctx: DemoContext) -> str:
    """Start a registry, register both example contracts, evolve them, show a breaking change refused."""
    from registry.client import RegistryClient
    from registry.contract import load_contract
    from registry.errors import IncompatibleSchema
    from registry.server import RegistryServer, ThreadedServer
    from registry.store import sqlite_url

    for leftover in ("registry.db", "registry.db-wal", "registry.db-shm"):  # a fresh registry each run
        (ctx.data_dir / leftover).unlink(missing_ok=True)
    server = ThreadedServer(RegistryServer(sqlite_url(ctx.data_dir)))
    ports = server.start()
    ctx.cleanup.callback(server.stop)
    target = f"127.0.0.1:{ports.grpc_port}"
    ctx.state["registry_target"] = target
    ctx.console.print(f"registry serving gRPC on {target}, HTTP on http://127.0.0.1:{ports.http_port}")
    evolutions = {
        "checkout.CheckoutCompleted": ("checkout_completed.v2.avsc", "checkout_completed.v3-breaking.avsc"),
        "identity.UserSignedUp": ("user_signed_up.v2.proto", "user_signed_up.v3-breaking.proto"),
    }
    rejected = 0
    with RegistryClient(target) as client:
        for path in sorted(EXAMPLES.glob("contracts/*/*.yaml")):
            contract = load_contract(path)
            if contract.compatibility:
                client.set_config(contract.subject, contract.compatibility)
            v1 = client.register(contract)
            compatible, breaking = (EXAMPLES / "evolution" / name for name in evolutions[contract.subject])
            v2 = client.register(contract.subject, compatible.read_text(), format=contract.format)
            ctx.console.print(
                f"{contract.subject}: v{v1.version} (id {v1.schema_id}) -> v{v2.version} (id {v2.schema_id})"
                f" [green]compatible[/]"
            )
            try:
                client.register(contract.subject, breaking.read_text(), format=contract.format)
            except IncompatibleSchema as exc:
                rejected += 1
                ctx.console.print(f"{contract.subject}: {breaking.name} [red]REJECTED[/]")
                for v in exc.violations:
                    line = f":{v.line}" if v.line else ""
                    ctx.console.print(f"  {breaking.name}{line} [yellow]{v.rule}[/] {v.path}: {v.message}")
        subjects = client.list_subjects()
    return f"{len(subjects)} subjects at v2, {rejected} breaking v3 rejected"


def step_contract_check(ctx: DemoContext) -> str:
    """The breaking checkout change as a pull request: ``contract-check --against main`` in a throwaway repo."""
    import shutil
    import subprocess
    import sys
    import tempfile

    repo = Path(ctx.cleanup.enter_context(tempfile.TemporaryDirectory(prefix="meshgate-demo-repo-")))
    contract_dir = repo / "contracts" / "checkout"
    contract_dir.mkdir(parents=True)
    for name in ("checkout_completed.yaml", "checkout_completed.avsc"):
        shutil.copy(EXAMPLES / "contracts" / "checkout" / name, contract_dir / name)
    (repo / "meshgate.yaml").write_text("contracts:\n  - contracts/**/*.yaml\n")

    def git(*args: str) -> None:
        identity = ["-c", "user.name=meshgate demo", "-c", "user.email=demo@meshgate.invalid"]
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)

    git("init", "--quiet", "--initial-branch", "main")
    git("add", ".")
    git("commit", "--quiet", "-m", "checkout contract v1")
    git("checkout", "--quiet", "-b", "breaking-change")
    shutil.copy(
        EXAMPLES / "evolution" / "checkout_completed.v3-breaking.avsc",
        contract_dir / "checkout_completed.avsc",
    )
    git("commit", "--quiet", "-am", "checkout: amount as string, channel required")
    ctx.console.print(f"[bold]cd {repo} && contract-check check --against main[/]  (branch breaking-change)")
    command = [sys.executable, "-c", "from ci_plugin.cli import main; main()", "check", "--against", "main"]
    run = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120)
    ctx.console.print(run.stdout.rstrip() or run.stderr.rstrip(), markup=False, highlight=False)
    verdict = {0: "passed (unexpected)", 1: "caught the breaking change (exit 1)"}.get(run.returncode)
    return (
        f"contract-check {verdict or f'failed to run (exit {run.returncode}): {run.stderr.strip()[-200:]}'}"
    )


def step_notifications(ctx: DemoContext) -> str:
    """A subscriber replays the checkout contract's change events from the registry's event log
    (``RegistryClient.watch``: missed events first, then live ones, resumed after any disconnect)."""
    import threading

    from registry.client import RegistryClient

    target = ctx.state.get("registry_target")
    if target is None:
        ctx.console.print("[yellow]no registry running: no subscriber to show[/]")
        return "skipped: no registry"
    received: list = []

    def subscribe() -> None:  # a subscriber replaying the checkout registrations from sequence 0
        with RegistryClient(target) as client:
            stream = client.watch(
                after_sequence=0, subject_prefix="checkout.", event_types=("VERSION_REGISTERED",)
            )
            for event in stream:
                received.append(event)
                if len(received) >= 2:  # v1 and v2 registered by the registry step
                    stream.close()

    subscriber = threading.Thread(target=subscribe, name="demo-subscriber", daemon=True)
    subscriber.start()
    subscriber.join(timeout=10)
    for event in received:
        ctx.console.print(
            f"subscriber received #{event.sequence} {event.type} {event.subject} "
            f"v{event.version} (schema id {event.schema_id})"
        )
    return f"{len(received)} change events received by a subscriber"


def step_gate(ctx: DemoContext) -> str:
    """Gate generated checkout and signup batches into Bronze: accept, quarantine, reject, no-op."""
    import os
    import shutil

    from lakehouse import IngestRequest, ingest, resolve_contract
    from lakehouse.cli import print_result

    generate = load_generator()
    (ctx.data_dir / "catalog.db").unlink(missing_ok=True)  # a fresh lakehouse each run, like the registry
    shutil.rmtree(ctx.data_dir / "warehouse", ignore_errors=True)
    if not os.environ.get("MESHGATE_PII_KEY"):
        os.environ["MESHGATE_PII_KEY"] = "meshgate-demo-key"
        ctx.console.print("MESHGATE_PII_KEY not set: using a demo key (signups mask PII at Bronze)")
    landing = ctx.data_dir / "landing"
    landing.mkdir(exist_ok=True)
    target = ctx.state.get("registry_target")
    subjects = {"checkout": "checkout.CheckoutCompleted", "signup": "identity.UserSignedUp"}
    contracts = {
        kind: resolve_contract(
            subject, contract_file=None if target else generate.CONTRACTS[kind], registry=target
        )
        for kind, subject in subjects.items()
    }
    ctx.console.print(f"contracts from {'the registry at ' + target if target else 'the example YAML files'}")
    batches = [  # (kind, file, generator options, on_invalid)
        ("checkout", "checkout-1.jsonl", {"rows": 2000, "seed": 1, "late": 0.02}, "reject"),
        (
            "checkout",
            "checkout-2.jsonl",
            {"rows": 2000, "seed": 2, "late": 0.02, "duplicates": 0.01},
            "quarantine",
        ),
        ("signup", "signup-1.jsonl", {"rows": 1500, "seed": 3, "late": 0.02, "duplicates": 0.01}, "reject"),
        ("checkout", "checkout-bad.jsonl", {"rows": 500, "seed": 4, "bad": True}, "reject"),
        ("checkout", "checkout-1.jsonl", None, "reject"),  # the same file again: a no-op
    ]
    outcomes = []
    for kind, name, options, on_invalid in batches:
        path = landing / name
        if options is not None:
            generate.write(kind, path, options.pop("rows"), **options)
        ctx.console.print(
            f"[bold]meshgate ingest {path.name} --subject {subjects[kind]} --on-invalid {on_invalid}[/]"
        )
        result = ingest(IngestRequest([path], contracts[kind], on_invalid=on_invalid, data_dir=ctx.data_dir))
        print_result(ctx.console, result, shown=6)
        outcomes.append(result.status)
    counts = {status: outcomes.count(status) for status in dict.fromkeys(outcomes)}
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def load_generator():
    """examples/generate.py as a module (examples/ is not an installed package), loaded once."""
    import importlib.util
    import sys

    name = "meshgate_examples_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "generate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def step_dbt(ctx: DemoContext) -> str:
    """Build Silver and Gold from what the gate landed (dbt build: models and tests), show Gold, docs."""
    import duckdb

    from lakehouse.dbt.glue import DUCKDB_FILE, run_dbt, target_dir

    data_dir = ctx.data_dir
    # --full-refresh: the demo's lakehouse is new on every run, so Silver starts over with it.
    ctx.console.print(f"[bold]meshgate transform --data-dir {data_dir} --full-refresh[/]")
    build = run_dbt(["build", "--full-refresh", "--quiet"], data_dir)
    if not build.success:
        for line in build.failures:
            ctx.console.print(f"  [red]FAILED[/] {line}")
        return f"dbt build failed: {len(build.failures)} failing"
    statuses = [(r.node.resource_type, str(r.status)) for r in build.results.results]
    models = sum(kind == "model" for kind, _ in statuses)
    tests = [status for kind, status in statuses if kind == "test"]
    ctx.console.print(
        f"{models} models built, {tests.count('pass')} tests passed, {tests.count('warn')} warned "
        "(Bronze keeps re-deliveries: its unique checks warn; Silver deduplicates)"
    )
    with duckdb.connect(str(data_dir / DUCKDB_FILE), read_only=True) as conn:
        top = conn.sql("select * from gold.daily_active_users order by activity_date limit 5")
        table = Table(title="gold.daily_active_users (first days)")
        for column in top.columns:
            table.add_column(column)
        for row in top.fetchall():
            table.add_row(*(str(value) for value in row))
    ctx.console.print(table)
    docs = run_dbt(["docs", "generate", "--quiet"], data_dir)
    site = target_dir(data_dir) / "index.html"
    ctx.console.print(f"lineage docs: {site} (serve them: meshgate docs --data-dir {data_dir})")
    outcome = f"{models} models, {tests.count('pass')} tests passed"
    return outcome if docs.success else outcome + "; docs generation failed"


def step_orchestration(ctx: DemoContext) -> str:
    """The same pipeline as Dagster assets, in-process, run twice: the second run changes nothing."""
    import shutil

    from dagster import DagsterInstance

    from meshgate.pipeline.definitions import build_definitions
    from meshgate.pipeline.local import run_locally
    from meshgate.pipeline.resources import LakehouseResource

    root = ctx.data_dir / "pipeline"
    shutil.rmtree(root, ignore_errors=True)
    # the registry started earlier (when it runs): the gate validates against the latest versions
    lakehouse = LakehouseResource(data_dir=str(root), registry=ctx.state.get("registry_target", ""))
    generate = load_generator()
    landing = [  # (kind, subject, file, generator options)
        (
            "checkout",
            "checkout.CheckoutCompleted",
            "checkout-1.jsonl",
            {"rows": 2000, "seed": 1, "late": 0.02},
        ),
        (
            "checkout",
            "checkout.CheckoutCompleted",
            "checkout-bad.jsonl",
            {"rows": 500, "seed": 4, "bad": True},
        ),
        (
            "signup",
            "identity.UserSignedUp",
            "signup-1.jsonl",
            {"rows": 1500, "seed": 3, "late": 0.02, "duplicates": 0.01},
        ),
    ]
    for kind, subject, name, options in landing:
        folder = lakehouse.landing_folder(subject)
        folder.mkdir(parents=True, exist_ok=True)
        generate.write(kind, folder / name, **options)
    contracts = f"the registry at {lakehouse.registry}" if lakehouse.registry else "the contract files"
    ctx.console.print(f"landing folders under {root / 'landing'}: one partition of bronze/<table> per file")
    ctx.console.print(f"contracts from {contracts}; Dagster runs in this process (ephemeral instance)")
    defs = build_definitions(lakehouse)
    instance = DagsterInstance.ephemeral()
    counts = []
    for attempt in (1, 2):
        with (
            contextlib.redirect_stdout(io.StringIO()),
            _quiet_loggers("dagster", "dagster.builtin"),
        ):  # dbt's log lines
            run = run_locally(defs, instance, log_level="ERROR")
        catalog = lakehouse.catalog()
        rows = {
            ".".join(identifier): catalog.load_table(identifier).scan().to_arrow().num_rows
            for namespace in ("bronze", "silver", "gold")
            for identifier in catalog.list_tables(namespace)
        }
        counts.append(rows)
        decisions = ", ".join(f"{key.split('/')[-1]} {status}" for key, status in sorted(run.batches.items()))
        ctx.console.print(
            f"run {attempt}: {decisions}; {run.dbt_checks} dbt checks, failed: {', '.join(run.failed_checks)}"
        )
    table = Table(title="rows per table after run 1 and run 2")
    for column in ("table", "run 1", "run 2"):
        table.add_column(column)
    for name in sorted(counts[0]):
        table.add_row(name, str(counts[0][name]), str(counts[1].get(name)))
    ctx.console.print(table)
    same = "identical tables" if counts[0] == counts[1] else "[red]tables changed[/]"
    return f"{len(counts[0])} tables; rerun: {same}"


@contextlib.contextmanager
def _quiet_loggers(*names: str):
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


STEPS = [
    ("compatibility engines", step_compatibility),
    ("contract registry", step_registry),
    ("contract-check in CI", step_contract_check),
    ("notifications", step_notifications),
    ("Bronze gate", step_gate),
    ("Silver and Gold (dbt)", step_dbt),
    ("orchestration (Dagster)", step_orchestration),
]


@click.command()
@click.option(
    "--data-dir", default=".meshgate/demo", show_default=True, help="Where the demo keeps its state."
)
@click.option("--serve", is_flag=True, help="Then serve the registry and web console on it (Ctrl-C stops).")
def demo(data_dir: str, serve: bool) -> None:
    """Run the whole meshgate story on the embedded defaults; exit 1 when a step fails."""
    console = Console()
    summary = Table(title="meshgate demo")
    for column in ("step", "outcome", "seconds"):
        summary.add_column(column)
    failed = None
    with contextlib.ExitStack() as cleanup:  # stops the registry and removes temp repos, even on failure
        ctx = DemoContext(data_dir=Path(data_dir), console=console, cleanup=cleanup)
        ctx.data_dir.mkdir(parents=True, exist_ok=True)
        for title, step in STEPS:
            console.rule(title)
            started = time.perf_counter()
            try:
                outcome = step(ctx)
            except Exception as exc:  # the summary still shows how far the story got
                console.print_exception(max_frames=5)
                failed, outcome = title, f"[red]FAILED[/]: {type(exc).__name__}: {exc}"
            summary.add_row(title, outcome, f"{time.perf_counter() - started:.1f}")
            if failed:
                break
    console.print(summary)
    if failed:
        raise SystemExit(1)
    console.print(
        f"web console: {CONSOLE_URL} (serve it: meshgate serve --no-auth --data-dir {data_dir}, or --serve)"
    )
    if serve:
        from meshgate.serve import run

        run(data_dir=data_dir, host="127.0.0.1", grpc_port=50051, http_port=8081, database_url=None, no_auth=True, tls_cert=None, tls_key=None)  # fmt: skip
