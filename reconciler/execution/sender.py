"""Single JSON-RPC steps of sending: broadcast a signed transaction, fetch a receipt, explain a revert.

`broadcast` sorts the node's reply into what the apply loop acts on. "already
known" means the node already has this very transaction. "nonce too low"
means the nonce is used, by this transaction or by another one, and the
caller finds out which by looking for the receipts of its own attempts. Both
replies come from resending a transaction after a crash or a lost HTTP
response, and neither is an error.

Temporary failures (connection errors, timeouts, HTTP 429 and 5xx) are retried
here after the transport's own retries (`reconciler.chain.rpc`) gave up.
Resending signed bytes is safe: the node either accepts them once or replies
"already known" or "nonce too low".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import requests
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import TxReceipt

from reconciler.chain.errors import DecodedError, decode_revert, revert_data
from reconciler.chain.rpc import error_text, is_transient_status

log = logging.getLogger(__name__)

T = TypeVar("T")

# Node messages, lowercased, by meaning: geth and erigon, anvil, besu, nethermind.
ALREADY_KNOWN_MESSAGES = ("already known", "already imported", "known transaction", "alreadyknown")
NONCE_TOO_LOW_MESSAGES = ("nonce too low", "nonce is too low", "oldnonce", "nonce_too_low")
UNDERPRICED_MESSAGES = ("replacement transaction underpriced", "replacement_underpriced", "replacementnotallowed")

# Node messages are cut to this length in errors and in the journal.
MAX_MESSAGE_LENGTH = 300


class Reply(Enum):
    """The node's reply to a broadcast."""

    ACCEPTED = "accepted"
    ALREADY_KNOWN = "already known"  # the node already has this transaction
    NONCE_TOO_LOW = "nonce too low"  # the nonce is used by a mined transaction, maybe this one
    UNDERPRICED = "underpriced"  # another transaction at this nonce pays at least as much
    REJECTED = "rejected"  # a permanent refusal: insufficient funds, gas limit above the block's, ...
    UNREACHABLE = "unreachable"  # temporary failures outlasted every retry; the node may have it


@dataclass(frozen=True)
class BroadcastResult:
    reply: Reply
    message: str = ""  # the node's message or the failure, for REJECTED, UNDERPRICED and UNREACHABLE


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a temporary failure at this level, after the transport's own retries."""

    attempts: int = 3  # attempts in total, the first included
    wait: float = 2.0  # seconds between attempts


def is_temporary(error: BaseException) -> bool:
    """Tell whether ERROR is worth retrying: a dropped connection, a timeout, a rate limit or a 5xx."""
    if isinstance(error, requests.HTTPError):
        return error.response is not None and is_transient_status(error.response.status_code)
    return isinstance(
        error, (requests.ConnectionError, requests.Timeout, RequestTimedOut, TooManyRequests, TimeoutError)
    )


def with_retries(w3: Web3, description: str, call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run CALL, retrying temporary failures with a fixed wait; the last failure is raised as it is."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except Exception as error:
            if not is_temporary(error) or attempt == policy.attempts:
                raise
            log.warning(
                "%s failed temporarily, retrying in %g s (attempt %d of %d): %s",
                description,
                policy.wait,
                attempt + 1,
                policy.attempts,
                error_text(w3, error),
            )
            time.sleep(policy.wait)
    raise AssertionError("unreachable: the loop returns or raises")


def broadcast(w3: Web3, raw_transaction: str, description: str, policy: RetryPolicy) -> BroadcastResult:
    """Send signed bytes with eth_sendRawTransaction and classify the node's reply; DESCRIPTION names them in logs."""
    try:
        with_retries(
            w3, f"sending {description}", lambda: w3.eth.send_raw_transaction(HexBytes(raw_transaction)), policy
        )
    except Web3RPCError as error:
        message = rpc_error_message(error)
        lowered = message.lower()
        if any(known in lowered for known in ALREADY_KNOWN_MESSAGES):
            return BroadcastResult(Reply.ALREADY_KNOWN, message)
        if any(known in lowered for known in NONCE_TOO_LOW_MESSAGES):
            return BroadcastResult(Reply.NONCE_TOO_LOW, message)
        if any(known in lowered for known in UNDERPRICED_MESSAGES):
            return BroadcastResult(Reply.UNDERPRICED, message)
        return BroadcastResult(Reply.REJECTED, message)
    except Exception as error:
        if is_temporary(error):
            return BroadcastResult(Reply.UNREACHABLE, error_text(w3, error))
        if isinstance(error, Web3Exception):
            return BroadcastResult(Reply.REJECTED, _truncate(error_text(w3, error)))
        raise
    return BroadcastResult(Reply.ACCEPTED)


def rpc_error_message(error: Web3RPCError) -> str:
    """Return the `message` of the JSON-RPC error object behind ERROR, cut to a readable length."""
    response: Any = error.rpc_response
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        return _truncate(str(response["error"].get("message", "")))
    return _truncate(error.message)


def fetch_receipt(w3: Web3, tx_hash: str) -> TxReceipt | None:
    """Return the receipt of TX_HASH, or None while the transaction is not mined or not known."""
    try:
        return w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    except (TransactionNotFound, TimeExhausted):
        return None


@dataclass(frozen=True)
class RevertReason:
    """Why a mined transaction failed: the decoded error when the replay reverted with data."""

    text: str
    error: DecodedError | None = None


def revert_reason(w3: Web3, transaction: dict[str, Any], receipt: TxReceipt) -> RevertReason:
    """Explain the status-0 RECEIPT of TRANSACTION (from, to, data, value, gas) by replaying it.

    The replay is an eth_call at the receipt's block, which is the chain state
    after that whole block, because standard JSON-RPC has no call at a position
    inside a block. NOTE: a transaction that failed only because of an earlier
    transaction in the same block may therefore replay differently, and the
    returned text states this when the replay does not revert.
    """
    block = receipt["blockNumber"]
    out_of_gas = receipt["gasUsed"] >= transaction["gas"]
    try:
        w3.eth.call(transaction, block)  # type: ignore[arg-type]
    except ContractLogicError as error:
        data = revert_data(error)
        if data is None:
            return RevertReason(f"reverted: {_truncate(str(error.message))}")
        try:
            decoded = decode_revert(data)
        except ValueError as decoding_error:
            return RevertReason(f"reverted with undecodable data: {decoding_error}")
        if not decoded.name and out_of_gas:
            return RevertReason(f"ran out of gas: it used all of its gas limit {transaction['gas']}")
        return RevertReason(f"reverted with {decoded}", decoded)
    except Exception as error:
        if not (is_temporary(error) or isinstance(error, Web3Exception)):
            raise
        if out_of_gas:
            return RevertReason(f"ran out of gas: it used all of its gas limit {transaction['gas']}")
        return RevertReason(f"reverted; replaying it to read the reason failed: {error_text(w3, error)}")
    if out_of_gas:
        return RevertReason(f"ran out of gas: it used all of its gas limit {transaction['gas']}")
    return RevertReason(f"reverted, but its replay at block {block} succeeds, so the reason is unknown")


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 3] + "..."
