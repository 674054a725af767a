"""``meshgate demo``: the whole story on the embedded defaults, one step after another.

Each step prints what it shows; the closing summary table lists every step's outcome. Its state (the data
directory, the demo's git repository in it, the registry's database) stays until the next run, and every
command it prints (``$ ...``, a trailing ``# exit N`` when it fails on purpose) runs as printed from the
repository root, against the registry the demo tells how to serve again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from registry.compat import Level, check_compatibility, get_format

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONSOLE_URL = "http://127.0.0.1:8081/ui/"  # where `meshgate serve`'s defaults put the web console
DEMO_KEY = "meshgate-demo-key"  # MESHGATE_PII_KEY when none is set: signups mask PII at Bronze


@dataclass
class DemoContext:
    """What the steps share: where state lives, the console, and what to stop at the end."""

    data_dir: Path
    console: Console
    cleanup: contextlib.ExitStack
    state: dict = field(default_factory=dict)  # e.g. "registry_target" once the registry runs
    tour: list[tuple[str, int, str]] = field(default_factory=list)  # (command, exit code, why): printed last

    def command(self, command: str, exit_code: int = 0, why: str = "") -> None:
        """Print a command as it runs from the repository root; ``exit_code``/``why`` when it fails on purpose."""
        comment = f"  # exit {exit_code}: {why}" if exit_code else (f"  # {why}" if why else "")
        self.console.print(
            f"$ {command}{comment}", style="bold", markup=False, highlight=False, soft_wrap=True
        )

    def progress(self) -> Progress:
        """A progress display for a step longer than a second (drawn on a terminal only, then cleared)."""
        return Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,  # no blank lines in a file or a pipe
        )


def shown(path: Path) -> str:
    """A path as printed: relative to the repository root when inside it (commands run from there)."""
    try:
        return shlex.quote(str(path.resolve().relative_to(EXAMPLES.parent)))
    except ValueError:
        return shlex.quote(str(path))


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
        ctx.command(
            f"contract-check diff --format {format_name.lower()} --level FULL examples/{old_file} examples/{new_file}",
            exit_code=0 if result.compatible else 1,
            why="" if result.compatible else "breaking",
        )
        ctx.console.print("[green]compatible[/]" if result.compatible else "[red]BREAKING[/]")
        for v in result.violations:
            line = f":{v.line}" if v.line else ""
            ctx.console.print(f"  {new_file}{line} [yellow]{v.rule}[/] {v.path}: {v.message}")
        breaking += not result.compatible
    return f"{len(cases)} diffs, {breaking} breaking"


def step_registry(ctx: DemoContext) -> str:
    """Start a registry, register both example contracts, evolve them, show a breaking change refused,
    and register a consumer of the checkout events (the tour's breaking branch breaks it)."""
    from registry.cli import register_contract
    from registry.client import RegistryClient
    from registry.contract import load_contract
    from registry.errors import IncompatibleSchema
    from registry.server import RegistryServer, ThreadedServer
    from registry.store import sqlite_url

    for leftover in ("registry.db", "registry.db-wal", "registry.db-shm"):  # a fresh registry each run
        (ctx.data_dir / leftover).unlink(missing_ok=True)
    grpc_port, http_port = _port_or_any(50051), _port_or_any(8081)
    server = ThreadedServer(
        RegistryServer(sqlite_url(ctx.data_dir), grpc_port=grpc_port, http_port=http_port)
    )
    ports = server.start()
    ctx.cleanup.callback(server.stop)
    target = f"127.0.0.1:{ports.grpc_port}"
    ctx.state["registry_target"] = target
    ctx.console.print(f"registry serving gRPC on {target}, HTTP on http://127.0.0.1:{ports.http_port}")
    ctx.console.print("it stops with the demo; its database stays: serve it again, in another terminal, with")
    serve = (
        f"meshgate serve --data-dir {shown(ctx.data_dir)} --no-auth "
        f"--grpc-port {ports.grpc_port} --http-port {ports.http_port}"
    )
    ctx.command(serve, why="keeps running (Ctrl-C stops it)")
    evolutions = {
        "checkout.CheckoutCompleted": ("checkout_completed.v2.avsc", "checkout_completed.v3-breaking.avsc"),
        "identity.UserSignedUp": ("user_signed_up.v2.proto", "user_signed_up.v3-breaking.proto"),
        "web.PageViewed": ("page_viewed.v2.schema.json", "page_viewed.v3-breaking.schema.json"),
    }
    rejected = 0
    with RegistryClient(target) as client:
        for path in sorted(EXAMPLES.glob("contracts/*/*.yaml")):
            contract = load_contract(path)
            v1 = register_contract(client, contract)
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
        consumer = client.register_consumer(
            "finance-dashboard", "checkout.CheckoutCompleted", version=1, fields=("amount", "currency")
        )
        subjects = client.list_subjects()
    ctx.console.print(
        f"consumer {consumer.name} of {consumer.subject} registered: reads version {consumer.version}, "
        f"fields {', '.join(consumer.fields)}"
    )
    ctx.command(f"meshgate subjects --registry {target}")
    ctx.command(f"meshgate consumers list --registry {target}")
    return f"{len(subjects)} subjects at v2, {rejected} breaking v3 rejected"


def _port_or_any(port: int) -> int:
    """``port`` when it is free on loopback (the defaults every command assumes), else 0: any free port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def step_contract_check(ctx: DemoContext) -> str:
    """The breaking checkout change as a pull request: ``contract-check --against main`` in the demo's repo
    (kept in the data directory, with the dbt project and the manifest the dbt step wrote, so the dbt
    models count as consumers and the tour's breaking branch can be made in it)."""
    import shutil
    import subprocess

    from lakehouse.dbt.glue import target_dir

    repo = ctx.data_dir / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    contract_dir = repo / "contracts" / "checkout"
    contract_dir.mkdir(parents=True)
    for name in ("checkout_completed.yaml", "checkout_completed.avsc"):
        shutil.copy(EXAMPLES / "contracts" / "checkout" / name, contract_dir / name)
    shutil.copytree(
        EXAMPLES.parent / "dbt", repo / "dbt", ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*")
    )
    manifest = target_dir(ctx.data_dir) / "manifest.json"
    if manifest.is_file():  # else contract-check runs `dbt parse` itself (slower)
        (repo / "dbt" / "target").mkdir()
        shutil.copy(manifest, repo / "dbt" / "target" / "manifest.json")
    target = ctx.state.get("registry_target", "localhost:50051")
    (repo / "meshgate.yaml").write_text(
        f"registry: {target}\ncontracts:\n  - contracts/**/*.yaml\n"
        "dbt:\n  manifest: dbt/target/manifest.json\n  project_dir: dbt\n"
    )
    (repo / ".gitignore").write_text("dbt/target/\ndbt/logs/\n*.duckdb\n.meshgate/\n")

    def git(*args: str) -> None:
        identity = ["-c", "user.name=meshgate demo", "-c", "user.email=demo@meshgate.invalid"]
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)

    git("init", "--quiet", "--initial-branch", "main")
    git("add", ".")
    git("commit", "--quiet", "-m", "checkout contract v1, the dbt project reading it")
    git("checkout", "--quiet", "-b", "breaking-change")
    shutil.copy(
        EXAMPLES / "evolution" / "checkout_completed.v3-breaking.avsc",
        contract_dir / "checkout_completed.avsc",
    )
    git("commit", "--quiet", "-am", "checkout: amount as string, channel required")
    ctx.console.print(f"a git repository at {shown(repo)}, on branch breaking-change (amount as a string):")
    command = f"cd {shown(repo)} && contract-check check --against main"
    ctx.command(command, exit_code=1, why="breaking")
    run = subprocess.run(
        [sys.executable, "-c", "from ci_plugin.cli import main; main()", "check", "--against", "main"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
    )
    ctx.console.print(run.stdout.rstrip() or run.stderr.rstrip(), markup=False, highlight=False)
    ctx.tour += [
        (f"examples/breaking-branch.sh {shown(repo)}", 0, "branch drop-currency: checkout drops `currency`"),
        (command, 1, "silver_checkout_completed, a dbt model, reads currency"),
        (
            f"cd {shown(repo)} && contract-check check --registry {target}",
            1,
            "consumer finance-dashboard reads it",
        ),
    ]
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

    ctx.console.print(
        "a subscriber reads the event log from its start (after sequence 0), keeping only checkout.* "
        "VERSION_REGISTERED events: the numbers it skips are the other events (levels set, identity.*)"
    )
    subscriber = threading.Thread(target=subscribe, name="demo-subscriber", daemon=True)
    subscriber.start()
    subscriber.join(timeout=10)
    for event in received:
        ctx.console.print(
            f"subscriber received #{event.sequence} {event.type} {event.subject} "
            f"v{event.version} (schema id {event.schema_id})"
        )
    ctx.console.print(
        f"the same, live (Ctrl-C ends it): meshgate watch --from 0 --subject-prefix checkout. "
        f"--type VERSION_REGISTERED --registry {target}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return f"{len(received)} change events received by a subscriber"


def step_gate(ctx: DemoContext) -> str:
    """Gate generated checkout and signup batches into Bronze: accept, quarantine, reject, no-op."""
    import shutil

    from lakehouse import IngestRequest, ingest, resolve_contract
    from lakehouse.cli import print_result

    generate = load_generator()
    (ctx.data_dir / "catalog.db").unlink(missing_ok=True)  # a fresh lakehouse each run, like the registry
    shutil.rmtree(ctx.data_dir / "warehouse", ignore_errors=True)
    key_prefix = ""
    if not os.environ.get("MESHGATE_PII_KEY"):
        os.environ["MESHGATE_PII_KEY"] = DEMO_KEY
        key_prefix = f"MESHGATE_PII_KEY={DEMO_KEY} "
        ctx.state["key_prefix"] = key_prefix  # the commands that read or mask PII need the key too
        ctx.console.print("MESHGATE_PII_KEY not set: using a demo key (signups mask PII at Bronze)")
    landing = ctx.data_dir / "landing"
    landing.mkdir(exist_ok=True)
    target = ctx.state.get("registry_target")
    subjects = {
        "checkout": "checkout.CheckoutCompleted",
        "signup": "identity.UserSignedUp",
        "pageview": "web.PageViewed",
    }
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
        ("pageview", "pageview-1.jsonl", {"rows": 3000, "seed": 5, "late": 0.02}, "reject"),  # a web API dump
        ("checkout", "checkout-bad.jsonl", {"rows": 500, "seed": 4, "bad": True}, "reject"),
        ("pageview", "pageview-bad.jsonl", {"rows": 500, "seed": 6, "bad": True}, "reject"),
        ("checkout", "checkout-1.jsonl", None, "reject"),  # the same file again: a no-op
    ]
    outcomes = []
    for kind, name, options, on_invalid in batches:
        path = landing / name
        if options is not None:
            generate.write(kind, path, options.pop("rows"), **options)
        source = f"--registry {target}" if target else f"--contract {shown(generate.CONTRACTS[kind])}"
        command = (
            f"{key_prefix if kind == 'signup' else ''}meshgate ingest {shown(path)} --subject {subjects[kind]} "
            f"--on-invalid {on_invalid} --data-dir {shown(ctx.data_dir)} {source}"
        )
        with ctx.progress() as progress:
            task = progress.add_task(f"gate: {name}", total=None, detail="")
            request = IngestRequest(
                [path],
                contracts[kind],
                on_invalid=on_invalid,
                data_dir=ctx.data_dir,
                progress=lambda rows, read, total, task=task: progress.update(
                    task, detail=f"{rows:,} rows, {read / 2**20:,.1f} of {total / 2**20:,.1f} MiB read"
                ),
            )
            result = ingest(request)
        # rerun after the demo: an accepted batch is then a no-op (exit 0); a refused one is refused again
        refused = result.status == "rejected"
        ctx.command(command, exit_code=int(refused), why="the gate rejects it" if refused else "")
        ctx.console.print("the gate's decision: ", end="")
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

    from lakehouse.dbt.glue import DUCKDB_FILE, on_node_finished, run_dbt, target_dir

    data_dir = ctx.data_dir
    # --full-refresh: the demo's lakehouse is new on every run, so Silver starts over with it.
    key_prefix = ctx.state.get("key_prefix", "")
    ctx.command(f"{key_prefix}meshgate transform --data-dir {shown(data_dir)} --full-refresh")
    with ctx.progress() as progress:
        task = progress.add_task("dbt build", total=None, detail="")
        done = []

        def finished(kind: str, name: str, status: str) -> None:
            done.append(name)
            progress.update(task, detail=f"{len(done)} nodes done, last: {kind} {name} {status}")

        build = run_dbt(["build", "--full-refresh", "--quiet"], data_dir, on_event=on_node_finished(finished))
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
        for title, query in (
            (
                "gold.daily_active_users (first days)",
                "select * from gold.daily_active_users order by 1 limit 5",
            ),
            (
                "gold.daily_page_views (first day, busiest pages)",
                "select * from gold.daily_page_views order by 1, page_views desc limit 5",
            ),
        ):
            top = conn.sql(query)
            table = Table(title=title)
            for column in top.columns:
                table.add_column(column)
            for row in top.fetchall():
                table.add_row(*(str(value) for value in row))
            ctx.console.print(table)
    with ctx.progress() as progress:
        progress.add_task("dbt docs generate", total=None, detail="")
        docs = run_dbt(["docs", "generate", "--quiet"], data_dir)
    site = target_dir(data_dir) / "index.html"
    ctx.console.print(
        f"lineage docs: {shown(site)}; `meshgate docs --data-dir {shown(data_dir)}` serves them"
    )
    ctx.command(
        f"{key_prefix}meshgate docs --data-dir {shown(data_dir)} --no-serve", why="regenerates them only"
    )
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
        ("pageview", "web.PageViewed", "pageview-1.jsonl", {"rows": 3000, "seed": 5, "late": 0.02}),
    ]
    for kind, subject, name, options in landing:
        folder = lakehouse.landing_folder(subject)
        folder.mkdir(parents=True, exist_ok=True)
        generate.write(kind, folder / name, **options)
    contracts = f"the registry at {lakehouse.registry}" if lakehouse.registry else "the contract files"
    ctx.console.print(
        f"landing folders under {shown(root / 'landing')}: one partition of bronze/<table> per file"
    )
    ctx.console.print(f"contracts from {contracts}; Dagster runs in this process (ephemeral instance)")
    defs = build_definitions(lakehouse)
    instance = DagsterInstance.ephemeral()
    counts = []
    for attempt in (1, 2):
        with ctx.progress() as progress:
            task = progress.add_task(f"Dagster run {attempt}", total=len(landing) + 1, detail="")
            steps: list[str] = []

            def started(name: str, task=task, progress=progress, steps=steps) -> None:
                if steps:
                    progress.advance(task)
                steps.append(name)
                progress.update(task, detail=name)

            with (
                contextlib.redirect_stdout(io.StringIO()),
                _quiet_loggers("dagster", "dagster.builtin"),
            ):  # dbt's log lines
                run = run_locally(defs, instance, log_level="ERROR", on_step=started)
        catalog = lakehouse.catalog()
        rows = {
            ".".join(identifier): catalog.load_table(identifier).scan().to_arrow().num_rows
            for namespace in ("bronze", "silver", "gold")
            for identifier in catalog.list_tables(namespace)
        }
        counts.append(rows)
        decisions = ", ".join(f"{key.split('/')[-1]} {status}" for key, status in sorted(run.batches.items()))
        failed = ", ".join(run.failed_dbt_checks) or "none"
        dbt = f"dbt: {run.dbt_checks} checks, {len(run.failed_dbt_checks)} failed ({failed})"
        if not run.models_built:
            dbt = "dbt: skipped, nothing new in Bronze"
        ctx.console.print(f"run {attempt}: the gate decided {decisions}; {dbt}")
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
    ("notifications", step_notifications),
    ("Bronze gate", step_gate),
    ("Silver and Gold (dbt)", step_dbt),
    ("contract-check in CI", step_contract_check),
    ("orchestration (Dagster)", step_orchestration),
]


@click.command()
@click.option(
    "--data-dir", default=".meshgate/demo", show_default=True, help="Where the demo keeps its state."
)
@click.option("--serve", is_flag=True, help="Then serve the registry and web console on it (Ctrl-C stops).")
def demo(data_dir: str, serve: bool) -> None:
    """Run the whole meshgate story on the embedded defaults; exit 1 when a step fails.

    Its state stays in --data-dir until the next run; the commands it prints run as printed from the
    repository root (with .venv/bin on PATH). Exit 0 every step told its story, 1 a step failed."""
    console = Console(file=sys.stdout)  # the real stdout, also while a step silences dbt's prints
    summary = Table(title="meshgate demo")
    for column in ("step", "outcome", "seconds"):
        summary.add_column(column)
    failed = None
    with contextlib.ExitStack() as cleanup:  # stops the registry, even on failure
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
    if ctx.tour:
        console.rule("try it yourself")
        console.print(
            "from the repository root, with .venv/bin on PATH (source .venv/bin/activate) and the registry "
            "served again (the meshgate serve line above): the ready-made breaking branch, caught offline "
            "by the dbt model that reads the dropped field, and by the registry's consumer"
        )
        for command, exit_code, why in ctx.tour:
            ctx.command(command, exit_code=exit_code, why=why)
    console.print(
        f"web console: {CONSOLE_URL} (serve it: meshgate serve --no-auth --data-dir {data_dir}, or --serve)"
    )
    if serve:
        from meshgate.serve import run

        run(data_dir=data_dir, host="127.0.0.1", grpc_port=50051, http_port=8081, database_url=None, no_auth=True, tls_cert=None, tls_key=None)  # fmt: skip
