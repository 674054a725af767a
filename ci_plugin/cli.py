"""The ``contract-check`` command line: ``check`` (the default), ``publish`` and ``diff``.

One vocabulary: ``--format`` is a schema format, ``--output`` a report format (``check --format`` and
``publish --format`` are the old spelling of ``--output``, kept for one release with a warning).
Exit codes: 0 compatible, 1 breaking, 2 usage, configuration or parse error, 3 registry unreachable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_plugin import git
from ci_plugin.changes import find_changes, load_working_tree
from ci_plugin.checker import check_against_registry, check_offline
from ci_plugin.config import CONFIG_FILE, Config, ConfigError, load_config
from ci_plugin.dbt_consumers import load_manifest
from ci_plugin.findings import CheckReport
from ci_plugin.output import RENDERERS
from ci_plugin.output.text import render as render_report_text
from ci_plugin.publish import publish as publish_contracts
from ci_plugin.references import reference_resolver
from ci_plugin.report import render_json, render_text
from registry.cli import deprecated_spelling, tls_options
from registry.compat import FORMATS, MAX_SCHEMA_BYTES, Level, check_compatibility, get_format
from registry.contract import load_contract
from registry.data_contract_diff import metadata_changes, rule_set_changes
from registry.data_contracts import published_metadata, published_rule_set
from registry.errors import (
    IncompatibleSchema,
    InvalidArgument,
    InvalidSchema,
    MeshgateError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

if TYPE_CHECKING:
    from registry.client import TlsConfig

EXIT_OK, EXIT_BREAKING, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
DEFAULT_REGISTRY = "localhost:50051"
REPORT_FORMATS = ("text", "github", "json", "junit", "sarif")


class DefaultToCheck(click.Group):
    """``contract-check [OPTIONS]`` without a sub-command runs ``check``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


EXIT_CODES = (
    "Exit codes: 0 compatible, 1 breaking, 2 usage, configuration or parse error, 3 registry unreachable."
)


@click.group(cls=DefaultToCheck, epilog=EXIT_CODES)
def main() -> None:
    """Check data-contract changes for compatibility (no sub-command: check).

    \b
    contract-check check                  changed contracts against the registry and its consumers
    contract-check check --against main   offline: against the contracts at a git ref
    contract-check diff --format avro --level FULL OLD.avsc NEW.avsc
    contract-check publish                register the changed contracts, after the merge
    """


def _report_option(choices: tuple[str, ...]):
    """``--output`` (the report format) and its old spelling ``--format``, deprecated for one release."""

    def decorate(command):
        command = deprecated_spelling(
            "--format",
            "deprecated_format",
            lambda value: f"--output {value} (--format will mean the schema format, as in diff)",
            type=click.Choice(choices),
        )(command)
        return click.option(
            "--output",
            type=click.Choice(choices),
            default=None,
            help=f"Report format [default: {choices[0]}].",
        )(command)

    return decorate


def read_schema_file(path: str) -> str:
    """Read a schema file, refusing what cannot be a schema before any parser sees it."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SCHEMA_BYTES:
            raise click.UsageError(
                f"{path}: {size} bytes is over the {MAX_SCHEMA_BYTES} byte schema size cap"
            )
        raw = file.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"{path}: cannot read: {exc.strerror}") from None
    if not raw.strip():
        raise click.UsageError(f"{path}: the file is empty")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"{path}: not UTF-8 text (byte {exc.start}): is this a binary file?") from None


def _ruleset_owners() -> dict[str, tuple[str, ...]]:
    """Every rule set a format declares -> the formats that have it (lower-case, as ``--format``)."""
    owners: dict[str, tuple[str, ...]] = {}
    for name in FORMATS:
        for ruleset in get_format(name).rulesets:
            owners[ruleset] = (*owners.get(ruleset, ()), name.lower())
    return owners


RULESET_OWNERS = _ruleset_owners()
"""The ``--ruleset`` choices, read from the formats (each declares its own ``rulesets``)."""


@main.command(
    short_help="Compare schema (or contract) files offline: OLD... NEW.",
    epilog="Exit codes: 0 compatible, 1 breaking, 2 usage or parse error.",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice([name.lower() for name in FORMATS], case_sensitive=False),
    default=None,
    help="Schema format of the files (required for schema files; contract files name their own).",
)
@click.option(
    "--level", default="BACKWARD", show_default=True, help="Compatibility level (Confluent semantics)."
)
@click.option(
    "--ruleset",
    type=click.Choice(list(RULESET_OWNERS), case_sensitive=False),
    default=None,
    help="A named rule set of the format instead of its default ("
    + "; ".join(f"{name.lower()}: {', '.join(get_format(name).rulesets)}" for name in FORMATS)
    + ").",
)
@click.option(
    "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Report format."
)
@click.argument("schemas", nargs=-1, required=True, type=click.Path(dir_okay=False))
def diff(
    format_name: str | None, level: str, ruleset: str | None, output: str, schemas: tuple[str, ...]
) -> None:
    """Compare schema files offline: OLD... NEW (several OLD files, oldest first, for *_TRANSITIVE).

    Contract files (``.yaml``/``.yml``) instead of schema files compare their schemas and also the
    Confluent rules and metadata they publish (changed rules are notes or warnings, never breaking)."""
    if len(schemas) < 2:
        raise click.UsageError("give at least one OLD schema file and the NEW one")
    try:
        parsed_level = Level.parse(level)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    contracts = _diff_contracts(schemas, format_name)
    if contracts:
        format_name = contracts[-1].format
    elif format_name is None:
        raise click.UsageError("--format is required for schema files (contract files name their own)")
    schema_format = get_format(format_name)
    if ruleset and ruleset.upper() not in schema_format.rulesets:
        owners = " or ".join(RULESET_OWNERS[ruleset.upper()])
        has = ", ".join(schema_format.rulesets) or "none"
        raise click.UsageError(
            f"--ruleset applies to --format {owners} only; --format {format_name.lower()} has {has}"
        )
    parsed = []
    for index, path in enumerate(schemas):
        text = contracts[index].schema if contracts else read_schema_file(path)
        source = contracts[index].schema_file if contracts else path
        try:
            parsed.append(schema_format.parse(text, source_name=source))
        except InvalidSchema as exc:
            _fail(exc.message, EXIT_USAGE)
    result = check_compatibility(schema_format, parsed_level, parsed[-1], parsed[:-1], ruleset=ruleset)
    changes = _rule_changes(contracts[-2], contracts[-1]) if contracts else []
    if output == "json":
        report = json.loads(render_json(result))
        if contracts:
            report["data_contract_changes"] = [dataclasses.asdict(change) for change in changes]
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(
            render_text(result, contracts[-1].schema_file if contracts else schemas[-1], parsed_level.value)
        )
        for change in changes:
            click.echo(f"  {change.severity} {click.style(change.rule, fg='cyan')} {change.path}")
            click.echo(f"    {change.message}")
    sys.exit(EXIT_OK if result.compatible else EXIT_BREAKING)


def _diff_contracts(paths: tuple[str, ...], format_name: str | None) -> list:
    """The contracts when every file is a contract file (one format, ``--format`` agreeing), else []."""
    is_contract = [Path(path).suffix.lower() in (".yaml", ".yml") for path in paths]
    if not any(is_contract):
        return []
    if not all(is_contract):
        raise click.UsageError("give either schema files or contract files (.yaml), not both")
    contracts = []
    for path in paths:
        try:
            contract = load_contract(path)
        except InvalidArgument as exc:
            raise click.UsageError(exc.message) from None
        if contract.references:
            raise click.UsageError(f"{path}: a contract with references is compared by contract-check check")
        contracts.append(contract)
    formats = {contract.format for contract in contracts} | ({format_name.upper()} if format_name else set())
    if len(formats) > 1:
        raise click.UsageError(f"the contracts are in different formats: {', '.join(sorted(formats))}")
    return contracts


def _rule_changes(old, new) -> list:
    """The Confluent rules and metadata ``new`` publishes compared with ``old``'s."""
    return rule_set_changes(published_rule_set(old.metadata), published_rule_set(new.metadata)) + (
        metadata_changes(
            published_metadata(old.subject, old.metadata), published_metadata(new.subject, new.metadata)
        )
    )


# ---- check and publish: contracts in a git repository ------------------------------------------


def _config_option(command):
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Configuration file (default: meshgate.yaml at the repository root).",
    )(command)


def _registry_options(command):
    """``--registry``, ``--token`` and the TLS options of every registry command (``tls_options``)."""
    command = tls_options(command)
    command = click.option(
        "--token", envvar="MESHGATE_TOKEN", default=None, help="Registry token (env MESHGATE_TOKEN)."
    )(command)
    return click.option(
        "--registry",
        envvar="MESHGATE_REGISTRY",
        default=None,
        help=f"Registry HOST:PORT (env MESHGATE_REGISTRY, else meshgate.yaml's registry, else {DEFAULT_REGISTRY}).",
    )(command)


def _load_config(config_path: str | None) -> Config:
    root = git.repo_root(Path.cwd())
    config = load_config(Path(config_path) if config_path else root / CONFIG_FILE)
    if config.root.resolve() != root.resolve():
        raise ConfigError(f"{config.path}: must sit at the repository root ({root})")
    return config


@contextlib.contextmanager
def _registry_client(target: str, token: str | None, tls: TlsConfig | None):
    """A registry client, closed after use (imported here: offline runs do not need it)."""
    from registry.client import RegistryClient

    with RegistryClient(target, token=token, tls=tls) as client:
        yield client


def _fail(message: str, code: int):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _fail_registry(error: MeshgateError, code: int, alternative: str = ""):
    """A registry error with the hint of what to do (the same hints as the ``meshgate`` commands)."""
    from registry.cli import error_message

    message = error_message(error)
    _fail(f"registry: {message}{', ' + alternative if alternative and 'hint:' in message else ''}", code)


@main.command(short_help="Check the changed contracts (--against REF: offline).", epilog=EXIT_CODES)
@_config_option
@click.option("--base", default=None, help="Base commit (default: the CI's base, else the merge base).")
@click.option("--against", default=None, help="Offline: check against the contracts at this git ref.")
@_registry_options
@click.option(
    "--offline-fallback",
    is_flag=True,
    help="When the registry is unreachable or refuses the token, check offline against the base instead.",
)
@_report_option(REPORT_FORMATS)
@click.option(
    "--report-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to this file and a text summary to stdout.",
)
def check(
    config_path: str | None,
    base: str | None,
    against: str | None,
    registry: str | None,
    token: str | None,
    tls: TlsConfig,
    offline_fallback: bool,
    output: str | None,
    deprecated_format: str | None,
    report_file: str | None,
) -> None:
    """Check the contracts changed since the base against the registry and the consumers it knows,
    or with --against REF offline against the contracts at that git ref; exit 1 on a breaking change."""
    try:
        report = run_check(config_path, base, against, registry, token, offline_fallback, tls)
    except (ConfigError, git.GitError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except Unavailable as exc:
        _fail_registry(exc, EXIT_UNREACHABLE, "or --offline-fallback checks offline against the base instead")
    except (Unauthenticated, PermissionDenied) as exc:
        _fail_registry(exc, EXIT_USAGE, "or --offline-fallback checks offline against the base instead")
    except MeshgateError as exc:
        _fail_registry(exc, EXIT_USAGE)
    if against is None and report.mode == "offline":  # the registry could not be used: say so
        for note in report.notes:
            click.echo(f"warning: {note}", err=True)
    rendered = RENDERERS[output or deprecated_format or "text"](report)
    if report_file:
        Path(report_file).write_text(rendered + "\n", encoding="utf-8")
        rendered = render_report_text(report)
    click.echo(rendered)
    sys.exit(EXIT_BREAKING if report.breaking else EXIT_OK)


def run_check(
    config_path: str | None = None,
    base: str | None = None,
    against: str | None = None,
    registry: str | None = None,
    token: str | None = None,
    offline_fallback: bool = False,
    tls: TlsConfig | None = None,
) -> CheckReport:
    """The work of ``check`` without the exit: the report of the contracts changed since the base."""
    config = _load_config(config_path)
    root = config.root
    base_commit = git.resolve_base(root, base, config.default_branch)
    head = load_working_tree(config)
    changes = find_changes(config, base_commit, head)
    manifest = load_manifest(root, config.dbt) if config.dbt and changes else None
    against_commit = base_commit
    if against is not None:
        against_commit = git.commit_of(root, against)
        if against_commit is None:
            raise ConfigError(f"--against {against!r} does not name a commit in this repository")
        return check_offline(
            config, changes, base_commit, against_commit, reference_resolver(head), manifest, against
        )
    target = registry or config.registry or DEFAULT_REGISTRY
    try:
        with _registry_client(target, token, tls) as client:
            resolve = reference_resolver(head, client)
            return check_against_registry(config, changes, base_commit, client, resolve, manifest)
    except (Unavailable, Unauthenticated, PermissionDenied) as exc:
        if not offline_fallback:
            raise
        report = check_offline(
            config, changes, base_commit, against_commit, reference_resolver(head), manifest
        )
        why = "unreachable" if isinstance(exc, Unavailable) else "refused the token"
        report.notes.append(f"registry {target} {why} ({exc.message}); checked offline against the base")
        return report


@main.command(
    short_help="Register the changed contracts (after the merge).",
    epilog="Exit codes: 0 published, 1 refused as breaking, 2 usage, configuration or registry error, "
    "3 registry unreachable.",
)
@_config_option
@click.option(
    "--base",
    default=None,
    help="Publish what changed since this commit (default: HEAD's parent; none: every contract).",
)
@click.option("--all", "publish_all", is_flag=True, help="Publish every contract, not only the changed ones.")
@_registry_options
@_report_option(("text", "json"))
def publish(
    config_path: str | None,
    base: str | None,
    publish_all: bool,
    registry: str | None,
    token: str | None,
    tls: TlsConfig,
    output: str | None,
    deprecated_format: str | None,
) -> None:
    """Register the changed contracts (after merge), references first; a rerun registers nothing new."""
    try:
        config = _load_config(config_path)
        head = load_working_tree(config)
        base_commit = None if publish_all else git.publish_base(config.root, base)
        if base_commit is None:
            contracts = list(head.values())
        else:
            contracts = [c.new for c in find_changes(config, base_commit, head) if c.new is not None]
        with _registry_client(registry or config.registry or DEFAULT_REGISTRY, token, tls) as client:
            outcomes = publish_contracts(client, contracts)
    except (ConfigError, git.GitError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except Unavailable as exc:
        _fail_registry(exc, EXIT_UNREACHABLE)
    except IncompatibleSchema as exc:
        _fail(f"registry refused: {exc.message}", EXIT_BREAKING)
    except MeshgateError as exc:
        _fail_registry(exc, EXIT_USAGE)
    if (output or deprecated_format) == "json":
        click.echo(json.dumps([dataclasses.asdict(outcome) for outcome in outcomes], indent=2))
    else:
        for outcome in outcomes:
            click.echo(
                f"{outcome.outcome}: {outcome.subject} version {outcome.version} ({outcome.contract_file})"
            )
        if not outcomes:
            click.echo("nothing to publish: no contract changed")
    sys.exit(EXIT_OK)
