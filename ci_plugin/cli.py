"""The ``contract-check`` command line.

Exit codes: 0 compatible, 1 breaking, 2 usage, configuration or parse error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ci_plugin.report import render_json, render_text
from registry.compat import MAX_SCHEMA_BYTES, Level, check_compatibility, get_format
from registry.errors import InvalidSchema

EXIT_OK, EXIT_BREAKING, EXIT_USAGE = 0, 1, 2


@click.group()
def main() -> None:
    """Check data-contract changes for compatibility."""


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


@main.command()
@click.option(
    "--format", "format_name", type=click.Choice(["avro", "protobuf"], case_sensitive=False), required=True
)
@click.option(
    "--level", default="BACKWARD", show_default=True, help="Compatibility level (Confluent semantics)."
)
@click.option(
    "--ruleset",
    type=click.Choice(["WIRE", "WIRE_JSON"], case_sensitive=False),
    default=None,
    help="Protobuf only: buf's stricter rule set instead of Confluent's default.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("schemas", nargs=-1, required=True, type=click.Path(dir_okay=False))
def diff(format_name: str, level: str, ruleset: str | None, output: str, schemas: tuple[str, ...]) -> None:
    """Compare schema files offline: OLD... NEW (several OLD files, oldest first, for *_TRANSITIVE)."""
    if len(schemas) < 2:
        raise click.UsageError("give at least one OLD schema file and the NEW one")
    try:
        parsed_level = Level.parse(level)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    schema_format = get_format(format_name)
    parsed = []
    for path in schemas:
        try:
            parsed.append(schema_format.parse(read_schema_file(path), source_name=path))
        except InvalidSchema as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(EXIT_USAGE)
    result = check_compatibility(schema_format, parsed_level, parsed[-1], parsed[:-1], ruleset=ruleset)
    if output == "json":
        click.echo(render_json(result))
    else:
        click.echo(render_text(result, schemas[-1], parsed_level.value))
    sys.exit(EXIT_OK if result.compatible else EXIT_BREAKING)
