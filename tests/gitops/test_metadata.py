"""Git metadata without a chain: changed environments, branch, merge base, blame and the plan file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reconciler.errors import GitError
from reconciler.gitops.blame import line_commits
from reconciler.gitops.metadata import changed_environments, open_repository, read_metadata

GIT_ENVIRONMENT = {
    "GIT_AUTHOR_NAME": "Reviewer",
    "GIT_AUTHOR_EMAIL": "reviewer@example.com",
    "GIT_COMMITTER_NAME": "Reviewer",
    "GIT_COMMITTER_EMAIL": "reviewer@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    environment = {**os.environ, **GIT_ENVIRONMENT}
    done = subprocess.run(["git", *args], cwd=root, env=environment, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("JINBI_GIT_BASE", "GITHUB_BASE_REF", "GITHUB_HEAD_REF"):
        monkeypatch.delenv(variable, raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch", "main")
    for environment in ("devnet", "mainnet", "testnet"):
        write(root, f"state/{environment}/investors.yaml", "kind: Investors\n")
    write(root, "schemas/investors.schema.json", "{}\n")
    write(root, "README.md", "readme\n")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "Start")
    git(root, "checkout", "--quiet", "-b", "change")
    return root


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        pytest.param(["state/mainnet/investors.yaml"], ["mainnet"], id="one-environment"),
        pytest.param(["state/mainnet/investors.yaml", "state/testnet/new.yaml"], ["mainnet", "testnet"], id="two"),
        pytest.param(["schemas/investors.schema.json"], ["devnet", "mainnet", "testnet"], id="schemas-affect-all"),
        pytest.param(["contracts/src/Token.sol"], ["devnet", "mainnet", "testnet"], id="contracts-affect-all"),
        pytest.param(["README.md"], [], id="unrelated"),
    ],
)
def test_changed_environments(repository: Path, changed: list[str], expected: list[str]) -> None:
    for name in changed:
        write(repository, name, "changed\n")
    commit_all(repository, "Change")
    assert changed_environments(repository / "state", "main") == expected


def test_changed_environments_exclude_and_deleted(repository: Path) -> None:
    write(repository, "schemas/investors.schema.json", "{ }\n")
    git(repository, "rm", "--quiet", "-r", "state/testnet")
    commit_all(repository, "Drop testnet")
    assert changed_environments(repository / "state", "main", exclude=["devnet"]) == ["mainnet"]


def test_changed_environments_counts_uncommitted_files(repository: Path) -> None:
    write(repository, "state/devnet/sanctions.yaml", "kind: Sanctions\n")
    assert changed_environments(repository / "state", "main") == ["devnet"]


def test_changed_environments_unknown_base(repository: Path) -> None:
    with pytest.raises(GitError, match="unknown revision 'origin/nope'"):
        changed_environments(repository / "state", "origin/nope")


def test_metadata_of_a_branch(repository: Path) -> None:
    base = git(repository, "rev-parse", "main")
    write(repository, "state/devnet/investors.yaml", "kind: Investors\ninvestors: {}\n")
    head = commit_all(repository, "Edit devnet")
    write(repository, "state/devnet/investors.yaml", "kind: Investors\ninvestors: {}\n# note\n")

    shown = str(repository / "state" / "devnet" / "investors.yaml")
    metadata = read_metadata(repository / "state", [shown])
    assert metadata is not None
    assert (metadata.commit, metadata.branch, metadata.author) == (head, "change", "Reviewer <reviewer@example.com>")
    assert (metadata.base_ref, metadata.merge_base) == ("main", base)
    assert metadata.changed_files == ("state/devnet/investors.yaml",)
    assert dict(sorted(metadata.line_commits.items())) == {(shown, 1): base, (shown, 2): head, (shown, 3): None}


def test_metadata_on_a_detached_pull_request_checkout(repository: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repository, "state/mainnet/investors.yaml", "kind: Investors\ninvestors: {}\n")
    head = commit_all(repository, "Edit mainnet")
    git(repository, "checkout", "--quiet", "--detach", head)
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature/onboarding")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    metadata = read_metadata(repository / "state")
    assert metadata is not None
    assert metadata.branch == "feature/onboarding"
    assert metadata.base_ref == "main"  # origin/main does not exist in this clone
    assert metadata.changed_files == ("state/mainnet/investors.yaml",)


def test_metadata_outside_a_repository(tmp_path: Path) -> None:
    assert read_metadata(tmp_path) is None
    assert open_repository(tmp_path) is None


def test_blame_skips_untracked_and_outside_files(repository: Path, tmp_path: Path) -> None:
    write(repository, "state/devnet/untracked.yaml", "a\n")
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("a\n", encoding="utf-8")
    opened = open_repository(repository)
    assert opened is not None
    assert line_commits(opened, [str(repository / "state/devnet/untracked.yaml"), str(outside)]) == {}
