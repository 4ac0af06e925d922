"""The child side of a forked `jinbi` run: the console script's `main` in a process of its own.

`cli_support.Workspace.forked` forks these processes from a
multiprocessing forkserver that has imported the reconciler already, which
saves about a second of imports per run. What runs is `reconciler.cli.main`, the entry point
of the `jinbi` console script, with its own argv, environment, working
folder, stdout and stderr.

With a kill point, the child wraps `Journal.save` to SIGKILL itself right
before or right after the journal's Nth write: the boundaries that
crash_runner.py uses for `execute`, here in the whole command. With a record
path, it appends one JSON line per write: the write's number and the state of
every record and attempt after it.

Only the standard library and the reconciler are imported here, because the
forkserver imports this module before it forks.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class CliRun:
    """One `jinbi` command: its arguments, environment, folder and output files, and where it kills itself."""

    args: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    stdout: str  # file path
    stderr: str  # file path
    kill_at_save: int | None = None  # the Nth journal write of the run, from 1
    kill_when: str = "after"  # "before" or "after" that write
    record: str | None = None  # file that gets one JSON line per journal write


def run_cli(run: CliRun) -> None:
    """Run the command in this process and exit with its exit code."""
    os.chdir(run.cwd)
    os.environ.clear()
    os.environ.update(run.env)
    _redirect(1, run.stdout)
    _redirect(2, run.stderr)
    if run.kill_at_save is not None or run.record is not None:
        _instrument_journal(run)
    sys.argv = ["jinbi", *run.args]

    from reconciler.cli import main

    main()


def _redirect(descriptor: int, path: str) -> None:
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(target, descriptor)
    os.close(target)


def _instrument_journal(run: CliRun) -> None:
    from reconciler.execution.journal import Journal

    original = Journal.save
    writes = 0

    def save(journal: Journal) -> None:
        nonlocal writes
        writes += 1
        if writes == run.kill_at_save and run.kill_when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        original(journal)
        if run.record is not None:
            line = {
                "write": writes,
                "records": {
                    str(index): [record.state.value, [attempt.state.value for attempt in record.attempts]]
                    for index, record in sorted(journal.records.items())
                },
            }
            with open(run.record, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        if writes == run.kill_at_save:
            os.kill(os.getpid(), signal.SIGKILL)

    Journal.save = save  # type: ignore[method-assign]
