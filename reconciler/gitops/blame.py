"""The commit that last changed each line of the YAML files, from `git blame` through gitpython."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git

log = logging.getLogger(__name__)

UNCOMMITTED = "0" * 40  # the commit git blame gives lines that differ from HEAD


def line_commits(repository: git.Repo, files: Iterable[str]) -> dict[tuple[str, int], str | None]:
    """Map (file as given, 1-based line) to the commit that last changed that line of FILES.

    The blame includes uncommitted edits, so line numbers match the files as
    they are on disk; a line changed since HEAD maps to None. A file outside
    the work tree or unknown to git maps no line at all.
    """
    import git

    from reconciler.errors import GitError
    from reconciler.gitops.metadata import repository_path

    commits: dict[tuple[str, int], str | None] = {}
    for shown in sorted(set(files)):
        try:
            path = repository_path(repository, shown)
            entries = list(repository.blame_incremental(None, path))
        except (GitError, git.GitCommandError) as error:
            log.info("no blame for %s: %s", shown, str(error).splitlines()[0])
            continue
        for entry in entries:
            commit = entry.commit.hexsha if isinstance(entry.commit, git.Commit) else str(entry.commit)
            for line in entry.linenos:
                commits[(shown, line)] = None if commit == UNCOMMITTED else commit
    return commits
