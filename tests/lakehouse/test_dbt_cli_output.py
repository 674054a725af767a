"""``meshgate transform`` and ``meshgate docs`` as a user runs them, in a pipe: no colour codes, meshgate's
summary line at the end, and ``docs`` stopped by SIGTERM exits cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import IngestRequest, ingest, resolve_contract
from meshgate.demo import load_generator

ROOT = Path(__file__).resolve().parents[2]
MESHGATE = [sys.executable, "-c", "from meshgate.cli import main; main()"]
KEY = "dbt-cli-test-key"
SUBJECTS = {
    "checkout": "checkout.CheckoutCompleted",
    "signup": "identity.UserSignedUp",
    "pageview": "web.PageViewed",
}


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """A data directory whose Bronze holds one batch of each example subject, through the real gate."""
    data_dir = tmp_path_factory.mktemp("dbt-cli")
    generate = load_generator()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESHGATE_PII_KEY", KEY)  # signups mask their PII at Bronze
        for kind, subject in SUBJECTS.items():
            path = data_dir / f"{kind}.jsonl"
            generate.write(kind, path, 300, seed=5)
            contract = resolve_contract(subject, contract_file=generate.CONTRACTS[kind], registry=None)
            result = ingest(IngestRequest([path], contract, data_dir=data_dir))
            assert result.status == "accepted", result.message
    return data_dir


def _environment() -> dict[str, str]:
    return {**os.environ, "MESHGATE_PII_KEY": KEY, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def transformed(landed):
    command = [*MESHGATE, "transform", "--data-dir", str(landed), "--full-refresh"]
    return subprocess.run(command, env=_environment(), capture_output=True, text=True, timeout=300)


def test_transform_in_a_pipe_prints_no_colour_codes(transformed):
    assert transformed.returncode == 0, transformed.stdout[-2000:] + transformed.stderr[-2000:]
    assert "\x1b[" not in transformed.stdout + transformed.stderr
    assert "OK created sql" in transformed.stdout  # dbt's own progress, each model as it finishes


def test_transform_ends_with_meshgates_one_line_summary(transformed):
    last = transformed.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"meshgate: (\d+) models, tests (\d+) passed / 0 failed( \(\d+ warned\))?, "
        r"rows: Silver (\d+), Gold (\d+), in \d+\.\d s",
        last,
    )
    assert match, last
    assert int(match.group(1)) == 7 and int(match.group(2)) > 0
    assert int(match.group(4)) > 0 and int(match.group(5)) > 0


def test_docs_stops_cleanly_on_sigterm(landed, transformed):
    command = [*MESHGATE, "docs", "--data-dir", str(landed), "--port", "0"]
    server = subprocess.Popen(
        command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for line in server.stdout:
            if line.startswith("serving http://"):
                break
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, stderr[-2000:]
    assert "leaked semaphore" not in stderr
