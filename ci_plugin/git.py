"""The few git questions contract-check asks, answered by the ``git`` command line.

Which commit is the base (``--base``, the CI's own variables, or the merge base with the default
branch), which files changed since it (renames detected with ``-M``), and what a file held at a ref.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class GitError(Exception):
    """A git command failed or a ref does not resolve: a usage error (exit 2)."""


@dataclass(frozen=True)
class FileChange:
    status: str  # A added, M modified, D deleted, R renamed (git's letters)
    old_path: str | None
    new_path: str | None


def git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, encoding="utf-8"
        )
    except FileNotFoundError:
        raise GitError("git is not installed (contract-check needs the git command line)") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def repo_root(start: Path) -> Path:
    try:
        return Path(git(start, "rev-parse", "--show-toplevel").strip())
    except GitError:
        raise GitError(f"{start} is not inside a git repository") from None


def commit_of(repo: Path, ref: str) -> str | None:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        return None


def _branch_commit(repo: Path, branch: str) -> str | None:
    """The branch's commit, local first, then the remote-tracking copy CI checkouts usually have."""
    for candidate in (branch, f"origin/{branch}"):
        commit = commit_of(repo, candidate)
        if commit:
            return commit
    return None


def merge_base(repo: Path, branch: str) -> str:
    target = _branch_commit(repo, branch)
    if target is None:
        raise GitError(
            f"branch {branch!r} not found (nor origin/{branch}); fetch it (CI: a full clone, "
            "e.g. actions/checkout with fetch-depth: 0) or pass --base"
        )
    return git(repo, "merge-base", "HEAD", target).strip()


def resolve_base(
    repo: Path, base: str | None, default_branch: str, env: Mapping[str, str] = os.environ
) -> str:
    """The commit to compare against, in order: ``--base``, GitLab's, GitHub's, the default branch's."""
    if base:
        commit = commit_of(repo, base)
        if commit is None:
            raise GitError(f"--base {base!r} does not name a commit in this repository")
        return commit
    gitlab_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    gitlab_commit = commit_of(repo, gitlab_base) if gitlab_base else None
    if gitlab_commit:
        return gitlab_commit
    if env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        return merge_base(repo, env["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"])
    github_base = _github_pull_request_base(env)
    if github_base and commit_of(repo, github_base):
        return merge_base(repo, github_base)
    if env.get("GITHUB_BASE_REF"):
        return merge_base(repo, env["GITHUB_BASE_REF"])
    return merge_base(repo, default_branch)


def publish_base(repo: Path, base: str | None) -> str | None:
    """What ``publish`` compares with: ``--base``, else HEAD's first parent. None, meaning "publish
    every contract" (safe: publishing is idempotent), when there is no such commit: the repository's
    first commit, or the all-zero ``before`` GitHub sends for a new branch."""
    if base is not None and not base.strip("0"):
        return None
    if base:
        commit = commit_of(repo, base)
        if commit is None:
            raise GitError(f"--base {base!r} does not name a commit in this repository")
        return commit
    return commit_of(repo, "HEAD^")


def _github_pull_request_base(env: Mapping[str, str]) -> str | None:
    """``pull_request.base.sha`` from the event payload GitHub writes to ``GITHUB_EVENT_PATH``."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pull_request = event.get("pull_request") if isinstance(event, dict) else None
    base = pull_request.get("base") if isinstance(pull_request, dict) else None
    sha = base.get("sha") if isinstance(base, dict) else None
    return sha if isinstance(sha, str) else None


def changed_files(repo: Path, base: str) -> list[FileChange]:
    """Files that differ between ``base`` and the working tree, including untracked new files."""
    changes = []
    fields = git(repo, "diff", "--name-status", "-M", "-z", base).split("\0")
    i = 0
    while i < len(fields) - 1:
        status = fields[i][0]
        if status in "RC":
            changes.append(FileChange("R" if status == "R" else "A", fields[i + 1], fields[i + 2]))
            i += 3
            continue
        path = fields[i + 1]
        changes.append(FileChange(status, None if status == "A" else path, None if status == "D" else path))
        i += 2
    for path in untracked_files(repo):
        changes.append(FileChange("A", None, path))
    return changes


def untracked_files(repo: Path) -> list[str]:
    return [p for p in git(repo, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if p]


def working_tree_files(repo: Path) -> list[str]:
    tracked = [p for p in git(repo, "ls-files", "-z").split("\0") if p]
    return sorted({p for p in tracked if (repo / p).is_file()} | set(untracked_files(repo)))


def show(repo: Path, ref: str, path: str) -> str | None:
    """The text of ``path`` at ``ref``, or None when it did not exist there."""
    try:
        return git(repo, "show", f"{ref}:{path}")
    except GitError:
        return None
