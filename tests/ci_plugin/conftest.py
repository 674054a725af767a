"""Real git repositories in temporary folders for contract-check tests.

``contract_repo`` is a repository whose ``main`` holds two contracts (the examples' Avro and Protobuf
ones, under ``contracts/``) and a ``meshgate.yaml``; the test then branches off ``feature``, edits and
commits, and runs ``contract-check`` in it (in-process through click's runner, cwd set to the repo).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ci_plugin.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
AVRO_SCHEMA = "contracts/checkout/checkout_completed.avsc"
AVRO_CONTRACT = "contracts/checkout/checkout_completed.yaml"
PROTO_SCHEMA = "contracts/identity/user_signed_up.proto"
PROTO_CONTRACT = "contracts/identity/user_signed_up.yaml"

MESHGATE_YAML = """\
# contract-check configuration of this test repository
default_branch: main
contracts:
  - contracts/**/*.yaml
"""

# Variables a CI runner may have set that would change which base contract-check picks.
CI_VARIABLES = (
    "GITHUB_BASE_REF",
    "GITHUB_EVENT_PATH",
    "GITHUB_STEP_SUMMARY",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "MESHGATE_REGISTRY",
    "MESHGATE_TOKEN",
)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class GitRepo:
    def __init__(self, root: Path):
        self.root = root

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def edit(self, path: str, old: str, new: str) -> None:
        text = self.read(path)
        assert old in text, f"{old!r} not in {path}"
        self.write(path, text.replace(old, new, 1))

    def edit_json(self, path: str, change) -> None:
        """Apply ``change`` to the parsed .avsc and write it back (indented: one field key per line)."""
        schema = json.loads(self.read(path))
        change(schema)
        self.write(path, json.dumps(schema, indent=2) + "\n")

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def line_of(self, path: str, text: str) -> int:
        """1-based line of the first line of ``path`` containing ``text``."""
        for number, line in enumerate(self.read(path).splitlines(), start=1):
            if text in line:
                return number
        raise AssertionError(f"{text!r} not in {path}")

    def contract_check(self, *args: str) -> Result:
        """Run ``contract-check ARGS`` in the repository, in-process."""
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            outcome = CliRunner().invoke(main, list(args), catch_exceptions=False)
        finally:
            os.chdir(cwd)
        return Result(outcome.exit_code, outcome.stdout, outcome.stderr)


def init_repo(root: Path) -> GitRepo:
    root.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.name", "Contract Check Test")
    repo.git("config", "user.email", "contract-check@example.test")
    repo.git("config", "commit.gpgsign", "false")
    return repo


@pytest.fixture(autouse=True)
def _no_ci_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run the same on a laptop and in CI: the runner's own variables are removed."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def contract_repo(tmp_path: Path) -> GitRepo:
    """A repository on branch ``feature``, just branched off ``main`` that holds both example contracts."""
    repo = init_repo(tmp_path / "repo")
    repo.write("meshgate.yaml", MESHGATE_YAML)
    for folder in ("checkout", "identity"):
        shutil.copytree(EXAMPLES / folder, repo.root / "contracts" / folder)
    # One field key per line, so every line number a test expects is unambiguous.
    repo.edit_json(AVRO_SCHEMA, lambda schema: None)
    repo.commit("two contracts")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


@pytest.fixture
def registry(tmp_path: Path):
    """A real registry server (gRPC and HTTP on loopback port 0, SQLite store); yields its gRPC target."""
    from registry.server import RegistryServer, ThreadedServer

    server = RegistryServer(f"sqlite:///{tmp_path / 'registry.db'}", host="127.0.0.1")
    threaded = ThreadedServer(server)
    threaded.start()
    try:
        yield server.grpc_target
    finally:
        threaded.stop()


@pytest.fixture
def unreachable_registry() -> str:
    """A loopback address where nothing listens (a port just freed)."""
    from tests.conftest import free_port

    return f"127.0.0.1:{free_port()}"
