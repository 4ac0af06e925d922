"""SIGKILL an apply at every step boundary, rerun it, and check that each effect happened exactly once.

The victim is a forked child (crash_runner.py) that kills itself at one
journal write: before it, so the chain is ahead of the journal, or after it,
so the next step never happens. The rerun runs in the test process with the
same journal and lock folders, and takes over the dead child's lock.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from crash_runner import KillPoint, Victim, run_until_killed
from execution_support import KEY_SPELLINGS, booking_count, nonce_of, onboarding_plan, run, set_automine

from reconciler.devnet import dev_account
from reconciler.execution import EventKind, ExecutionEvent, Journal, OutcomeStatus, Signer, State

DIGEST = "sha256:" + "cd" * 32

KILL_POINTS = [
    KillPoint("journaled-before-first-send", 0, 1, "signed", "after"),
    KillPoint("first-sent-not-journaled", 0, 1, "sent", "before"),
    KillPoint("first-sent-journaled", 0, 1, "sent", "after"),
    KillPoint("last-journaled-before-send", 2, 1, "signed", "after"),
    KillPoint("last-sent-not-journaled", 2, 1, "sent", "before"),
    KillPoint("all-sent-none-awaited", 2, 1, "sent", "after"),
    KillPoint("first-receipt-not-journaled", 0, 1, "mined", "before"),
    KillPoint("first-mined-journaled", 0, 1, "mined", "after"),
    KillPoint("all-pending-mined-before-rerun", 2, 1, "sent", "after", manual_mining=True),
    KillPoint("all-pending-at-rerun", 2, 1, "sent", "after", manual_mining=True, mine_during_rerun=True),
    KillPoint("replacement-journaled-before-send", 0, 2, "signed", "after", manual_mining=True),
    KillPoint("replacement-sent-not-journaled", 0, 2, "sent", "before", manual_mining=True),
    KillPoint("replacement-sent-journaled", 0, 2, "sent", "after", manual_mining=True),
]


@pytest.mark.parametrize("point", KILL_POINTS, ids=[point.name for point in KILL_POINTS])
def test_rerun_after_kill_applies_each_effect_once(
    chain: Any, signer: Signer, journal_dir: Path, lock_dir: Path, tmp_path: Path, point: KillPoint
) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    start = nonce_of(chain, signer)
    victim = Victim(chain.url, DIGEST, plan, journal_dir, lock_dir, tmp_path / "victim.log", point)

    if point.manual_mining:
        set_automine(chain.w3, False)
    try:
        assert run_until_killed(victim) == -signal.SIGKILL

        # The killed run left the journal exactly at the kill point.
        record = Journal("devnet", DIGEST, directory=journal_dir).records.get(point.index)
        assert record is not None
        assert record.attempts[point.attempt - 1].state.value == point.state_left()

        if point.manual_mining and not point.mine_during_rerun:
            set_automine(chain.w3, True)  # mines what the child left pending

        def mine_on_first_send(event: ExecutionEvent) -> None:
            if point.mine_during_rerun and event.kind is EventKind.SENT:
                set_automine(chain.w3, True)

        rerun_journal = Journal("devnet", DIGEST, directory=journal_dir)
        result = run(chain, signer, plan, rerun_journal, lock_dir, progress=mine_on_first_send)
    finally:
        set_automine(chain.w3, True)

    assert [outcome.status for outcome in result.outcomes] == [OutcomeStatus.CONFIRMED] * 3, result.describe()
    # Exactly one transaction per nonce: three nonces used, no more.
    assert nonce_of(chain, signer) == start + 3
    assert booking_count(chain) == 1
    for index, final in Journal("devnet", DIGEST, directory=journal_dir).records.items():
        assert final.state is State.MINED
        assert [attempt.state for attempt in final.attempts].count(State.MINED) == 1
        assert final.mined_hash is not None
        assert chain.w3.eth.get_transaction_receipt(final.mined_hash)["status"] == 1
        assert chain.w3.eth.get_transaction(final.mined_hash)["nonce"] == start + index
        # A replacement's hash stays in the journal whichever attempt was mined.
        assert len(final.attempts) == (point.attempt if index == point.index else 1)
    # The child's DEBUG log, which includes web3's JSON-RPC traffic, never shows the key.
    log_text = victim.log_path.read_text()
    assert "eth_getTransactionCount" in log_text
    for spelling in KEY_SPELLINGS:
        assert spelling not in log_text


def test_nonce_taken_by_other_transaction_fails_record(
    chain: Any, signer: Signer, journal_dir: Path, lock_dir: Path, tmp_path: Path
) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    point = KillPoint("journaled-before-first-send", 0, 1, "signed", "after")
    victim = Victim(chain.url, DIGEST, plan, journal_dir, lock_dir, tmp_path / "victim.log", point)
    assert run_until_killed(victim) == -signal.SIGKILL
    journaled = Journal("devnet", DIGEST, directory=journal_dir).records[0]
    # Another process sends from the same key and takes the journaled nonce.
    other = dev_account().sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": journaled.nonce,
            "to": chain.accounts[9],
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(other.raw_transaction), timeout=10)

    result = run(chain, signer, plan, Journal("devnet", DIGEST, directory=journal_dir), lock_dir)

    statuses = [outcome.status for outcome in result.outcomes]
    assert statuses == [OutcomeStatus.FAILED, OutcomeStatus.NOT_SENT, OutcomeStatus.NOT_SENT]
    assert result.outcomes[0].error == (
        f"nonce {journaled.nonce} was used by another transaction from {signer.address}, "
        "so this transaction can never be mined"
    )
    assert result.outcomes[1].error == "not sent because transaction #0 failed"
    assert booking_count(chain) == 0
    final = Journal("devnet", DIGEST, directory=journal_dir).records[0]
    assert final.state is State.FAILED
    assert final.latest.state is State.REPLACED
