"""Which base contract-check compares with: --base, GitLab's and GitHub's variables, else the merge base
with the default branch (locally or as origin/<branch> in a CI clone)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.ci_plugin.conftest import AVRO_SCHEMA, PROTO_SCHEMA, GitRepo


@pytest.fixture
def diverged_repo(contract_repo) -> GitRepo:
    """feature changed the Avro contract; main, after feature branched off, changed the Protobuf one and
    a branch ``release`` points at main's first commit."""
    contract_repo.git("branch", "release", "main")
    contract_repo.edit_json(
        AVRO_SCHEMA,
        lambda s: s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None}),
    )
    contract_repo.commit("feature: optional coupon")
    contract_repo.git("checkout", "-q", "main")
    contract_repo.edit(PROTO_SCHEMA, "string country = 4;", "string country = 4;\n  string region = 7;")
    contract_repo.commit("main moved on: region")
    contract_repo.git("checkout", "-q", "feature")
    return contract_repo


def checked(repo: GitRepo, *args: str, unreachable: str) -> dict:
    """Check with the registry unreachable: --offline-fallback compares with the base it picked."""
    result = repo.contract_check("--registry", unreachable, "--offline-fallback", "--output", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def subjects(report: dict) -> list[str]:
    return [contract["subject"] for contract in report["contracts"]]


def test_default_base_is_the_merge_base_with_the_default_branch(diverged_repo, unreachable_registry):
    report = checked(diverged_repo, unreachable=unreachable_registry)

    assert report["base"] == diverged_repo.git("merge-base", "HEAD", "main")
    assert subjects(report) == ["checkout.CheckoutCompleted"]  # main's own change is not this branch's


def test_explicit_base_wins(diverged_repo, unreachable_registry, monkeypatch):
    monkeypatch.setenv("GITHUB_BASE_REF", "release")

    report = checked(diverged_repo, "--base", "main", unreachable=unreachable_registry)

    assert report["base"] == diverged_repo.git("rev-parse", "main")
    assert subjects(report) == ["checkout.CheckoutCompleted", "identity.UserSignedUp"]


def test_github_pull_request_event_base_sha(diverged_repo, unreachable_registry, monkeypatch, tmp_path):
    main_tip = diverged_repo.git("rev-parse", "main")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"base": {"sha": main_tip, "ref": "main"}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_BASE_REF", "main")

    report = checked(diverged_repo, unreachable=unreachable_registry)

    assert report["base"] == diverged_repo.git("merge-base", "HEAD", main_tip)


def test_github_base_ref_branch(diverged_repo, unreachable_registry, monkeypatch):
    diverged_repo.git("branch", "-f", "release", "main")
    monkeypatch.setenv("GITHUB_BASE_REF", "release")

    report = checked(diverged_repo, unreachable=unreachable_registry)

    assert report["base"] == diverged_repo.git("merge-base", "HEAD", "release")


def test_gitlab_diff_base_sha_is_used_as_is(diverged_repo, unreachable_registry, monkeypatch):
    main_tip = diverged_repo.git("rev-parse", "main")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", main_tip)

    report = checked(diverged_repo, unreachable=unreachable_registry)

    assert report["base"] == main_tip


def test_gitlab_target_branch_name(diverged_repo, unreachable_registry, monkeypatch):
    monkeypatch.setenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "release")

    report = checked(diverged_repo, unreachable=unreachable_registry)

    assert report["base"] == diverged_repo.git("rev-parse", "release")


def test_ci_clone_without_a_local_default_branch_uses_origin(diverged_repo, unreachable_registry, tmp_path):
    clone = GitRepo(tmp_path / "clone")
    subprocess.run(
        ["git", "clone", "-q", "--branch", "feature", str(diverged_repo.root), str(clone.root)], check=True
    )
    assert clone.git("branch", "--list", "main") == ""

    report = checked(clone, unreachable=unreachable_registry)

    assert report["base"] == clone.git("merge-base", "HEAD", "origin/main")
    assert subjects(report) == ["checkout.CheckoutCompleted"]
