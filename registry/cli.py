"""The registry's ``meshgate`` commands: serve, register, get, export, subjects, config, mode,
referenced-by, consumers, watch, token, audit, webhooks.

``commands`` is what ``meshgate/cli.py`` adds to the ``meshgate`` group. ``registry_options`` is the
one definition of ``--registry`` and ``--token`` that every registry-calling command (in any package)
takes. Errors print one clear line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import click
import yaml

from registry.client import DEFAULT_TARGET, RegistryClient, TlsConfig
from registry.compat import Level
from registry.errors import (
    ClientCertificateRequired,
    IncompatibleSchema,
    MeshgateError,
    PermissionDenied,
    SubjectNotFound,
    Unauthenticated,
    Unavailable,
    UntrustedServer,
)
from registry.model import RegisteredSchema
from registry.odcs import load_contract_file, to_odcs

EXIT_CODES = (
    "Exit codes: 0 done, 1 the registry refused or failed (the message says what to do), 2 usage error."
)


def registry_options(command: Callable) -> Callable:
    """Add ``--registry HOST:PORT`` (env MESHGATE_REGISTRY), ``--token`` (env MESHGATE_TOKEN) and the
    TLS options (``tls_options``)."""
    command = tls_options(command)
    command = click.option(
        "--token",
        envvar="MESHGATE_TOKEN",
        default=None,
        help="Bearer token for the registry (env MESHGATE_TOKEN).",
    )(command)
    return click.option(
        "--registry",
        envvar="MESHGATE_REGISTRY",
        default=DEFAULT_TARGET,
        show_default=True,
        help="Registry gRPC address HOST:PORT (env MESHGATE_REGISTRY).",
    )(command)


def tls_options(command: Callable) -> Callable:
    """Add ``--ca-cert``, ``--client-cert``, ``--client-key`` and ``--tls`` (each with its env variable);
    the command receives them as one ``tls`` (a ``TlsConfig``) to hand to ``RegistryClient``."""

    @functools.wraps(command)
    def wrapper(*args, ca_cert, client_cert, client_key, system_trust, **kwargs):
        if (client_cert is None) != (client_key is None):
            raise click.UsageError("--client-cert and --client-key go together")
        return command(*args, tls=TlsConfig(ca_cert, client_cert, client_key, system_trust), **kwargs)

    file = click.Path(exists=True, dir_okay=False)
    for option in reversed(
        (
            click.option(
                "--ca-cert",
                type=file,
                envvar="MESHGATE_CA_CERT",
                help="Talk TLS, trusting this CA certificate (PEM) for the registry's (env MESHGATE_CA_CERT).",
            ),
            click.option(
                "--client-cert",
                type=file,
                envvar="MESHGATE_CLIENT_CERT",
                help="Client certificate (PEM) for mutual TLS (env MESHGATE_CLIENT_CERT).",
            ),
            click.option(
                "--client-key",
                type=file,
                envvar="MESHGATE_CLIENT_KEY",
                help="Private key (PEM) of --client-cert (env MESHGATE_CLIENT_KEY).",
            ),
            click.option(
                "--tls",
                "system_trust",
                is_flag=True,
                envvar="MESHGATE_TLS",
                help="Talk TLS, trusting the system trust store (implied by --ca-cert; env MESHGATE_TLS).",
            ),
        )
    ):
        wrapper = option(wrapper)
    return wrapper


def deprecated_spelling(old: str, dest: str, use_instead: str, **option) -> Callable:
    """A hidden option ``old`` kept for one release: it still works and warns what to write instead.

    ``use_instead(value)`` says the new spelling; ``dest`` is the parameter the command receives, so
    the command decides how the old and the new spelling combine.
    """

    def warn(ctx: click.Context, param: click.Parameter, value):
        if value is not None:
            click.echo(f"warning: {ctx.info_name} {old} is deprecated; use {use_instead(value)}", err=True)
        return value

    return click.option(old, dest, hidden=True, default=None, callback=warn, **option)


def _reports_errors(command: Callable) -> Callable:
    """Turn registry errors into a one-line message and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MeshgateError as exc:
            raise click.ClickException(error_message(exc)) from None

    return wrapper


# What a command-line user does about the errors they can fix themselves.
_HINTS = {
    UntrustedServer: "pass --ca-cert FILE or set MESHGATE_CA_CERT (the CA certificate that signed the registry's)",
    ClientCertificateRequired: "pass --client-cert FILE --client-key FILE (or set MESHGATE_CLIENT_CERT and "
    "MESHGATE_CLIENT_KEY) with a certificate signed by the CA the registry trusts",
    Unauthenticated: "pass --token TOKEN or set MESHGATE_TOKEN (an admin creates one: `meshgate token create`)",
    PermissionDenied: "use a token of the subject's domain (`meshgate token create --role producer --domain D`)",
    Unavailable: "start it with `meshgate serve`, or point at it with --registry HOST:PORT or MESHGATE_REGISTRY",
}


def error_message(error: MeshgateError) -> str:
    """A registry error as a command line prints it: what went wrong and, where the user can fix it, how."""
    text = _explain(error) if isinstance(error, IncompatibleSchema) else error.message
    hint = next((hint for kind, hint in _HINTS.items() if isinstance(error, kind)), None)
    return f"{text}\nhint: {hint}" if hint else text


@click.command(epilog=EXIT_CODES)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--grpc-port", default=50051, show_default=True, help="gRPC port (0: any free port).")
@click.option("--http-port", default=8081, show_default=True, help="HTTP port (0: any free port).")
@click.option(
    "--data-dir", default=".meshgate", show_default=True, help="Holds registry.db when no --database-url."
)
@click.option(
    "--database-url",
    default=None,
    envvar="MESHGATE_DATABASE_URL",
    help="SQLAlchemy URL, e.g. postgresql+psycopg://host/db (env MESHGATE_DATABASE_URL).",
)
@click.option(
    "--no-auth", is_flag=True, help="Serve without API tokens (local work only: loopback addresses only)."
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate: serve TLS.")
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert."
)
@click.option(
    "--tls-client-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="Require client certificates signed by this CA (PEM): mutual TLS (needs --tls-cert).",
)
def serve(
    host: str,
    grpc_port: int,
    http_port: int,
    data_dir: str,
    database_url: str | None,
    no_auth: bool,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
) -> None:
    """Run the registry: gRPC and HTTP (Confluent REST API, /healthz, /metrics) in one process.

    API tokens are required unless --no-auth; create the first admin token with
    `meshgate token create --role admin --name NAME --data-dir DIR` (or --database-url)."""
    run_server(host, grpc_port, http_port, data_dir, database_url, no_auth, tls_cert, tls_key, tls_client_ca)


def run_server(host, grpc_port, http_port, data_dir, database_url, no_auth, tls_cert, tls_key, tls_client_ca=None, http_routes=None):  # fmt: skip
    """What ``serve`` does, for a command that wraps it; ``http_routes`` as ``RegistryServer`` takes it."""
    from registry.server import RegistryServer, is_loopback
    from registry.store import sqlite_url

    if no_auth and not is_loopback(host):
        raise click.ClickException(
            f"--no-auth refuses to listen on {host}: only loopback addresses (127.0.0.1, ::1, localhost) "
            "may serve without authentication"
        )
    if (tls_cert is None) != (tls_key is None):
        raise click.ClickException("--tls-cert and --tls-key go together")
    if tls_client_ca is not None and tls_cert is None:
        raise click.ClickException(
            "--tls-client-ca requires client certificates over TLS: pass --tls-cert and --tls-key too"
        )
    url = database_url or sqlite_url(data_dir)

    def started(ports) -> None:
        click.echo(
            f"registry serving gRPC on {host}:{ports.grpc_port}, HTTP on http://{host}:{ports.http_port}"
        )
        click.echo(json.dumps({"grpc_port": ports.grpc_port, "http_port": ports.http_port}))

    try:
        RegistryServer(
            url,
            host,
            grpc_port,
            http_port,
            auth=not no_auth,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_client_ca=tls_client_ca,
            http_routes=http_routes,
        ).run(started)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except MeshgateError as exc:  # e.g. the database cannot be reached
        raise click.ClickException(exc.message) from None


@click.command(epilog=EXIT_CODES)
@click.argument("contract_yaml", nargs=-1, required=True, type=click.Path(dir_okay=False))
@registry_options
def register(contract_yaml: tuple[str, ...], registry: str, token: str | None, tls: TlsConfig) -> None:
    """Register contracts as new versions: meshgate contract files (YAML pointing at their schema)
    or ODCS v3 data contracts (what does not map to meshgate is named in a warning)."""
    failed = 0
    with RegistryClient(registry, token, tls=tls) as client:
        for path in contract_yaml:
            try:
                contract, warnings = load_contract_file(path)
                for warning in warnings:
                    click.echo(f"{path}: warning: {warning}", err=True)
                registered = register_contract(client, contract)
            except IncompatibleSchema as exc:
                failed += 1
                click.echo(f"{path}: rejected: {_explain(exc)}", err=True)
                continue
            except MeshgateError as exc:
                failed += 1
                click.echo(f"{path}: {error_message(exc)}", err=True)
                continue
            click.echo(
                f"{registered.subject}: version {registered.version} (schema id {registered.schema_id})"
            )
    if failed:
        raise click.exceptions.Exit(1)


def register_contract(client: RegistryClient, contract) -> RegisteredSchema:
    """Register a contract and apply its ``compatibility:``, so that a refusal names the call refused.

    A new subject is registered first (its first version has nothing to be checked against) and gets its
    level after; an existing subject gets a changed level first, since that level governs the new
    version's check. Either way a caller the registry refuses is refused, and audited, at ``Register``."""
    level = contract.compatibility
    if not level or not _has_versions(client, contract.subject):
        registered = client.register(contract)
        if level:
            client.set_config(contract.subject, level)
        return registered
    if _level_of(client, contract.subject) != Level.parse(level):
        client.set_config(contract.subject, level)
    return client.register(contract)


def _has_versions(client: RegistryClient, subject: str) -> bool:
    try:
        return bool(client.list_versions(subject))
    except (SubjectNotFound, Unauthenticated, PermissionDenied):
        return False  # new; or a caller refused, whose Register is refused and audited next


def _level_of(client: RegistryClient, subject: str) -> Level | None:
    setting = client.get_config(subject)
    return None if setting.inherited else setting.level


@click.command(epilog=EXIT_CODES)
@click.argument("subject")
@click.option("--version", default="latest", show_default=True, help="Version number or 'latest'.")
@click.option(
    "--metadata",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="The newest version whose Confluent metadata has this property (repeatable; not with --version).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@registry_options
@_reports_errors
def get(
    subject: str,
    version: str,
    properties: tuple[str, ...],
    as_json: bool,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Show one version of a subject: its metadata and schema."""
    wanted = dict(_property(text) for text in properties)
    if wanted and version != "latest":
        raise click.UsageError("--metadata picks the version itself: give it without --version")
    with RegistryClient(registry, token, tls=tls) as client:
        found = (
            client.latest_with_metadata(subject, wanted) if wanted else client.get_version(subject, version)
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "subject": found.subject,
                    "version": found.version,
                    "schema_id": found.schema_id,
                    "format": found.format,
                    "schema": found.schema,
                    "references": [vars(r) for r in found.references],
                    "metadata": found.metadata.to_dict(),
                },
                indent=2,
            )
        )
        return
    meta = found.metadata
    click.echo(f"subject:   {found.subject}\nversion:   {found.version}\nschema id: {found.schema_id}")
    click.echo(f"format:    {found.format}\nowner:     {meta.owner_domain}")
    for label, value in (
        ("pii", ", ".join(meta.pii_fields)),
        ("primary key", ", ".join(meta.primary_key)),
        ("freshness", meta.freshness_sla),
    ):
        if value:
            click.echo(f"{label + ':':<11}{value}")
    click.echo(found.schema)


def _property(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--metadata")
    return key, value


@click.command(epilog=EXIT_CODES)
@click.argument("subject")
@click.option(
    "--format", "output_format", type=click.Choice(["odcs"]), required=True, help="Output standard."
)
@click.option("--version", default="latest", show_default=True, help="Version number or 'latest'.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@registry_options
@_reports_errors
def export(
    subject: str,
    output_format: str,
    version: str,
    output: str | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Write one version as an ODCS v3 data contract (datacontract-cli reads it); what ODCS cannot
    carry is named in a warning on stderr."""
    with RegistryClient(registry, token, tls=tls) as client:
        document, warnings = to_odcs(client.get_version(subject, version))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@click.command(epilog=EXIT_CODES)
@click.option("--prefix", default="", help="Only subjects starting with this.")
@click.option("--deleted", is_flag=True, help="Include soft-deleted subjects.")
@registry_options
@_reports_errors
def subjects(prefix: str, deleted: bool, registry: str, token: str | None, tls: TlsConfig) -> None:
    """List the registered subjects."""
    with RegistryClient(registry, token, tls=tls) as client:
        for name in client.list_subjects(prefix, include_deleted=deleted):
            click.echo(name)


@click.command(epilog=EXIT_CODES)
@click.argument("subject", required=False)
@click.option("--set", "level", default=None, help="Set the compatibility level (e.g. BACKWARD, FULL).")
@registry_options
@_reports_errors
def config(subject: str | None, level: str | None, registry: str, token: str | None, tls: TlsConfig) -> None:
    """Show or set the compatibility level of a subject (or the global default)."""
    with RegistryClient(registry, token, tls=tls) as client:
        setting = client.set_config(subject, level) if level else client.get_config(subject)
    click.echo(f"{subject or '(global)'}: {setting.level.value}")


@click.command(epilog=EXIT_CODES)
@click.argument("subject", required=False)
@click.option("--set", "new_mode", default=None, help="Set the mode: READWRITE, READONLY or IMPORT.")
@click.option("--force", is_flag=True, help="With --set IMPORT: even over existing schemas.")
@click.option("--delete", is_flag=True, help="Remove the subject's own mode (the global one applies).")
@registry_options
@_reports_errors
def mode(
    subject: str | None,
    new_mode: str | None,
    force: bool,
    delete: bool,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Show, set or delete the mode of a subject (or the global mode)."""
    if delete and (new_mode or not subject):
        raise click.UsageError("--delete needs a SUBJECT and no --set")
    with RegistryClient(registry, token, tls=tls) as client:
        if delete:
            click.echo(
                f"{subject}: {client.delete_mode(subject)} removed; {client.get_mode(subject)} applies"
            )
            return
        shown = client.set_mode(subject, new_mode, force) if new_mode else client.get_mode(subject)
    click.echo(f"{subject or '(global)'}: {shown}")


@click.command("referenced-by", epilog=EXIT_CODES)
@click.argument("subject")
@click.option("--version", default="latest", show_default=True, help="Version number or 'latest'.")
@registry_options
@_reports_errors
def referenced_by(subject: str, version: str, registry: str, token: str | None, tls: TlsConfig) -> None:
    """List the ids of the schemas that reference a version of a subject, one a line."""
    with RegistryClient(registry, token, tls=tls) as client:
        for schema_id in client.referenced_by(subject, version):
            click.echo(schema_id)


@click.group()
def consumers() -> None:
    """Register, list and remove the consumers of subjects."""


@consumers.command("add", epilog=EXIT_CODES)
@click.argument("name")
@click.argument("subject")
@click.option("--version", type=int, default=None, help="The version whose schema the consumer reads with.")
@click.option(
    "--reader-schema",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Its own reader schema file.",
)
@click.option("--field", "fields", multiple=True, help="A field it reads (repeatable); default: all.")
@click.option("--format", "format_name", default=None, help="AVRO or PROTOBUF, for a reader schema.")
@registry_options
@_reports_errors
def consumers_add(
    name: str,
    subject: str,
    version: int | None,
    reader_schema: str | None,
    fields: tuple[str, ...],
    format_name: str | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Register consumer NAME of SUBJECT: new versions it cannot read are then rejected."""
    text = Path(reader_schema).read_text(encoding="utf-8") if reader_schema else None
    with RegistryClient(registry, token, tls=tls) as client:
        consumer = client.register_consumer(name, subject, version, text, fields, format_name)
    reads = f"version {consumer.version}" if consumer.version else f"its reader schema {reader_schema}"
    click.echo(f"consumer {consumer.name} of {consumer.subject} reads {reads}")


@consumers.command("list", epilog=EXIT_CODES)
@click.argument("subject", required=False)
@registry_options
@_reports_errors
def consumers_list(subject: str | None, registry: str, token: str | None, tls: TlsConfig) -> None:
    """List consumers (of SUBJECT, or of every subject)."""
    with RegistryClient(registry, token, tls=tls) as client:
        for consumer in client.list_consumers(subject):
            reads = f"version {consumer.version}" if consumer.version else "reader schema"
            fields = f" fields {','.join(consumer.fields)}" if consumer.fields else ""
            click.echo(f"{consumer.subject}\t{consumer.name}\t{reads}{fields}")


@consumers.command("remove", epilog=EXIT_CODES)
@click.argument("name")
@click.argument("subject")
@registry_options
@_reports_errors
def consumers_remove(name: str, subject: str, registry: str, token: str | None, tls: TlsConfig) -> None:
    """Remove consumer NAME of SUBJECT."""
    with RegistryClient(registry, token, tls=tls) as client:
        client.remove_consumer(name, subject)
    click.echo(f"removed consumer {name} of {subject}")


@click.command(epilog=EXIT_CODES)
@click.option(
    "--from", "after", type=click.IntRange(min=0), default=0, help="Print events after this sequence."
)
@click.option("--subject-prefix", default="", help="Only subjects starting with this.")
@click.option("--domain", default="", help="Only subjects of this domain (the part before the first dot).")
@click.option(
    "--type", "types", multiple=True, help="Only this event type (repeatable), e.g. VERSION_REGISTERED."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@registry_options
@_reports_errors
def watch(
    after: int,
    subject_prefix: str,
    domain: str,
    types: tuple[str, ...],
    as_json: bool,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Print change events as they happen (missed ones first); reconnects by itself. Ctrl-C ends it."""
    with RegistryClient(registry, token, tls=tls) as client:
        stream = client.watch(after, subject_prefix, types, reconnect=True, domain=domain)
        try:
            for event in stream:
                if as_json:
                    click.echo(json.dumps(event.to_dict()), nl=True)
                else:
                    click.echo(_describe(event))
        except KeyboardInterrupt:
            stream.close()


def _describe(event) -> str:
    where = event.subject or "(global)"
    if event.version:
        where += f" version {event.version}"
    if event.schema_id:
        where += f" (schema id {event.schema_id})"
    details = " ".join(
        f"{key}={value}" for key, value in sorted(event.detail.items()) if value not in (None, [])
    )
    stamp = event.time.isoformat(timespec="seconds") if event.time else ""
    return f"{event.sequence}\t{stamp}\t{event.type}\t{where}" + (f"\t{details}" if details else "")


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (admin). The first admin token: --data-dir or --database-url."""


def _store_options(command: Callable) -> Callable:
    command = click.option(
        "--database-url",
        default=None,
        envvar="MESHGATE_DATABASE_URL",
        help="Write to this store directly (bootstrap, no server needed; env MESHGATE_DATABASE_URL).",
    )(command)
    return click.option(
        "--data-dir", default=None, help="Write to <data-dir>/registry.db directly (bootstrap)."
    )(command)


def _direct_tokens(data_dir: str | None, database_url: str | None):
    """A ``Tokens`` on the store itself when --data-dir/--database-url is given, else None (gRPC)."""
    if data_dir is None and database_url is None:
        return None
    from registry.auth import Tokens
    from registry.store import Store, sqlite_url

    return Tokens(Store(database_url or sqlite_url(data_dir)))


@token.command("create", epilog=EXIT_CODES)
@click.option("--name", required=True, help="Who or what uses it, e.g. checkout-ci.")
@click.option("--role", type=click.Choice(["admin", "producer", "consumer"]), required=True)
@click.option("--domain", "domains", multiple=True, help="A domain it acts for (repeatable).")
@click.option("--expires-in", default=None, help="Lifetime, e.g. 30d, 12h (default: never expires).")
@_store_options
@registry_options
@_reports_errors
def token_create(
    name: str,
    role: str,
    domains: tuple[str, ...],
    expires_in: str | None,
    data_dir: str | None,
    database_url: str | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Create a token and print its secret once (only its SHA-256 is stored)."""
    from registry.auth import parse_duration

    lifetime = parse_duration(expires_in) if expires_in else None
    direct = _direct_tokens(data_dir, database_url)
    if direct is not None:
        created, secret = direct.create(
            name, role, domains, lifetime, created_by="meshgate token create (store)"
        )
        direct.store.close()
    else:
        with RegistryClient(registry, token, tls=tls) as client:
            created, secret = client.create_token(name, role, domains, lifetime)
    expiry = f", expires {created.expires_at:%Y-%m-%d %H:%M} UTC" if created.expires_at else ""
    scope = f" of {', '.join(created.domains)}" if created.domains else ""
    click.echo(f"token {created.id} {created.name!r}: {created.role}{scope}{expiry}", err=True)
    click.echo("the secret below is shown once; store it now:", err=True)
    click.echo(secret)


@token.command("list", epilog=EXIT_CODES)
@click.option("--revoked", is_flag=True, help="Include revoked tokens.")
@_store_options
@registry_options
@_reports_errors
def token_list(
    revoked: bool,
    data_dir: str | None,
    database_url: str | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """List tokens (never their secrets)."""
    direct = _direct_tokens(data_dir, database_url)
    if direct is not None:
        tokens = direct.list(revoked)
        direct.store.close()
    else:
        with RegistryClient(registry, token, tls=tls) as client:
            tokens = client.list_tokens(revoked)
    for item in tokens:
        state = (
            "revoked"
            if item.revoked_at
            else ("expires " + item.expires_at.isoformat(timespec="seconds") if item.expires_at else "live")
        )
        click.echo(f"{item.id}\t{item.name}\t{item.role}\t{','.join(item.domains) or '-'}\t{state}")


@token.command("revoke", epilog=EXIT_CODES)
@click.argument("token_id", type=int)
@_store_options
@registry_options
@_reports_errors
def token_revoke(
    token_id: int,
    data_dir: str | None,
    database_url: str | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Revoke token TOKEN_ID: it is refused from the next request on."""
    direct = _direct_tokens(data_dir, database_url)
    if direct is not None:
        revoked = direct.revoke(token_id)
        direct.store.close()
    else:
        with RegistryClient(registry, token, tls=tls) as client:
            revoked = client.revoke_token(token_id)
    click.echo(f"revoked token {revoked.id} {revoked.name!r}")


@click.command(epilog=EXIT_CODES)
@click.option("--limit", default=50, show_default=True, help="How many entries, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@registry_options
@_reports_errors
def audit(limit: int, as_json: bool, registry: str, token: str | None, tls: TlsConfig) -> None:
    """Show the audit log of writes and refusals: when, who, what, from where, the outcome and the
    token's role (admin)."""
    with RegistryClient(registry, token, tls=tls) as client:
        entries = client.audit(limit)
    for entry in entries:
        if as_json:
            click.echo(json.dumps({**vars(entry), "time": entry.time.isoformat() if entry.time else None}))
        else:
            stamp = entry.time.isoformat(timespec="seconds") if entry.time else ""
            who = f"{entry.token_name} (id {entry.token_id})" if entry.token_id else entry.token_name
            click.echo(
                f"{stamp}\t{who}\t{entry.action}\t{entry.target}\t{entry.peer}\t{entry.outcome}\t{entry.role}"
            )


@click.group()
def webhooks() -> None:
    """Webhook subscriptions: change events POSTed to a URL, signed, in order (admin)."""


@webhooks.command("add", epilog=EXIT_CODES)
@click.argument("url")
@click.option("--secret", default=None, help="Signing secret (default: generated and printed once).")
@click.option("--subject-prefix", default="", help="Only subjects starting with this.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--from",
    "after",
    type=click.IntRange(min=0),
    default=None,
    help="Deliver events after this sequence (default: from now on).",
)
@registry_options
@_reports_errors
def webhooks_add(
    url: str,
    secret: str | None,
    subject_prefix: str,
    types: tuple[str, ...],
    after: int | None,
    registry: str,
    token: str | None,
    tls: TlsConfig,
) -> None:
    """Subscribe URL to change events."""
    with RegistryClient(registry, token, tls=tls) as client:
        webhook, signing_secret = client.add_webhook(url, secret, subject_prefix, types, after)
    click.echo(f"webhook {webhook.id} -> {webhook.url} (events after sequence {webhook.cursor})", err=True)
    if not secret:
        click.echo("signing secret (shown once):", err=True)
        click.echo(signing_secret)


@webhooks.command("list", epilog=EXIT_CODES)
@registry_options
@_reports_errors
def webhooks_list(registry: str, token: str | None, tls: TlsConfig) -> None:
    """List subscriptions: id, URL, filter, last delivered sequence, failed attempts of the next."""
    with RegistryClient(registry, token, tls=tls) as client:
        for webhook in client.list_webhooks():
            what = ",".join(webhook.event_types) or "all"
            click.echo(
                f"{webhook.id}\t{webhook.url}\t{webhook.subject_prefix or '*'}\t{what}\t"
                f"cursor {webhook.cursor}\tattempts {webhook.attempts}"
            )


@webhooks.command("remove", epilog=EXIT_CODES)
@click.argument("webhook_id", type=int)
@registry_options
@_reports_errors
def webhooks_remove(webhook_id: int, registry: str, token: str | None, tls: TlsConfig) -> None:
    """Remove subscription WEBHOOK_ID."""
    with RegistryClient(registry, token, tls=tls) as client:
        client.remove_webhook(webhook_id)
    click.echo(f"removed webhook {webhook_id}")


@webhooks.command("deliveries", epilog=EXIT_CODES)
@click.argument("webhook_id", type=int, required=False)
@click.option("--limit", default=50, show_default=True)
@registry_options
@_reports_errors
def webhooks_deliveries(
    webhook_id: int | None, limit: int, registry: str, token: str | None, tls: TlsConfig
) -> None:
    """The delivery log, newest first: webhook, sequence, attempt, HTTP status, outcome."""
    with RegistryClient(registry, token, tls=tls) as client:
        for d in client.deliveries(webhook_id, limit):
            stamp = d.time.isoformat(timespec="seconds") if d.time else ""
            click.echo(
                f"{stamp}\twebhook {d.webhook_id}\tsequence {d.sequence}\tattempt {d.attempt}\t"
                f"{d.status_code or '-'}\t{d.outcome}"
            )


@webhooks.command("new-key", epilog=EXIT_CODES)
def webhooks_new_key() -> None:
    """Print a fresh secret key (base64 of 32 random bytes) for MESHGATE_SECRET_KEY."""
    from registry.sealing import new_key

    click.echo(new_key())


@webhooks.command("rotate-key", epilog=EXIT_CODES)
@click.option(
    "--new-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="File holding the new key (`meshgate webhooks new-key > FILE`).",
)
@click.option(
    "--data-dir", default=".meshgate", show_default=True, help="Holds registry.db when no --database-url."
)
@click.option(
    "--database-url",
    default=None,
    envvar="MESHGATE_DATABASE_URL",
    help="SQLAlchemy URL of the registry store.",
)
@_reports_errors
def webhooks_rotate_key(new_key_file: Path, data_dir: str, database_url: str | None) -> None:
    """Re-seal every webhook secret under the key in NEW_KEY_FILE, in one transaction.

    The current key comes from MESHGATE_SECRET_KEY or MESHGATE_SECRET_KEY_FILE (none: the secrets
    are plaintext of an older release). Restart the replicas with the new key afterwards.
    """
    from registry.sealing import SecretBox
    from registry.store import Store, sqlite_url
    from registry.webhooks import Webhooks

    new_box = SecretBox.from_text(new_key_file.read_text(), str(new_key_file))
    store = Store(database_url or sqlite_url(data_dir))
    try:
        count = Webhooks(store, SecretBox.from_environment()).rotate(new_box)
    finally:
        store.close()
    click.echo(f"re-sealed {count} webhook secret(s) with key {new_box.key_id}")


def _explain(error: IncompatibleSchema) -> str:
    lines = [error.message.split(": ", 1)[0]]
    for violation in error.violations:
        line = f" (line {violation.line})" if violation.line else ""
        lines.append(f"  {violation.rule} {violation.path}{line}: {violation.message}")
    return "\n".join(lines)


commands = [
    register,
    get,
    export,
    subjects,
    config,
    mode,
    referenced_by,
    consumers,
    watch,
    token,
    audit,
    webhooks,
]
