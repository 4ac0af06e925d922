"""The environment lock: one apply at a time, takeover of expired or orphaned locks, force-unlock."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from execution_support import nonce_of, onboarding_plan, reload, run, set_automine, set_investors

from reconciler import PROJECT_ROOT
from reconciler.errors import LockError
from reconciler.execution import (
    EventKind,
    ExecutionEvent,
    Journal,
    Signer,
    State,
    Timeouts,
    acquire_lock,
    force_unlock,
)
from reconciler.execution.lock import lock_path, read_lock


def rewrite_lock(lock_dir: Path, environment: str, **changes: Any) -> None:
    """Edit fields of a lock file in place, as if another process had written it."""
    path = lock_path(environment, lock_dir)
    content = json.loads(path.read_text())
    content.update(changes)
    path.write_text(json.dumps(content))


def jinbi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_second_caller_gets_owner_and_expiry(lock_dir: Path) -> None:
    first = acquire_lock("devnet", directory=lock_dir)

    with pytest.raises(LockError) as caught:
        acquire_lock("devnet", directory=lock_dir)

    owner = first.owner
    assert caught.value.message == (
        f"environment devnet is locked by another apply: {owner.user}@{owner.host} pid {os.getpid()} "
        f"since {owner.created}, expiring {owner.expires}"
    )
    assert caught.value.hint == (
        "wait for that apply to finish, or run `jinbi unlock --env devnet` if it is no longer running"
    )
    first.release()


def test_second_execute_rejected_while_locked(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path
) -> None:
    start = nonce_of(chain, signer, "pending")
    with acquire_lock("devnet", directory=lock_dir):
        with pytest.raises(LockError, match=r"^environment devnet is locked by another apply: "):
            run(chain, signer, onboarding_plan(chain.deployment, chain.accounts), journal, lock_dir)

    assert nonce_of(chain, signer, "pending") == start
    assert not journal.exists


def test_locks_of_environments_independent(lock_dir: Path) -> None:
    with acquire_lock("devnet", directory=lock_dir), acquire_lock("mainnet", directory=lock_dir):
        assert read_lock("devnet", directory=lock_dir) is not None
        assert read_lock("mainnet", directory=lock_dir) is not None


def test_release_removes_lock_file(lock_dir: Path) -> None:
    with acquire_lock("devnet", directory=lock_dir):
        assert lock_path("devnet", lock_dir).exists()

    assert not lock_path("devnet", lock_dir).exists()


def test_expired_lock_taken_over_with_warning(lock_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    stale = acquire_lock("devnet", directory=lock_dir)
    rewrite_lock(lock_dir, "devnet", expires="2000-01-01T00:00:00Z")

    with caplog.at_level(logging.WARNING, logger="reconciler.execution.lock"):
        taken = acquire_lock("devnet", directory=lock_dir)

    assert taken.owner.token != stale.owner.token
    assert caplog.messages == [
        f"taking over the expired lock of environment devnet held by {stale.owner.user}@{stale.owner.host} "
        f"pid {os.getpid()} since {stale.owner.created}, expiring 2000-01-01T00:00:00Z"
    ]
    # The old holder neither keeps nor removes the new lock.
    with pytest.raises(LockError, match=r"^lost the lock of environment devnet: it was taken over by "):
        stale.ensure_held()
    stale.release()
    assert read_lock("devnet", directory=lock_dir) == taken.owner
    taken.release()


def test_lock_of_dead_process_taken_over(lock_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    acquire_lock("devnet", directory=lock_dir)
    rewrite_lock(lock_dir, "devnet", pid=int(finished.stdout))

    with caplog.at_level(logging.WARNING, logger="reconciler.execution.lock"):
        taken = acquire_lock("devnet", directory=lock_dir)

    assert taken.owner.pid == os.getpid()
    assert "that process no longer exists" in caplog.text
    taken.release()


def test_lock_of_other_host_not_taken_over(lock_dir: Path) -> None:
    acquire_lock("devnet", directory=lock_dir)
    rewrite_lock(lock_dir, "devnet", host="ci-runner-elsewhere", pid=1)

    with pytest.raises(LockError, match=r"locked by another apply: .*@ci-runner-elsewhere pid 1 since "):
        acquire_lock("devnet", directory=lock_dir)


def test_force_unlock_removes_live_lock(lock_dir: Path) -> None:
    held = acquire_lock("devnet", directory=lock_dir)

    removed = force_unlock("devnet", directory=lock_dir)

    assert removed == held.owner
    assert read_lock("devnet", directory=lock_dir) is None
    acquire_lock("devnet", directory=lock_dir).release()


def test_force_unlock_without_lock_returns_none(lock_dir: Path) -> None:
    assert force_unlock("devnet", directory=lock_dir) is None


def test_refresh_extends_expiry(lock_dir: Path) -> None:
    held = acquire_lock("devnet", directory=lock_dir)
    rewrite_lock(lock_dir, "devnet", expires="2000-01-01T00:00:00Z")
    held.owner = read_lock("devnet", directory=lock_dir)  # type: ignore[assignment]

    held.refresh()

    current = read_lock("devnet", directory=lock_dir)
    assert current is not None
    assert current.expires > "2000-01-01T00:00:00Z"
    assert current.token == held.owner.token
    held.release()


def test_apply_keeps_lock_alive_while_waiting(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, manual_mining: None
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    lock = acquire_lock("devnet", directory=lock_dir, ttl=timedelta(seconds=2))
    second_caller: list[str] = []

    def try_to_take_lock_then_mine() -> None:
        # Past the original expiry, a second apply must still find the lock held.
        time.sleep(2.5)
        try:
            acquire_lock("devnet", directory=lock_dir).release()
            second_caller.append("took the lock")
        except LockError as error:
            second_caller.append(error.message)
        set_automine(chain.w3, True)

    contender = threading.Thread(target=try_to_take_lock_then_mine)
    contender.start()
    timeouts = Timeouts(poll_interval=0.05, replace_after=60.0, receipt_timeout=20.0, lock_refresh=0.5)
    result = run(chain, signer, plan, journal, lock_dir, lock=lock, timeouts=timeouts)
    contender.join()

    assert result.ok
    assert len(second_caller) == 1
    assert second_caller[0].startswith("environment devnet is locked by another apply: ")
    lock.release()


def test_apply_stops_when_lock_removed(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    start = nonce_of(chain, signer)

    def unlock_after_first_send(event: ExecutionEvent) -> None:
        if event.kind is EventKind.SENT and event.index == 0:
            force_unlock("devnet", directory=lock_dir)

    with pytest.raises(LockError, match=r"^lost the lock of environment devnet: it was removed$"):
        run(chain, signer, plan, journal, lock_dir, progress=unlock_after_first_send)

    assert sorted(reload(journal).records) == [0]
    assert nonce_of(chain, signer) == start + 1
    # The rerun takes the lock again, settles the first transaction and sends the rest once.
    result = run(chain, signer, plan, reload(journal), lock_dir)
    assert result.ok
    assert nonce_of(chain, signer) == start + 3
    assert [record.state for record in reload(journal).records.values()] == [State.MINED] * 3


def test_unlock_command_removes_lock(lock_dir: Path) -> None:
    held = acquire_lock("devnet", directory=lock_dir)

    result = jinbi("unlock", "--env", "devnet", "--lock-dir", str(lock_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"removed the lock of environment devnet held by {held.owner.describe()}\n"
    assert read_lock("devnet", directory=lock_dir) is None


def test_unlock_command_without_lock(lock_dir: Path) -> None:
    result = jinbi("unlock", "--env", "devnet", "--lock-dir", str(lock_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "environment devnet is not locked; nothing to do\n"
