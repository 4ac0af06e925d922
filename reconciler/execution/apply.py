"""Send a plan's transactions exactly once: journal, sign, send back to back, then await the receipts.

`execute` runs under the environment's lock, in this order:

1. Settle the journal of an earlier run of the same plan: rebroadcast the
   latest signed attempt of every record that is not final (the node answers
   "already known" or "nonce too low" when it has it), and await them all.
2. Unless one of those failed or is still pending, sign each remaining
   transaction at the next nonce, write it to the journal, and send it,
   back to back without waiting for any receipt.
3. Await the receipts of what was sent until each has the required
   confirmations. A transaction that stays unmined for `replace_after` seconds
   is replaced at the same nonce with raised fees.

Because the transactions go out back to back, a transaction after one that
reverts was already sent and may still be mined; nothing cancels it. The
result reports each transaction's outcome, and the verification step after an
apply plans again from the chain. A rerun never signs a new transaction after
a failed one. Callers: `jinbi apply` and the tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from requests import RequestException
from web3 import Web3
from web3.types import TxReceipt

from reconciler.chain.errors import DecodedError
from reconciler.chain.rpc import error_text
from reconciler.errors import ConfigurationError, ExecutionError
from reconciler.execution.fees import FeeMarket, FeePolicy, Fees, initial_fees, read_fee_market, replacement_fees
from reconciler.execution.journal import Attempt, Journal, State, TransactionRecord, calldata_digest, utc_now
from reconciler.execution.lock import DEFAULT_LOCK_DIR, EnvironmentLock, acquire_lock
from reconciler.execution.sender import (
    Reply,
    RetryPolicy,
    broadcast,
    fetch_receipt,
    is_temporary,
    revert_reason,
    with_retries,
)
from reconciler.execution.signer import Signer
from reconciler.execution.transactions import (
    EventKind,
    ExecutionEvent,
    ExecutionResult,
    ProgressCallback,
    TransactionRequest,
    outcome_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# A record fails for a lost nonce only after this many polls in a row find its
# nonce used and none of its attempts mined, because a node's receipts can lag its state.
NONCE_LOST_POLLS = 2


@dataclass(frozen=True)
class Timeouts:
    """How long an execution waits, in seconds."""

    poll_interval: float = 1.0  # between two polls of the receipts
    replace_after: float = 120.0  # unmined time after which a transaction is replaced with raised fees
    receipt_timeout: float = 900.0  # for the receipts of each await step; a rerun resumes what is still pending
    lock_refresh: float = 60.0  # between two extensions of the lock's expiry
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # for temporary JSON-RPC failures


def execute(
    w3: Web3,
    signer: Signer,
    requests: Sequence[TransactionRequest],
    *,
    journal: Journal,
    confirmations: int = 1,
    fees: FeePolicy | None = None,
    timeouts: Timeouts | None = None,
    progress: ProgressCallback | None = None,
    lock: EnvironmentLock | None = None,
    lock_dir: Path = DEFAULT_LOCK_DIR,
) -> ExecutionResult:
    """Send REQUESTS from SIGNER once each and return every transaction's outcome.

    Pass LOCK when the caller already holds the environment's lock; otherwise
    this takes it under LOCK_DIR and releases it at the end. Before anything
    is sent, it raises LockError when another apply holds the lock,
    JournalError when the journal belongs to another chain, signer or plan,
    and ExecutionError when the fee caps are below the base fee. It raises
    ExecutionError at any point when the RPC node fails permanently or for
    longer than the retries. Failed transactions are reported in the result
    instead (see `ExecutionResult.raise_for_failures`).
    """
    _check_requests(requests)
    if confirmations < 1:
        raise ConfigurationError(f"invalid confirmations {confirmations}: expected 1 or more")
    active_lock = lock if lock is not None else acquire_lock(journal.environment, directory=lock_dir)
    try:
        run = _Execution(
            w3=w3,
            signer=signer,
            requests=list(requests),
            journal=journal,
            lock=active_lock,
            confirmations=confirmations,
            policy=fees or FeePolicy(),
            timeouts=timeouts or Timeouts(),
            progress=progress,
        )
        return run.run()
    except RequestException as error:
        # Raised without the original, whose text names the URL with any credentials in it.
        raise ExecutionError(
            f"the RPC node failed: {error_text(w3, error)}",
            hint="check the node behind the environment's RPC URL; a rerun resumes from the journal",
        ) from None
    finally:
        if lock is None:
            active_lock.release()


def _check_requests(requests: Sequence[TransactionRequest]) -> None:
    indexes = [request.index for request in requests]
    if indexes != list(range(len(requests))):
        raise ValueError(f"transaction requests must be numbered 0 to {len(requests) - 1} in order, got {indexes}")


@dataclass
class _Execution:
    """The state of one `execute` call."""

    w3: Web3
    signer: Signer
    requests: list[TransactionRequest]
    journal: Journal
    lock: EnvironmentLock
    confirmations: int
    policy: FeePolicy
    timeouts: Timeouts
    progress: ProgressCallback | None

    chain_id: int = 0
    awaiting: list[TransactionRecord] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # monotonic time of the latest broadcast
    not_sent: dict[int, str] = field(default_factory=dict)  # index -> why it was not sent
    pending: dict[int, str] = field(default_factory=dict)  # index -> why it is not confirmed
    reverts: dict[int, DecodedError] = field(default_factory=dict)
    nonce_lost_polls: dict[int, int] = field(default_factory=dict)
    cap_warned: set[int] = field(default_factory=set)
    final_before: set[int] = field(default_factory=set)
    lock_refreshed_at: float = field(default_factory=time.monotonic)

    def run(self) -> ExecutionResult:
        # The journal must describe this chain, this signer and these transactions.
        self.chain_id = self._with_retries("reading the chain id", lambda: self.w3.eth.chain_id)
        self.journal.bind(self.chain_id, self.signer.address)
        self.journal.check_requests(self.requests)
        self.final_before = {index for index, record in self.journal.records.items() if record.final}
        if self.journal.records:
            log.info(
                "resuming from journal %s: %d of %d transactions recorded, %d of them final",
                self.journal.path,
                len(self.journal.records),
                len(self.requests),
                len(self.final_before),
            )

        # A rerun first settles what an earlier run sent: it rebroadcasts what
        # the node may have lost, waits for what is pending and skips what is mined.
        stop_reason = self._rebroadcast_journaled()
        self._await_all()

        # Only then are the remaining transactions signed and sent back to back,
        # and only when nothing before them failed or is still pending.
        new_requests = [request for request in self.requests if request.index not in self.journal.records]
        stop_reason = stop_reason or self._blocked_by_earlier()
        if stop_reason is not None:
            for request in new_requests:
                self.not_sent[request.index] = stop_reason
        elif new_requests:
            self._send_new(new_requests)
            self._await_all()
        return self._result()

    # --- send phase ----------------------------------------------------------

    def _rebroadcast_journaled(self) -> str | None:
        """Resend the latest attempt of every journaled record that is not final; return why sending stopped."""
        stop_reason: str | None = None
        for index, record in sorted(self.journal.records.items()):
            if record.final:
                continue
            if stop_reason is not None:
                self.pending[index] = (
                    "signed in an earlier run but not rebroadcast, because sending stopped before it; a rerun resumes it"
                )
                continue
            self._keep_lock()
            stop_reason = self._broadcast_record(record, self.requests[index])
        return stop_reason

    def _blocked_by_earlier(self) -> str | None:
        """Return why new transactions must not be sent after what the journal records, or None."""
        for index, record in sorted(self.journal.records.items()):
            if record.state is State.FAILED:
                return f"not sent because transaction #{index} failed"
            if not record.final:
                return f"not sent because transaction #{index} is not confirmed yet"
        return None

    def _send_new(self, requests: list[TransactionRequest]) -> None:
        """Sign, journal and send REQUESTS at consecutive nonces, without waiting for any receipt."""
        # Fees and the first nonce are settled before anything is sent, so a fee
        # cap below the base fee or an unreachable node stops the run cleanly.
        market = self._with_retries("reading the fee market", lambda: read_fee_market(self.w3))
        fees = initial_fees(market, self.policy)
        nonce = self._first_free_nonce()

        stop_reason: str | None = None
        for request in requests:
            if stop_reason is not None:
                self.not_sent[request.index] = stop_reason
                continue
            self._keep_lock()
            record = self._sign_new(request, nonce, fees)
            nonce += 1
            stop_reason = self._broadcast_record(record, request)

    def _first_free_nonce(self) -> int:
        """Return the nonce of the first new transaction: after the pending ones and after every journaled one."""
        pending_count = self._with_retries(
            "reading the pending nonce",
            lambda: self.w3.eth.get_transaction_count(self.signer.address, "pending"),  # type: ignore[arg-type]
        )
        after_journal = max((record.nonce + 1 for record in self.journal.records.values()), default=0)
        return max(int(pending_count), after_journal)

    def _sign_new(self, request: TransactionRequest, nonce: int, fees: Fees) -> TransactionRecord:
        attempt = self._sign(request, nonce, fees)
        record = TransactionRecord(
            index=request.index,
            description=request.description,
            to=request.to,
            data_sha256=calldata_digest(request.data),
            value=request.value,
            gas_limit=request.gas_limit,
            nonce=nonce,
            state=State.SIGNED,
            attempts=[attempt],
        )
        self.journal.records[request.index] = record
        self.journal.save()
        return record

    def _sign(self, request: TransactionRequest, nonce: int, fees: Fees) -> Attempt:
        signed = self.signer.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": request.to,
                "data": request.data,
                "value": request.value,
                "gas": request.gas_limit,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
        )
        return Attempt(
            tx_hash=Web3.to_hex(signed.hash),
            raw_transaction=Web3.to_hex(signed.raw_transaction),
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            state=State.SIGNED,
            signed_at=utc_now(),
        )

    def _broadcast_record(self, record: TransactionRecord, request: TransactionRequest) -> str | None:
        """Send RECORD's latest attempt; return why sending must stop, or None to go on."""
        attempt = record.latest
        result = broadcast(self.w3, attempt.raw_transaction, request.label, self.timeouts.retry)
        self.sent_at[record.index] = time.monotonic()

        if result.reply in (Reply.ACCEPTED, Reply.ALREADY_KNOWN):
            if result.reply is Reply.ALREADY_KNOWN:
                log.info("%s was already known to the node (tx %s)", request.label, attempt.tx_hash)
            self._mark_sent(record, attempt)
            log.info("sent %s (nonce %d, tx %s)", request.label, record.nonce, attempt.tx_hash)
            self._emit(EventKind.SENT, record, attempt)
            self.awaiting.append(record)
            return None
        if result.reply is Reply.NONCE_TOO_LOW:
            # The nonce is used: by one of our attempts if its receipt turns up, else by another transaction.
            log.info(
                "%s: nonce %d is already used; looking for the receipts of its attempts", request.label, record.nonce
            )
            self.awaiting.append(record)
            return None
        if result.reply is Reply.UNDERPRICED:
            log.warning(
                "%s: the node already has another transaction at nonce %d with fees at least as high; waiting for it",
                request.label,
                record.nonce,
            )
            self.awaiting.append(record)
            return None
        if result.reply is Reply.REJECTED:
            attempt.state = State.REJECTED
            attempt.error = result.message
            self.journal.save()
            log.error("%s was rejected by the node: %s", request.label, result.message)
            if any(other.state is State.SENT for other in record.attempts):
                self.awaiting.append(record)  # an earlier attempt is still in the mempool
            else:
                self.not_sent[record.index] = f"rejected by the node: {result.message}"
            return f"not sent because transaction #{record.index} was rejected"

        log.error("sending %s failed: %s", request.label, result.message)
        self.pending[record.index] = (
            f"sending failed, so the node may or may not have it: {result.message}; a rerun resumes it"
        )
        return f"not sent because sending transaction #{record.index} failed"

    def _mark_sent(self, record: TransactionRecord, attempt: Attempt) -> None:
        for other in record.attempts:
            if other is not attempt and other.state in (State.SIGNED, State.SENT):
                other.state = State.REPLACED
        attempt.state = State.SENT
        record.state = State.SENT
        self.journal.save()

    # --- await phase ---------------------------------------------------------

    def _await_all(self) -> None:
        deadline = time.monotonic() + self.timeouts.receipt_timeout
        while self.awaiting:
            if time.monotonic() >= deadline:
                for record in self.awaiting:
                    self.pending[record.index] = (
                        f"sent but not confirmed within {self.timeouts.receipt_timeout:g} s; a rerun resumes it"
                    )
                log.warning(
                    "%d transactions not confirmed within %g s; rerun with the same plan to resume",
                    len(self.awaiting),
                    self.timeouts.receipt_timeout,
                )
                return
            try:
                self._poll()
            except Exception as error:
                if not is_temporary(error):
                    raise
                log.warning(
                    "polling for receipts failed temporarily, retrying in %g s: %s",
                    self.timeouts.retry.wait,
                    error_text(self.w3, error),
                )
                time.sleep(self.timeouts.retry.wait)
                continue
            if self.awaiting:
                self._keep_lock()
                time.sleep(self.timeouts.poll_interval)

    def _poll(self) -> None:
        """Settle every awaited record whose nonce is used; replace overdue ones whose nonce is not."""
        mined_count = int(self.w3.eth.get_transaction_count(self.signer.address, "latest"))  # type: ignore[arg-type]
        head = int(self.w3.eth.block_number)
        market: FeeMarket | None = None
        lowest_unmined = True
        for record in sorted(self.awaiting, key=lambda item: item.nonce):
            if record.nonce >= mined_count:
                if time.monotonic() - self.sent_at[record.index] >= self.timeouts.replace_after:
                    market = market or read_fee_market(self.w3)
                    # A later nonce waits for the earlier one; replace it only when its own fee is too low.
                    if lowest_unmined or record.latest.max_fee_per_gas < market.base_fee_per_gas:
                        self._replace(record, market)
                lowest_unmined = False
                continue

            found = self._find_receipt(record)
            if found is None:
                self._nonce_maybe_lost(record)
                continue
            self.nonce_lost_polls.pop(record.index, None)
            attempt, receipt = found
            if head - int(receipt["blockNumber"]) + 1 >= self.confirmations:
                self._finish(record, attempt, receipt)

    def _find_receipt(self, record: TransactionRecord) -> tuple[Attempt, TxReceipt] | None:
        # Newest first, since a replacement usually wins; rejected attempts too, in case a node misreported.
        for attempt in reversed(record.attempts):
            receipt = fetch_receipt(self.w3, attempt.tx_hash)
            if receipt is not None:
                return attempt, receipt
        return None

    def _nonce_maybe_lost(self, record: TransactionRecord) -> None:
        polls = self.nonce_lost_polls.get(record.index, 0) + 1
        self.nonce_lost_polls[record.index] = polls
        if polls < NONCE_LOST_POLLS:
            return
        record.state = State.FAILED
        record.error = (
            f"nonce {record.nonce} was used by another transaction from {self.signer.address}, "
            "so this transaction can never be mined"
        )
        for attempt in record.attempts:
            if attempt.state is not State.REJECTED:
                attempt.state = State.REPLACED
        self.journal.save()
        log.error("%s failed: %s", self._label(record), record.error)
        self._emit(EventKind.FAILED, record, record.latest)
        self.awaiting.remove(record)

    def _finish(self, record: TransactionRecord, winner: Attempt, receipt: TxReceipt) -> None:
        for attempt in record.attempts:
            if attempt is not winner and attempt.state is not State.REJECTED:
                attempt.state = State.REPLACED
        record.mined_hash = winner.tx_hash
        record.block_number = int(receipt["blockNumber"])
        record.gas_used = int(receipt["gasUsed"])
        if receipt["status"] == 1:
            winner.state = State.MINED
            record.state = State.MINED
            self.journal.save()
            log.info(
                "confirmed %s in block %d (gas used %d, tx %s)",
                self._label(record),
                record.block_number,
                record.gas_used,
                winner.tx_hash,
            )
            self._emit(EventKind.CONFIRMED, record, winner)
        else:
            reason = revert_reason(self.w3, self._replay_call(record), receipt)
            winner.state = State.FAILED
            record.state = State.FAILED
            record.error = f"{reason.text} in block {record.block_number}"
            if reason.error is not None:
                self.reverts[record.index] = reason.error
            self.journal.save()
            log.error("%s failed: %s (tx %s)", self._label(record), record.error, winner.tx_hash)
            self._emit(EventKind.FAILED, record, winner)
        self.awaiting.remove(record)

    def _replay_call(self, record: TransactionRecord) -> dict[str, Any]:
        request = self.requests[record.index]
        return {
            "from": self.signer.address,
            "to": request.to,
            "data": request.data,
            "value": request.value,
            "gas": request.gas_limit,
        }

    def _replace(self, record: TransactionRecord, market: FeeMarket) -> None:
        """Sign and send a replacement of RECORD at its nonce with raised fees, journaled before it is sent."""
        label = self._label(record)
        previous = Fees(record.latest.max_fee_per_gas, record.latest.max_priority_fee_per_gas)
        fees = replacement_fees(previous, market, self.policy)
        waited = time.monotonic() - self.sent_at[record.index]
        if fees is None:
            if record.index not in self.cap_warned:
                log.warning(
                    "%s is not mined after %.0f s, and the fee caps allow no replacement above %s; waiting",
                    label,
                    waited,
                    previous.describe(),
                )
                self.cap_warned.add(record.index)
            return

        self._keep_lock()
        attempt = self._sign(self.requests[record.index], record.nonce, fees)
        record.attempts.append(attempt)
        self.journal.save()
        log.warning(
            "%s is not mined after %.0f s; replacing it at nonce %d with %s (tx %s)",
            label,
            waited,
            record.nonce,
            fees.describe(),
            attempt.tx_hash,
        )
        result = broadcast(self.w3, attempt.raw_transaction, f"the replacement of {label}", self.timeouts.retry)
        self.sent_at[record.index] = time.monotonic()
        if result.reply in (Reply.ACCEPTED, Reply.ALREADY_KNOWN):
            self._mark_sent(record, attempt)
            log.info("sent the replacement of %s (nonce %d, tx %s)", label, record.nonce, attempt.tx_hash)
            self._emit(EventKind.REPLACED, record, attempt)
        elif result.reply is Reply.UNREACHABLE:
            # It stays "signed": the node may have it, and a rerun rebroadcasts it.
            log.warning("sending the replacement of %s failed: %s", label, result.message)
        else:
            # "nonce too low" means that an earlier attempt or another transaction took the nonce
            # meanwhile, and the next poll finds out which.
            attempt.state = State.REJECTED
            attempt.error = result.message
            self.journal.save()
            log.warning("the node rejected the replacement of %s: %s", label, result.message)

    # --- helpers -------------------------------------------------------------

    def _keep_lock(self) -> None:
        """Check that the lock is still ours, and extend its expiry when it is due."""
        if time.monotonic() - self.lock_refreshed_at >= self.timeouts.lock_refresh:
            self.lock.refresh()
            self.lock_refreshed_at = time.monotonic()
        else:
            self.lock.ensure_held()

    def _with_retries(self, description: str, call: Callable[[], T]) -> T:
        return with_retries(self.w3, description, call, self.timeouts.retry)

    def _label(self, record: TransactionRecord) -> str:
        return self.requests[record.index].label

    def _emit(self, kind: EventKind, record: TransactionRecord, attempt: Attempt) -> None:
        if self.progress is not None:
            self.progress(ExecutionEvent(kind, record.index, record.description, record.nonce, attempt.tx_hash))

    def _result(self) -> ExecutionResult:
        outcomes = [
            outcome_of(
                request,
                self.journal.records.get(request.index),
                from_journal=request.index in self.final_before,
                revert=self.reverts.get(request.index),
                not_sent_reason=self.not_sent.get(request.index),
                pending_reason=self.pending.get(request.index),
            )
            for request in self.requests
        ]
        return ExecutionResult(outcomes=tuple(outcomes), journal_path=self.journal.path)
