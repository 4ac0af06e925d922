"""Run `execute` in a forked child process that kills itself with SIGKILL at one journal write.

The kill point is the write at which attempt ATTEMPT of transaction INDEX
reaches STATE, with the kill BEFORE that write reaches the disk or AFTER it.
Only what a real crash leaves behind survives: the journal and lock files and
the chain. Forking skips a fresh interpreter's imports, which would cost most
of each test's time. The child logs at DEBUG level to a file so that the tests
can scan it for the key.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.chain.rpc import connect_url
from reconciler.devnet import DEV_PRIVATE_KEY
from reconciler.execution import Journal, RetryPolicy, Timeouts, TransactionRequest, execute, load_signer


@dataclass(frozen=True)
class KillPoint:
    """Kill the child when attempt ATTEMPT of transaction INDEX reaches STATE, BEFORE or AFTER that journal write."""

    name: str
    index: int
    attempt: int
    state: str
    when: str
    manual_mining: bool = False  # anvil mines nothing until the rerun, so the child leaves transactions pending
    mine_during_rerun: bool = False  # with manual mining: mine only once the rerun has rebroadcast, not before it

    def state_left(self) -> str:
        """Return the state that the killed run left on disk for the trigger attempt."""
        if self.when == "after":
            return self.state
        return {"sent": "signed", "mined": "sent"}[self.state]


class KillingJournal(Journal):
    """A journal that kills its own process at its kill point."""

    def __init__(self, *args: Any, kill_point: KillPoint, **options: Any) -> None:
        super().__init__(*args, **options)
        self.kill_point = kill_point

    def save(self) -> None:
        point = self.kill_point
        record = self.records.get(point.index)
        reached = (
            record is not None
            and len(record.attempts) >= point.attempt
            and record.attempts[point.attempt - 1].state.value == point.state
        )
        if reached and point.when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        super().save()
        if reached:
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Victim:
    """What the child runs: the plan, where its files go, and where to die."""

    url: str
    digest: str
    requests: list[TransactionRequest]
    journal_dir: Path
    lock_dir: Path
    log_path: Path
    kill_point: KillPoint
    replace_after: float = 0.3


def run_until_killed(victim: Victim) -> int | None:
    """Run VICTIM in a forked child and return its exit code (-9 when it was killed as planned)."""
    child = multiprocessing.get_context("fork").Process(target=_child, args=(victim,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        child.join()
        raise AssertionError(f"the child did not reach its kill point {victim.kill_point.name} within 60 s")
    return child.exitcode


def _child(victim: Victim) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(victim.log_path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    # The signer comes from the environment, as in `jinbi apply`.
    os.environ["JINBI_PRIVATE_KEY"] = DEV_PRIVATE_KEY
    journal = KillingJournal("devnet", victim.digest, directory=victim.journal_dir, kill_point=victim.kill_point)
    timeouts = Timeouts(
        poll_interval=0.02, replace_after=victim.replace_after, receipt_timeout=20.0, retry=RetryPolicy(3, 0.01)
    )
    w3 = connect_url(victim.url)
    result = execute(w3, load_signer(), victim.requests, journal=journal, timeouts=timeouts, lock_dir=victim.lock_dir)
    print(result.describe())
