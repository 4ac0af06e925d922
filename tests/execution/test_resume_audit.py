"""The audit record of an apply that a rerun finishes after a crash: written once, to the file and the git note.

The chain and plan file come from target_world.py (21 actions in 7
transactions). Each case copies the world's state into a git repository of
its own, so that `jinbi apply` appends its records to the note of that
repository's HEAD. The case then kills the first apply while its
transactions are pending, or after the last receipt and before the audit
record, and reruns it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV
from execution_support import set_automine, txpool_hashes
from target_world import TRANSACTIONS, World, assert_converged_once

from reconciler.devnet import dev_account
from reconciler.gitops.audit import NOTES_REF

# The journal writes of an uninterrupted apply on an automining chain: signed and sent, then mined, per transaction.
LAST_JOURNAL_WRITE = 3 * TRANSACTIONS


def git(repository: Path, *args: str) -> str:
    """Run git in REPOSITORY with a fixed identity and without the user's or the system's configuration."""
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Transfer Agent",
        "GIT_AUTHOR_EMAIL": "agent@example.com",
        "GIT_COMMITTER_NAME": "Transfer Agent",
        "GIT_COMMITTER_EMAIL": "agent@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=repository, env=environment, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


def committed_state(world: World, folder: Path) -> Path:
    """Copy the world's state into a new git repository at FOLDER, commit it, and return the state folder."""
    state_dir = folder / "state"
    shutil.copytree(world.workspace.env_dir, state_dir / ENV)
    (folder / ".gitignore").write_text("/.jinbi/\n/run-*\n", encoding="utf-8")
    git(folder, "init", "--quiet", "--initial-branch", "main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "Add the target state")
    return state_dir


def noted_digests(folder: Path) -> list[str]:
    """Return the plan digest of each apply record in the note of HEAD, in the order they were appended."""
    note = git(folder, "notes", f"--ref={NOTES_REF}", "show", "HEAD")
    records = [json.loads(line) for line in note.splitlines() if line.strip()]
    return [record["plan_digest"] for record in records if record["type"] == "apply"]


def record_file(folder: Path, digest: str) -> dict[str, Any]:
    path = folder / ".jinbi" / "audit" / ENV / f"{digest.replace(':', '-')}.json"
    assert path.exists(), f"no audit record file {path}"
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def journaled_digest(folder: Path) -> str:
    """Return the digest of the one plan that an apply in FOLDER journaled."""
    (plan_copy,) = (folder / ".jinbi" / "journal" / ENV).glob("*.plan.json")
    return str(json.loads(plan_copy.read_text(encoding="utf-8"))["digest"])


def wait_for_pending(world: World, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(txpool_hashes(world.chain.w3, dev_account().address)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} transactions reached the txpool in {timeout:g} s"
        time.sleep(0.05)


def test_resumed_apply_writes_audit_record(target_world: World) -> None:
    folder = target_world.new_case("resume-audit-pending")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    state_dir = committed_state(target_world, folder)
    fresh_apply = ("apply", "--env", ENV, "--state-dir", str(state_dir), "--auto-approve", "--no-simulate")

    # The first apply sends all seven transactions and is killed while they are pending.
    set_automine(w3, False)
    try:
        first = workspace.start_jinbi(*fresh_apply, cwd=folder)
        wait_for_pending(target_world, TRANSACTIONS)
        first.kill()
        assert workspace.finish(first).returncode == -9
    finally:
        set_automine(w3, True)  # mines what is pending
    digest = journaled_digest(folder)
    assert not (folder / ".jinbi" / "audit").exists()

    rerun = workspace.forked(*fresh_apply, cwd=folder)

    assert rerun.returncode == 0, rerun.describe()
    assert f"Resuming the interrupted apply of plan {digest}: " in rerun.stdout
    assert f"{TRANSACTIONS} transactions: {TRANSACTIONS} confirmed" in rerun.stdout
    assert "audit record written to .jinbi/audit/devnet/" in rerun.stdout
    record = record_file(folder, digest)
    assert [transaction["status"] for transaction in record["transactions"]] == ["confirmed"] * TRANSACTIONS
    assert record["commit"] == git(folder, "rev-parse", "HEAD")
    assert noted_digests(folder) == [digest]
    assert_converged_once(target_world)

    # A third run finds the record and neither resumes nor records that apply again.
    third = workspace.forked(*fresh_apply, cwd=folder)

    assert third.returncode == 0, third.describe()
    assert "interrupted apply" not in third.stdout
    assert "audit record" not in third.stdout
    assert noted_digests(folder) == [digest]


@pytest.mark.parametrize("plan_file", ["", "simulated", "unsimulated"], ids=["fresh-plan", "plan-file", "unsimulated-file"])
def test_apply_killed_before_audit_record(target_world: World, plan_file: str) -> None:
    folder = target_world.new_case(f"resume-audit-final-{plan_file or 'fresh-plan'}")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    state_dir = committed_state(target_world, folder)
    arguments = ("apply", "--env", ENV, "--state-dir", str(state_dir), "--auto-approve", "--no-simulate")
    if plan_file == "simulated":
        arguments = (*arguments, str(target_world.plan_file))
    elif plan_file == "unsimulated":
        # Without the simulation's values, the rerun cannot tell this plan's own writes from anyone else's.
        unsimulated = folder / "unsimulated.json"
        planned = workspace.jinbi("plan", "--env", ENV, "--state-dir", str(state_dir), "--no-simulate", "--out", str(unsimulated))
        assert planned.returncode == 0, planned.describe()
        arguments = (*arguments, str(unsimulated))

    # Killed right after the journal recorded the last receipt: every transaction is final, no record is written.
    killed = workspace.forked(*arguments, cwd=folder, kill_at_save=LAST_JOURNAL_WRITE, kill_when="after")
    assert killed.returncode == -9, killed.describe()
    assert not (folder / ".jinbi" / "audit").exists()
    digest = journaled_digest(folder)
    nonce_after_kill = w3.eth.get_transaction_count(dev_account().address)

    rerun = workspace.forked(*arguments, cwd=folder)

    assert rerun.returncode == 0, rerun.describe()
    assert (
        f"Recording the interrupted apply of plan {digest}: its {TRANSACTIONS} journaled transactions are final, "
        "but it stopped before its audit record.\n"
    ) in rerun.stdout
    assert f"{TRANSACTIONS} transactions: {TRANSACTIONS} confirmed" in rerun.stdout
    if plan_file == "unsimulated":
        assert "Every transaction of this plan was sent: nothing more to send.\n" in rerun.stdout
    assert w3.eth.get_transaction_count(dev_account().address) == nonce_after_kill
    record = record_file(folder, digest)
    assert [transaction["status"] for transaction in record["transactions"]] == ["confirmed"] * TRANSACTIONS
    assert noted_digests(folder) == [digest]
    assert_converged_once(target_world)

    # The same command again records nothing more.
    again = workspace.forked(*arguments, cwd=folder)

    assert again.returncode == 0, again.describe()
    assert "audit record" not in again.stdout
    assert noted_digests(folder) == [digest]


def test_unsimulated_plan_file_not_resent_after_partial_apply(target_world: World) -> None:
    folder = target_world.new_case("resume-audit-unsimulated-partial")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    state_dir = committed_state(target_world, folder)
    unsimulated = folder / "unsimulated.json"
    planned = workspace.jinbi("plan", "--env", ENV, "--state-dir", str(state_dir), "--no-simulate", "--out", str(unsimulated))
    assert planned.returncode == 0, planned.describe()
    arguments = ("apply", "--env", ENV, "--state-dir", str(state_dir), "--auto-approve", "--no-simulate", str(unsimulated))

    # Killed after three journal writes: the first transactions are journaled, the rest were never signed.
    killed = workspace.forked(*arguments, cwd=folder, kill_at_save=3, kill_when="after")
    assert killed.returncode == -9, killed.describe()
    digest = journaled_digest(folder)

    rerun = workspace.forked(*arguments, cwd=folder)

    assert rerun.returncode == 1, rerun.describe()
    statuses = [transaction["status"] for transaction in record_file(folder, digest)["transactions"]]
    assert statuses == ["confirmed"] * len(statuses)
    assert 0 < len(statuses) < TRANSACTIONS
    assert (
        f"plan {digest} was not simulated, so after its interrupted apply the chain cannot be checked against it: "
        f"its journaled transactions are finished, and its other {TRANSACTIONS - len(statuses)} were not sent"
    ) in rerun.stderr
    # Only the journaled transactions were ever sent.
    assert w3.eth.get_transaction_count(dev_account().address) == target_world.nonce_before + len(statuses)
