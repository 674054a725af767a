"""Every registry command's --help documents its exit codes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from meshgate.cli import main
from registry.cli import commands


def _paths() -> list[list[str]]:
    paths = []
    for command in commands:
        if isinstance(command, click.Group):
            paths += [[command.name, name] for name in command.commands]
        else:
            paths.append([command.name])
    return paths


@pytest.mark.parametrize("path", _paths(), ids=" ".join)
def test_every_registry_command_documents_its_exit_codes(path):
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Exit codes: 0 done, 1 the registry refused or failed" in result.stdout
    assert "2 usage error" in result.stdout


@pytest.mark.parametrize("path", [[], ["transform"], ["docs"], ["dbt-sources"]], ids=" ".join)
def test_the_meshgate_group_and_the_dbt_commands_document_their_exit_codes(path):
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "xit 0" in result.stdout or "Exit codes: 0" in result.stdout
    assert "2 usage" in result.stdout
