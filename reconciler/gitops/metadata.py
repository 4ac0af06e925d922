"""The origin of a plan's YAML: commit, branch, author and the files changed since the merge base.

`read_metadata` opens the repository that contains the state folder and
returns a `GitMetadata`, or None outside a repository. `reconciler.planning.run`
records it in the plan. The workflows build their matrix with
`changed_environments`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import GitError

if TYPE_CHECKING:
    import git

log = logging.getLogger(__name__)

# Variables that name the branch a change is compared with, in order of preference.
BASE_VARIABLE = "JINBI_GIT_BASE"  # any revision, such as origin/main
GITHUB_BASE_VARIABLE = "GITHUB_BASE_REF"  # set by GitHub Actions on pull_request events
GITHUB_HEAD_VARIABLE = "GITHUB_HEAD_REF"
DEFAULT_BASES = ("origin/main", "main", "origin/master", "master")

# Changes to these folders can change the plan of every environment.
SHARED_FOLDERS = ("schemas", "contracts")


@dataclass(frozen=True)
class GitMetadata:
    """The commit a plan was made from, and the YAML lines' history."""

    commit: str  # HEAD, 40 hex digits
    branch: str | None  # the checked-out branch; None on a detached HEAD outside a pull request
    author: str  # "Name <email>" of HEAD's author
    base_ref: str | None  # the revision the merge base was taken with, such as origin/main
    merge_base: str | None
    changed_files: tuple[str, ...]  # repository paths changed since the merge base, working tree included
    # (file as displayed in positions, 1-based line) -> the commit that last changed it; None when uncommitted.
    line_commits: Mapping[tuple[str, int], str | None] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """Return the plan file's `git` object (without the per-line commits, which go with each action)."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "author": self.author,
            "base_ref": self.base_ref,
            "merge_base": self.merge_base,
            "changed_files": list(self.changed_files),
        }


def open_repository(path: Path) -> git.Repo | None:
    """Return the repository whose work tree contains PATH, or None when there is none or it has no commit."""
    import git

    try:
        repository = git.Repo(path, search_parent_directories=True)
        repository.head.commit  # noqa: B018 - raises ValueError in a repository without commits
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    if repository.bare or repository.working_tree_dir is None:
        return None
    return repository


def repository_path(repository: git.Repo, path: Path | str) -> str:
    """Return PATH relative to the repository's work tree, with forward slashes.

    Raises GitError when PATH lies outside the work tree.
    """
    root = Path(str(repository.working_tree_dir)).resolve()
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        raise GitError(
            f"{path} is not inside the git work tree {root}",
            hint="keep the state folder inside the repository that reviews it",
        ) from None


def read_metadata(state_dir: Path, files: Iterable[str] = ()) -> GitMetadata | None:
    """Read HEAD, the branch, the author and the changes since the merge base of the repository of STATE_DIR.

    FILES are YAML files as positions display them; each line of each gets the
    commit that last changed it (uncommitted edits included). Returns None
    outside a repository.
    """
    from reconciler.gitops.blame import line_commits

    repository = open_repository(state_dir)
    if repository is None:
        log.info("%s is not in a git repository: the plan records no git metadata", state_dir)
        return None
    head = repository.head.commit
    base_ref, merge_base = _merge_base(repository)
    return GitMetadata(
        commit=head.hexsha,
        branch=_branch(repository),
        author=f"{head.author.name} <{head.author.email}>",
        base_ref=base_ref,
        merge_base=merge_base,
        changed_files=changed_files(repository, merge_base),
        line_commits=line_commits(repository, files),
    )


def _branch(repository: git.Repo) -> str | None:
    if not repository.head.is_detached:
        return str(repository.active_branch.name)
    # A pull request's checkout is a detached merge commit; GitHub names the branch in a variable.
    return os.environ.get(GITHUB_HEAD_VARIABLE) or None


def _base_candidates() -> list[str]:
    explicit = os.environ.get(BASE_VARIABLE, "").strip()
    if explicit:
        return [explicit]
    github = os.environ.get(GITHUB_BASE_VARIABLE, "").strip()
    if github:
        return [f"origin/{github}", github]
    return list(DEFAULT_BASES)


def _merge_base(repository: git.Repo) -> tuple[str | None, str | None]:
    """Return the base revision found and the merge base of HEAD with it, or (None, None)."""
    import git

    for candidate in _base_candidates():
        try:
            base = repository.commit(candidate)
        except (git.BadName, ValueError):
            continue
        found = repository.merge_base(repository.head.commit, base)
        if found:
            return candidate, found[0].hexsha
    return None, None


def changed_files(repository: git.Repo, merge_base: str | None) -> tuple[str, ...]:
    """List the paths that differ between MERGE_BASE and the work tree, untracked files included, sorted.

    Without a merge base, only the uncommitted changes are listed.
    """
    against = merge_base if merge_base is not None else "HEAD"
    names = set(repository.git.diff("--name-only", "--no-renames", against, "--").splitlines())
    names.update(repository.untracked_files)
    return tuple(sorted(name for name in names if name))


def changed_environments(state_dir: Path, base: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Return the environments under STATE_DIR that the changes since BASE can affect, sorted.

    A change under STATE_DIR/<env>/ affects that environment; a change under
    schemas/ or contracts/ affects every one. Environments whose folder no
    longer exists and those in EXCLUDE are left out. Raises GitError outside
    a repository or for an unknown BASE.
    """
    import git

    repository = open_repository(state_dir)
    if repository is None:
        raise GitError(f"{state_dir} is not in a git repository", hint="run this in a clone of the repository")
    try:
        base_commit = repository.commit(base)
    except (git.BadName, ValueError):
        raise GitError(
            f"unknown revision {base!r}",
            hint="pass a commit or branch that the clone has; fetch it first (a shallow clone lacks history)",
        ) from None
    found = repository.merge_base(repository.head.commit, base_commit)
    since = found[0].hexsha if found else base_commit.hexsha
    changed = changed_files(repository, since)

    prefix = repository_path(repository, state_dir).rstrip("/")
    prefix = "" if prefix == "." else prefix + "/"
    existing = sorted(entry.name for entry in state_dir.iterdir() if entry.is_dir()) if state_dir.is_dir() else []
    skipped = set(exclude)
    if any(name.split("/", 1)[0] in SHARED_FOLDERS for name in changed):
        affected = set(existing)
    else:
        affected = {name[len(prefix):].split("/", 1)[0] for name in changed if name.startswith(prefix)}
    return sorted(name for name in affected if name in existing and name not in skipped)
