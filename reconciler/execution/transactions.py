"""The input and output of an apply's execution: transaction requests, events and outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from eth_utils.address import is_checksum_address

from reconciler.chain.errors import DecodedError
from reconciler.errors import ExecutionError
from reconciler.execution.journal import State, TransactionRecord


@dataclass(frozen=True)
class TransactionRequest:
    """One planned transaction, as the plan hands it to execution."""

    index: int  # position in the plan, 0-based
    to: str  # EIP-55
    data: str  # 0x calldata
    gas_limit: int  # from the plan's estimate
    description: str  # e.g. "ComplianceRegistry.setInvestors (500 items)", for logs and progress
    value: int = 0  # wei

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"invalid transaction index {self.index}: expected 0 or more")
        if not is_checksum_address(self.to):
            raise ValueError(f"invalid `to` address {self.to!r} of transaction {self.index}: expected EIP-55")
        if not self.data.startswith("0x") or len(self.data) % 2:
            raise ValueError(f"invalid calldata of transaction {self.index}: expected 0x-prefixed hex bytes")
        if self.gas_limit < 21_000:
            raise ValueError(f"invalid gas limit {self.gas_limit} of transaction {self.index}: below 21000")
        if self.value < 0:
            raise ValueError(f"invalid value {self.value} of transaction {self.index}: negative")

    @property
    def label(self) -> str:
        return f"#{self.index} {self.description}"


class OutcomeStatus(StrEnum):
    """The state of one transaction at the end of an execution."""

    CONFIRMED = "confirmed"  # mined with status 1 and the required confirmations
    FAILED = "failed"  # mined with status 0, or its nonce went to another transaction
    PENDING = "pending"  # sent (or maybe sent) but not confirmed in time; a rerun resumes it
    NOT_SENT = "not sent"  # never sent, because sending stopped before it


@dataclass(frozen=True)
class TransactionOutcome:
    """The outcome of one transaction of the plan."""

    index: int
    description: str
    status: OutcomeStatus
    nonce: int | None = None
    tx_hash: str | None = None  # the mined attempt's hash, else the latest attempt's
    block_number: int | None = None
    gas_used: int | None = None
    attempts: int = 0  # signed attempts at this nonce: 1, plus one per replacement
    error: str | None = None  # for FAILED, PENDING and NOT_SENT: what went wrong
    revert: DecodedError | None = None  # the decoded custom error of a revert seen in this run
    from_journal: bool = False  # already final in the journal of an earlier run

    def describe(self) -> str:
        head = f"#{self.index} {self.status.value}: {self.description}"
        if self.status is OutcomeStatus.CONFIRMED:
            earlier = ", in an earlier run" if self.from_journal else ""
            return f"{head} (block {self.block_number}, gas used {self.gas_used}, tx {self.tx_hash}{earlier})"
        where = f" (tx {self.tx_hash})" if self.tx_hash else ""
        return f"{head}: {self.error}{where}"


def outcome_of(
    request: TransactionRequest,
    record: TransactionRecord | None,
    *,
    from_journal: bool,
    revert: DecodedError | None,
    not_sent_reason: str | None,
    pending_reason: str | None,
) -> TransactionOutcome:
    """Return the outcome of REQUEST from its journal RECORD (None when it was never signed) and the run's reasons."""
    if record is None:
        return TransactionOutcome(request.index, request.description, OutcomeStatus.NOT_SENT, error=not_sent_reason)
    common: dict[str, Any] = {
        "index": request.index,
        "description": request.description,
        "nonce": record.nonce,
        "tx_hash": record.mined_hash or record.latest.tx_hash,
        "block_number": record.block_number,
        "gas_used": record.gas_used,
        "attempts": len(record.attempts),
        "from_journal": from_journal,
    }
    if record.state is State.MINED:
        return TransactionOutcome(status=OutcomeStatus.CONFIRMED, **common)
    if record.state is State.FAILED:
        return TransactionOutcome(status=OutcomeStatus.FAILED, error=record.error, revert=revert, **common)
    if not_sent_reason is not None:
        return TransactionOutcome(status=OutcomeStatus.NOT_SENT, error=not_sent_reason, **common)
    reason = pending_reason or "sent but not confirmed; a rerun resumes it"
    return TransactionOutcome(status=OutcomeStatus.PENDING, error=reason, **common)


@dataclass(frozen=True)
class ExecutionResult:
    """Every transaction's outcome, in plan order, and the journal that records them."""

    outcomes: tuple[TransactionOutcome, ...]
    journal_path: Path

    @property
    def ok(self) -> bool:
        return all(outcome.status is OutcomeStatus.CONFIRMED for outcome in self.outcomes)

    def with_status(self, status: OutcomeStatus) -> tuple[TransactionOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.status is status)

    def describe(self) -> str:
        lines = [outcome.describe() for outcome in self.outcomes]
        counts = ", ".join(
            f"{len(self.with_status(status))} {status.value}"
            for status in OutcomeStatus
            if self.with_status(status)
        )
        noun = "transaction" if len(self.outcomes) == 1 else "transactions"
        lines.append(f"{len(self.outcomes)} {noun}: {counts or 'none'}")
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise ExecutionError naming every transaction that was not confirmed; do nothing when all were."""
        incomplete = [outcome for outcome in self.outcomes if outcome.status is not OutcomeStatus.CONFIRMED]
        if not incomplete:
            return
        details = "; ".join(outcome.describe() for outcome in incomplete)
        message = f"{len(incomplete)} of {len(self.outcomes)} transactions were not confirmed: {details}"
        if self.with_status(OutcomeStatus.FAILED):
            # All transactions are sent back to back, so those after a failed one may have been mined.
            hint = (
                "the chain no longer matches the plan: run `jinbi plan` again to see what is left, "
                f"and see the journal {self.journal_path} for every transaction's state"
            )
        else:
            hint = f"rerun `jinbi apply` with the same plan: it resumes from the journal {self.journal_path}"
        raise ExecutionError(message, hint=hint)


class EventKind(StrEnum):
    """The kind of step that an execution reports to its progress callback."""

    SENT = "sent"  # the node accepted the transaction
    REPLACED = "replaced"  # a replacement with raised fees was sent at the same nonce
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True)
class ExecutionEvent:
    """One step of one transaction, for progress displays."""

    kind: EventKind
    index: int
    description: str
    nonce: int
    tx_hash: str


ProgressCallback = Callable[[ExecutionEvent], None]
