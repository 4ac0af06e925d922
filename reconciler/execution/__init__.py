"""Sending a plan: signer, write-ahead journal, environment lock, and the `execute` loop that ties them together."""

from reconciler.execution.apply import Timeouts, execute
from reconciler.execution.fees import FeePolicy
from reconciler.execution.journal import DEFAULT_JOURNAL_DIR, Journal, State
from reconciler.execution.lock import DEFAULT_LOCK_DIR, EnvironmentLock, acquire_lock, force_unlock
from reconciler.execution.sender import RetryPolicy
from reconciler.execution.signer import Signer, load_signer
from reconciler.execution.transactions import (
    EventKind,
    ExecutionEvent,
    ExecutionResult,
    OutcomeStatus,
    TransactionOutcome,
    TransactionRequest,
)

__all__ = [
    "DEFAULT_JOURNAL_DIR",
    "DEFAULT_LOCK_DIR",
    "EnvironmentLock",
    "EventKind",
    "ExecutionEvent",
    "ExecutionResult",
    "FeePolicy",
    "Journal",
    "OutcomeStatus",
    "RetryPolicy",
    "Signer",
    "State",
    "Timeouts",
    "TransactionOutcome",
    "TransactionRequest",
    "acquire_lock",
    "execute",
    "force_unlock",
    "load_signer",
]
