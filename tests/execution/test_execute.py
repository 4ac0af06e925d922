"""`execute` against a real anvil: ordering, back-to-back sending, reverts, replacement, confirmations, reruns."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from execution_support import (
    block_addresses,
    book,
    booking_count,
    nonce_of,
    onboarding_plan,
    reload,
    rpc,
    run,
    set_automine,
    set_investors,
    txpool_hashes,
)
from web3.exceptions import TransactionNotFound

from reconciler.errors import ExecutionError
from reconciler.execution import (
    EventKind,
    ExecutionEvent,
    FeePolicy,
    Journal,
    OutcomeStatus,
    Signer,
    State,
    Timeouts,
    TransactionRequest,
)


# --- ordering and back-to-back sending ---------------------------------------


def test_all_confirmed_in_order_with_consecutive_nonces(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path
) -> None:
    start = nonce_of(chain, signer)
    events: list[ExecutionEvent] = []
    plan = onboarding_plan(chain.deployment, chain.accounts)

    result = run(chain, signer, plan, journal, lock_dir, progress=events.append)

    assert result.ok
    assert [outcome.status for outcome in result.outcomes] == [OutcomeStatus.CONFIRMED] * 3
    assert [outcome.nonce for outcome in result.outcomes] == [start, start + 1, start + 2]
    blocks = [outcome.block_number for outcome in result.outcomes]
    assert blocks == sorted(blocks)
    assert nonce_of(chain, signer) == start + 3
    for outcome in result.outcomes:
        receipt = chain.w3.eth.get_transaction_receipt(outcome.tx_hash)
        assert receipt["status"] == 1
        assert receipt["gasUsed"] == outcome.gas_used
    assert booking_count(chain) == 1
    assert chain.contracts["compliance_registry"].functions.isBlocked(chain.accounts[7]).call()
    # Every transaction is sent before the first receipt is awaited.
    assert [event.kind for event in events] == [EventKind.SENT] * 3 + [EventKind.CONFIRMED] * 3


def test_journal_records_final_states(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    result = run(chain, signer, onboarding_plan(chain.deployment, chain.accounts), journal, lock_dir)

    records = reload(journal).records
    assert sorted(records) == [0, 1, 2]
    for outcome in result.outcomes:
        record = records[outcome.index]
        assert record.state is State.MINED
        assert record.mined_hash == outcome.tx_hash
        assert record.block_number == outcome.block_number
        assert [attempt.state for attempt in record.attempts] == [State.MINED]


def test_all_sent_before_first_mined(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, manual_mining: None
) -> None:
    pool_when_sent: dict[int, str] = {}

    def mine_after_last_send(event: ExecutionEvent) -> None:
        if event.kind is EventKind.SENT and event.index == 2:
            pool_when_sent.update(txpool_hashes(chain.w3, signer.address))
            rpc(chain.w3, "evm_mine")

    plan = onboarding_plan(chain.deployment, chain.accounts)
    result = run(chain, signer, plan, journal, lock_dir, progress=mine_after_last_send)

    assert result.ok
    assert pool_when_sent == {outcome.nonce: outcome.tx_hash for outcome in result.outcomes}
    assert len({outcome.block_number for outcome in result.outcomes}) == 1


def test_empty_plan_sends_nothing(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    start = nonce_of(chain, signer, "pending")

    result = run(chain, signer, [], journal, lock_dir)

    assert result.ok
    assert result.outcomes == ()
    assert nonce_of(chain, signer, "pending") == start


def test_requests_out_of_order_rejected(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)

    with pytest.raises(ValueError, match=r"numbered 0 to 1 in order, got \[1, 0\]"):
        run(chain, signer, [plan[1], plan[0]], journal, lock_dir)


# --- failures ----------------------------------------------------------------


def test_revert_reported_with_decoded_error(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    # accounts[6] is not registered, so the oracle refuses it as a receiver of 144A.
    plan = [
        book(0, chain.deployment.dvp_settlement, "ALLOC-0009", chain.accounts[6]),
        block_addresses(1, chain.deployment.compliance_registry, [chain.accounts[7]]),
    ]
    events: list[ExecutionEvent] = []

    result = run(chain, signer, plan, journal, lock_dir, progress=events.append)

    failed, later = result.outcomes
    assert failed.status is OutcomeStatus.FAILED
    assert failed.revert is not None
    assert failed.revert.name == "InvestorCannotReceive"
    assert failed.error is not None
    assert failed.error.startswith("reverted with InvestorCannotReceive(id='ALLOC-0009', partition='144A', ")
    assert chain.w3.eth.get_transaction_receipt(failed.tx_hash)["status"] == 0
    # The next transaction was already sent when the revert was seen, so it is mined and reported.
    assert later.status is OutcomeStatus.CONFIRMED
    assert [event.kind for event in events] == [EventKind.SENT, EventKind.SENT, EventKind.FAILED, EventKind.CONFIRMED]
    assert reload(journal).records[0].state is State.FAILED


def test_failure_raises_with_replan_hint(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    plan = [book(0, chain.deployment.dvp_settlement, "ALLOC-0009", chain.accounts[6])]
    result = run(chain, signer, plan, journal, lock_dir)

    with pytest.raises(ExecutionError) as caught:
        result.raise_for_failures()

    assert caught.value.message.startswith(
        "1 of 1 transactions were not confirmed: "
        "#0 failed: DvPSettlement.book (ALLOC-0009): reverted with InvestorCannotReceive("
    )
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("the chain no longer matches the plan: run `jinbi plan` again")


def test_rerun_sends_nothing_after_failure(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    failing = book(0, chain.deployment.dvp_settlement, "ALLOC-0009", chain.accounts[6])
    run(chain, signer, [failing], journal, lock_dir)
    after_first = nonce_of(chain, signer, "pending")
    # The same plan with a transaction that the first run never signed.
    extended = [failing, block_addresses(1, chain.deployment.compliance_registry, [chain.accounts[7]])]

    result = run(chain, signer, extended, reload(journal), lock_dir)

    assert [outcome.status for outcome in result.outcomes] == [OutcomeStatus.FAILED, OutcomeStatus.NOT_SENT]
    assert result.outcomes[1].error == "not sent because transaction #0 failed"
    assert nonce_of(chain, signer, "pending") == after_first


def test_rejected_transaction_stops_sending(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    registry = chain.deployment.compliance_registry
    too_big = TransactionRequest(1, registry, "0x", 40_000_000, "a call above the block gas limit")
    plan = [set_investors(0, registry, [chain.accounts[1]]), too_big, block_addresses(2, registry, [chain.accounts[7]])]

    result = run(chain, signer, plan, journal, lock_dir)

    assert [outcome.status for outcome in result.outcomes] == [
        OutcomeStatus.CONFIRMED,
        OutcomeStatus.NOT_SENT,
        OutcomeStatus.NOT_SENT,
    ]
    assert result.outcomes[1].error is not None
    assert result.outcomes[1].error.startswith("rejected by the node: ")
    assert result.outcomes[2].error == "not sent because transaction #1 was rejected"
    assert reload(journal).records[1].latest.state is State.REJECTED
    assert 2 not in reload(journal).records


def test_fee_cap_below_base_fee_sends_nothing(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    start = nonce_of(chain, signer, "pending")
    plan = onboarding_plan(chain.deployment, chain.accounts)

    with pytest.raises(ExecutionError, match=r"^the max fee cap of 0\.000000001 gwei is below the base fee of "):
        run(chain, signer, plan, journal, lock_dir, fees=FeePolicy(max_fee_per_gas=1))

    assert nonce_of(chain, signer, "pending") == start
    assert not journal.exists


# --- journal lost: the contracts reject reused ids ----------------------------


def test_rerun_without_journal_books_once(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, tmp_path: Path
) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    assert run(chain, signer, plan, journal, lock_dir).ok
    lost = Journal(journal.environment, journal.plan_digest, directory=tmp_path / "empty")

    result = run(chain, signer, plan, lost, lock_dir)

    assert booking_count(chain) == 1
    statuses = [outcome.status for outcome in result.outcomes]
    assert statuses == [OutcomeStatus.CONFIRMED, OutcomeStatus.FAILED, OutcomeStatus.CONFIRMED]
    booking = result.outcomes[1]
    assert booking.revert is not None
    assert booking.revert.name == "BookingIdTaken"
    with pytest.raises(ExecutionError, match=r"reverted with BookingIdTaken\(id='ALLOC-0001'\)"):
        result.raise_for_failures()


# --- replacement and confirmations --------------------------------------------


def test_unmined_transaction_replaced_at_same_nonce(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, manual_mining: None
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    start = nonce_of(chain, signer)

    def mine_after_replacement(event: ExecutionEvent) -> None:
        if event.kind is EventKind.REPLACED:
            rpc(chain.w3, "evm_mine")

    timeouts = Timeouts(poll_interval=0.02, replace_after=0.3, receipt_timeout=20.0)
    result = run(chain, signer, plan, journal, lock_dir, timeouts=timeouts, progress=mine_after_replacement)

    (outcome,) = result.outcomes
    assert outcome.status is OutcomeStatus.CONFIRMED
    assert outcome.attempts == 2
    record = reload(journal).records[0]
    original, replacement = record.attempts
    assert [original.state, replacement.state] == [State.REPLACED, State.MINED]
    assert outcome.tx_hash == replacement.tx_hash
    assert replacement.max_fee_per_gas > original.max_fee_per_gas
    assert replacement.max_priority_fee_per_gas > original.max_priority_fee_per_gas
    with pytest.raises(TransactionNotFound):
        chain.w3.eth.get_transaction_receipt(original.tx_hash)
    assert chain.w3.eth.get_transaction(replacement.tx_hash)["nonce"] == start
    assert nonce_of(chain, signer) == start + 1


def test_fee_cap_prevents_replacement_then_rerun_resumes(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, manual_mining: None, caplog: pytest.LogCaptureFixture
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    base_fee = int(chain.w3.eth.get_block("latest")["baseFeePerGas"])
    fees = FeePolicy(max_fee_per_gas=2 * base_fee + 10**9, max_priority_fee_per_gas=10**9)
    timeouts = Timeouts(poll_interval=0.02, replace_after=0.1, receipt_timeout=0.5)

    with caplog.at_level(logging.WARNING, logger="reconciler.execution"):
        first = run(chain, signer, plan, journal, lock_dir, fees=fees, timeouts=timeouts)

    assert first.outcomes[0].status is OutcomeStatus.PENDING
    assert first.outcomes[0].error == "sent but not confirmed within 0.5 s; a rerun resumes it"
    assert "and the fee caps allow no replacement above" in caplog.text
    with pytest.raises(ExecutionError) as caught:
        first.raise_for_failures()
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("rerun `jinbi apply` with the same plan: it resumes from the journal ")

    set_automine(chain.w3, True)
    second = run(chain, signer, plan, reload(journal), lock_dir, fees=fees)

    assert second.ok
    assert second.outcomes[0].tx_hash == first.outcomes[0].tx_hash
    assert second.outcomes[0].attempts == 1


def test_waits_for_confirmations(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    stop = threading.Event()
    depth_at_confirmation: list[int] = []

    def mine_blocks() -> None:
        while not stop.wait(0.05):
            rpc(chain.w3, "evm_mine")

    def record_depth(event: ExecutionEvent) -> None:
        if event.kind is EventKind.CONFIRMED:
            block = chain.w3.eth.get_transaction_receipt(event.tx_hash)["blockNumber"]
            depth_at_confirmation.append(chain.w3.eth.block_number - block + 1)

    miner = threading.Thread(target=mine_blocks, daemon=True)
    miner.start()
    try:
        result = run(
            chain, signer, onboarding_plan(chain.deployment, chain.accounts), journal, lock_dir,
            confirmations=3, progress=record_depth,
        )  # fmt: skip
    finally:
        stop.set()
        miner.join()

    assert result.ok
    assert len(depth_at_confirmation) == 3
    assert min(depth_at_confirmation) >= 3


def test_rerun_of_confirmed_plan_sends_nothing(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    first = run(chain, signer, plan, journal, lock_dir)
    after_first = nonce_of(chain, signer, "pending")

    second = run(chain, signer, plan, reload(journal), lock_dir)

    assert second.ok
    assert [outcome.tx_hash for outcome in second.outcomes] == [outcome.tx_hash for outcome in first.outcomes]
    assert all(outcome.from_journal for outcome in second.outcomes)
    assert nonce_of(chain, signer, "pending") == after_first


def test_journal_of_other_plan_version_rejected(chain: Any, signer: Signer, journal: Journal, lock_dir: Path) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    run(chain, signer, plan, journal, lock_dir)
    edited = [plan[0], book(1, chain.deployment.dvp_settlement, "ALLOC-0002", chain.accounts[1]), plan[2]]

    with pytest.raises(ExecutionError, match=r"does not match the plan at transaction #1: its target, calldata"):
        run(chain, signer, edited, reload(journal), lock_dir)

