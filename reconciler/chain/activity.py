"""Scan the token's activity over a block range: transfers, force transfers and rejected transactions.

`scan_activity` reads two things between two blocks, both inclusive:

- the token's `TransferByPartition` and `ForceTransferred` events, with
  `eth_getLogs` over ranges of at most `block_range` blocks, sent as JSON-RPC
  batches. A range that the node rejects as too large (too many results) is
  split in two and read again, also when the node sends the JSON-RPC error
  with HTTP 400.
- the failed transfers sent to the token. A transfer that the
  compliance oracle rejects reverts, so it leaves no event: the only trace is
  a receipt with status 0. Every block's receipts are read with
  `eth_getBlockReceipts`, in batches, and each failed transaction to the
  token is read for its calldata. Those that called a transfer function are
  replayed with `eth_call` at the block before their own, the custom error
  each reverts with is decoded as its reason, and the transfer it asked for
  is decoded from its calldata (`Rejection.attempt`).

A rejection is a transaction sent directly to the token that called
`transfer`, `transferFrom` or `transferByPartition` (by the 4-byte selector
of its calldata) and failed, whatever the reason. A failed call of any other
function (pause, unpause, forceTransfer, issue, a role change) is not a
compliance rejection and is not counted. A transfer that fails inside a call
from another contract (a multisig's, say) does not fail its own transaction
and is not seen.
`successful_transfer_txs` counts the distinct transactions that moved tokens
between two holders: issuance (from the zero address) and force transfers are
not counted. The compliance rejection rate of `jinbi check` is
rejections / (rejections + successful_transfer_txs).

Callers: `jinbi check` (large transfers and the rejection rate over its
window) and the month-end report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3

from reconciler.chain import artifacts
from reconciler.chain.errors import decode_revert
from reconciler.chain.reader import PinnedReader
from reconciler.errors import ChainError
from reconciler.model import Environment, Partition

log = logging.getLogger(__name__)

# Blocks per eth_getLogs request. Hosted nodes may cap the block range of one
# request or the number of logs it returns, so the environment file can lower it.
DEFAULT_BLOCK_RANGE = 2_000

# Blocks whose receipts one HTTP request reads. Every receipt of a block comes
# with its logs, so the response for a range of busy mainnet blocks is large.
# NOTE: 10 is a guess, not measured against any provider's limit on response size.
RECEIPT_BLOCKS_PER_BATCH = 10

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

# Words in the error of an eth_getLogs request whose range or result is too large for the node.
TOO_LARGE_WORDS = ("too many", "too large", "more than", "exceed", "limit", "range", "size")

# The token's functions whose failed call is a rejection. Each has `to` and `amount` arguments.
TRANSFER_FUNCTIONS = ("transfer", "transferFrom", "transferByPartition")

# IComplianceOracle.Reason, by code: the `reason` argument of TransferNotAllowed and OperatorNotAllowed.
ORACLE_REASONS = (
    "OK",
    "UNKNOWN_PARTITION",
    "SENDER_BLOCKED",
    "SENDER_NOT_REGISTERED",
    "SENDER_NOT_KYC",
    "SENDER_LOCKED",
    "RECEIVER_BLOCKED",
    "RECEIVER_NOT_REGISTERED",
    "RECEIVER_NOT_KYC",
    "RECEIVER_NOT_QIB",
    "OPERATOR_BLOCKED",
    "OPERATOR_NOT_REGISTERED",
    "OPERATOR_NOT_KYC",
)


@dataclass(frozen=True)
class PartitionTransfer:
    """One `TransferByPartition` event: tokens of one partition moved, issued (sender zero) or force-transferred."""

    partition: Partition
    sender: str  # EIP-55; the zero address for issuance
    recipient: str  # EIP-55
    amount: int  # bond token base units
    block: int
    tx_hash: str  # 0x-prefixed hex
    log_index: int


@dataclass(frozen=True)
class ExecutedForceTransfer:
    """One `ForceTransferred` event: a court-ordered transfer that bypassed pause and compliance."""

    order_id: str
    partition: Partition
    sender: str
    recipient: str
    amount: int  # bond token base units
    legal_reference: str
    block: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class TransferAttempt:
    """The transfer a failed transaction asked for, decoded from its calldata."""

    function: str  # "transfer", "transferFrom" or "transferByPartition"
    sender: str  # EIP-55: the holder whose tokens it would have moved
    recipient: str  # EIP-55
    amount: int  # bond token base units


@dataclass(frozen=True)
class Rejection:
    """A transaction that called one of the token's transfer functions and failed (receipt status 0)."""

    tx_hash: str
    block: int
    sender: str  # the transaction's `from`
    reason: str | None  # the decoded error of its replay, or why the replay failed; None when the replay succeeded
    attempt: TransferAttempt | None = None  # None when the arguments in its calldata do not decode


@dataclass(frozen=True)
class Activity:
    """The token's activity from `from_block` to `to_block`, both inclusive, each list in chain order."""

    from_block: int
    to_block: int
    transfers: tuple[PartitionTransfer, ...]
    force_transfers: tuple[ExecutedForceTransfer, ...]
    rejections: tuple[Rejection, ...]
    successful_transfer_txs: int  # distinct transactions with a transfer between two holders, force transfers excluded

    @property
    def rejection_rate(self) -> tuple[int, int]:
        """Return the rejections and the attempts (rejections plus successful transfer transactions)."""
        return len(self.rejections), len(self.rejections) + self.successful_transfer_txs


# --- events ------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    name: str
    topic: str  # 0x-prefixed keccak-256 of the signature
    indexed: tuple[tuple[str, str], ...]  # (name, type) of the topics after the first
    data: tuple[tuple[str, str], ...]  # (name, type) of the data


@cache
def _token_events() -> Mapping[str, _Event]:
    """Return the scanned events of the token's ABI by topic."""
    events: dict[str, _Event] = {}
    for entry in artifacts.load("CompliantSecurityToken").abi:
        if entry.get("type") == "event" and entry["name"] in ("TransferByPartition", "ForceTransferred"):
            inputs = entry["inputs"]
            event = _Event(
                name=entry["name"],
                topic="0x" + event_abi_to_log_topic(entry).hex(),  # type: ignore[arg-type]
                indexed=tuple((item["name"], item["type"]) for item in inputs if item["indexed"]),
                data=tuple((item["name"], item["type"]) for item in inputs if not item["indexed"]),
            )
            events[event.topic] = event
    return events


def _decode_log(event: _Event, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Decode the arguments of a raw log ENTRY of EVENT by name. Indexed arguments are all static types here."""
    topics = entry["topics"][1:]
    values: dict[str, Any] = {}
    for (name, kind), topic in zip(event.indexed, topics, strict=True):
        (values[name],) = decode([kind], bytes.fromhex(topic.removeprefix("0x")))
    data = decode([kind for _, kind in event.data], bytes.fromhex(entry["data"].removeprefix("0x")))
    values.update((name, value) for (name, _), value in zip(event.data, data, strict=True))
    return values


def _ascii(value: bytes, field: str, entry: Mapping[str, Any]) -> str:
    text = value.rstrip(b"\0")
    if not text or not all(0x21 <= byte <= 0x7E for byte in text):
        raise ChainError(
            f"{field} 0x{value.hex()} in the log of transaction {entry['transactionHash']} is not printable ASCII",
            hint="check that contracts.security_token in the environment file is the JINBI CompliantSecurityToken",
        )
    return text.decode("ascii")


def _partition(value: bytes, entry: Mapping[str, Any]) -> Partition:
    name = _ascii(value, "partition", entry)
    try:
        return Partition(name)
    except ValueError as error:
        raise ChainError(
            f"partition {name!r} in the log of transaction {entry['transactionHash']} is neither 144A nor RegS",
            hint="check that contracts.security_token in the environment file is the JINBI CompliantSecurityToken",
        ) from error


def _ranges(from_block: int, to_block: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size - 1, to_block)) for start in range(from_block, to_block + 1, size)]


def _read_logs(reader: PinnedReader, token: str, from_block: int, to_block: int, block_range: int) -> list[dict[str, Any]]:
    """Return the token's scanned logs between the blocks, splitting any range the node rejects as too large."""
    topics = [sorted(_token_events())]
    pending = _ranges(from_block, to_block, block_range)
    logs: list[dict[str, Any]] = []
    while pending:
        requests = [
            ("eth_getLogs", [{"address": token, "topics": topics, "fromBlock": hex(start), "toBlock": hex(end)}])
            for start, end in pending
        ]
        try:
            responses = reader.send(requests, f"reading the token's logs from block {pending[0][0]} to {pending[-1][1]}")
        except ChainError as failure:
            raise ChainError(
                failure.message,
                hint=f"if the node limits the block range of eth_getLogs, lower checks.max_log_block_range "
                f"in the environment file (now {block_range}); otherwise, {failure.hint or 'rerun'}",
            ) from failure
        retry: list[tuple[int, int]] = []
        for (start, end), response in zip(pending, responses, strict=True):
            error = response.get("error")
            if error is None:
                logs.extend(response.get("result") or [])
                continue
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            if end > start and any(word in message.lower() for word in TOO_LARGE_WORDS):
                middle = (start + end) // 2
                log.info("eth_getLogs of blocks %s to %s was rejected (%s); reading it in two halves", start, end, message)
                retry.extend([(start, middle), (middle + 1, end)])
                continue
            raise ChainError(
                f"eth_getLogs of the token from block {start} to {end} failed: {message}",
                hint="lower checks.max_log_block_range in the environment file if the node limits block ranges",
            )
        pending = retry
    return sorted(logs, key=lambda entry: (int(entry["blockNumber"], 16), int(entry["logIndex"], 16)))


def _events(logs: Iterable[dict[str, Any]]) -> tuple[list[PartitionTransfer], list[ExecutedForceTransfer]]:
    events = _token_events()
    transfers: list[PartitionTransfer] = []
    force_transfers: list[ExecutedForceTransfer] = []
    for entry in logs:
        if entry.get("removed"):
            continue
        event = events[entry["topics"][0]]
        values = _decode_log(event, entry)
        block = int(entry["blockNumber"], 16)
        tx_hash = str(entry["transactionHash"])
        log_index = int(entry["logIndex"], 16)
        if event.name == "TransferByPartition":
            transfers.append(
                PartitionTransfer(
                    partition=_partition(values["partition"], entry),
                    sender=to_checksum_address(values["from"]),
                    recipient=to_checksum_address(values["to"]),
                    amount=int(values["amount"]),
                    block=block,
                    tx_hash=tx_hash,
                    log_index=log_index,
                )
            )
        else:
            force_transfers.append(
                ExecutedForceTransfer(
                    order_id=_ascii(values["orderId"], "order id", entry),
                    partition=_partition(values["partition"], entry),
                    sender=to_checksum_address(values["from"]),
                    recipient=to_checksum_address(values["to"]),
                    amount=int(values["amount"]),
                    legal_reference=str(values["legalReference"]),
                    block=block,
                    tx_hash=tx_hash,
                    log_index=log_index,
                )
            )
    return transfers, force_transfers


# --- rejected transactions ---------------------------------------------------


def _failed_receipts(w3: Web3, token: str, from_block: int, to_block: int) -> list[dict[str, Any]]:
    """Return the status-0 receipts of transactions sent to TOKEN between the blocks, in chain order."""
    reader = PinnedReader(w3, max_batch=RECEIPT_BLOCKS_PER_BATCH)
    failed: list[dict[str, Any]] = []
    for start, end in _ranges(from_block, to_block, RECEIPT_BLOCKS_PER_BATCH):
        requests = [("eth_getBlockReceipts", [hex(number)]) for number in range(start, end + 1)]
        responses = reader.send(requests, f"reading the receipts of blocks {start} to {end}")
        for number, response in zip(range(start, end + 1), responses, strict=True):
            error = response.get("error")
            receipts = response.get("result")
            if error is not None or receipts is None:
                message = error.get("message", error) if isinstance(error, dict) else error or "block not found"
                raise ChainError(
                    f"eth_getBlockReceipts of block {number} failed: {message}",
                    hint="use a node that serves eth_getBlockReceipts for the whole window (an archive node for old blocks)",
                )
            failed.extend(
                receipt
                for receipt in receipts
                if receipt.get("to") and receipt["to"].lower() == token.lower() and int(receipt["status"], 16) == 0
            )
    return failed


@cache
def _transfer_functions() -> Mapping[bytes, tuple[str, tuple[tuple[str, str], ...]]]:
    """Return the token's transfer functions by selector, with the (name, type) of their inputs."""
    functions = {}
    for entry in artifacts.load("CompliantSecurityToken").abi:
        if entry.get("type") == "function" and entry["name"] in TRANSFER_FUNCTIONS:
            inputs = tuple((item["name"], item["type"]) for item in entry["inputs"])
            functions[function_abi_to_4byte_selector(entry)] = (entry["name"], inputs)  # type: ignore[arg-type]
    return functions


def _calldata(transaction: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(str(transaction["input"]).removeprefix("0x"))


def _attempt(transaction: Mapping[str, Any]) -> TransferAttempt | None:
    """Decode the transfer that TRANSACTION's calldata asked for; None for another function or undecodable data."""
    data = _calldata(transaction)
    function = _transfer_functions().get(data[:4])
    if function is None:
        return None
    name, inputs = function
    try:
        values = dict(zip((item for item, _ in inputs), decode([kind for _, kind in inputs], data[4:]), strict=True))
    except (DecodingError, ValueError):
        return None
    holder = values.get("from", transaction["from"])
    return TransferAttempt(name, to_checksum_address(holder), to_checksum_address(values["to"]), int(values["amount"]))


def _reason(response: dict[str, Any], transaction: Mapping[str, Any], receipt: Mapping[str, Any]) -> str | None:
    """Describe why TRANSACTION failed from the eth_call RESPONSE of its replay.

    Returns None when the replay succeeded and the transaction had gas left,
    because then the reason is not known.
    """
    error = response.get("error")
    out_of_gas = int(receipt["gasUsed"], 16) >= int(transaction["gas"], 16)
    if error is None:
        return f"ran out of gas: it used all of its gas limit {int(transaction['gas'], 16)}" if out_of_gas else None
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            decoded = decode_revert(data)
        except ValueError as decoding_error:
            return f"reverted with undecodable data: {decoding_error}"
        text = str(decoded)
        if decoded.name in ("TransferNotAllowed", "OperatorNotAllowed"):
            code = int(decoded.args[-1])
            text += f" ({ORACLE_REASONS[code] if code < len(ORACLE_REASONS) else 'unknown reason code'})"
        return text
    if out_of_gas:
        return f"ran out of gas: it used all of its gas limit {int(transaction['gas'], 16)}"
    # Without revert data the replay may have failed for another reason, such as a node without that block's state.
    message = error.get("message", error) if isinstance(error, dict) else error
    return f"replay failed: {message}"


def _transactions(reader: PinnedReader, receipts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read the transaction of each of RECEIPTS, in the same order."""
    hashes = [str(receipt["transactionHash"]) for receipt in receipts]
    responses = reader.send(
        [("eth_getTransactionByHash", [tx_hash]) for tx_hash in hashes], f"reading {len(hashes)} failed transactions"
    )
    transactions = []
    for tx_hash, response in zip(hashes, responses, strict=True):
        transaction = response.get("result")
        if not isinstance(transaction, dict):
            raise ChainError(f"transaction {tx_hash}, whose receipt was read, was not found", hint="rerun the check")
        transactions.append(transaction)
    return transactions


def _rejections(w3: Web3, failed: Sequence[dict[str, Any]]) -> list[Rejection]:
    """Keep the FAILED receipts whose transaction called a transfer function, replay each and decode why it failed."""
    if not failed:
        return []
    reader = PinnedReader(w3)

    # Only the selector in the calldata distinguishes a failed transfer from a failed pause() or grantRole().
    selectors = _transfer_functions()
    transfer_calls = [
        (transaction, receipt)
        for transaction, receipt in zip(_transactions(reader, failed), failed, strict=True)
        if _calldata(transaction)[:4] in selectors
    ]
    skipped = len(failed) - len(transfer_calls)
    if skipped:
        log.debug("%s failed transactions to the token called no transfer function and are not rejections", skipped)
    if not transfer_calls:
        return []
    transactions = [transaction for transaction, _ in transfer_calls]
    receipts = [receipt for _, receipt in transfer_calls]

    # The state before the block is the closest one a standard eth_call can reach.
    # NOTE: a transaction that failed only because of an earlier one in its block may replay without failing.
    calls = [
        (
            "eth_call",
            [
                {
                    "from": transaction["from"],
                    "to": transaction["to"],
                    "data": transaction["input"],
                    "value": transaction["value"],
                    "gas": transaction["gas"],
                },
                hex(max(int(receipt["blockNumber"], 16) - 1, 0)),
            ],
        )
        for transaction, receipt in zip(transactions, receipts, strict=True)
    ]
    replays = reader.send(calls, f"replaying {len(calls)} failed transactions")
    return [
        Rejection(
            tx_hash=str(receipt["transactionHash"]),
            block=int(receipt["blockNumber"], 16),
            sender=to_checksum_address(transaction["from"]),
            reason=_reason(replay, transaction, receipt),
            attempt=_attempt(transaction),
        )
        for transaction, receipt, replay in zip(transactions, receipts, replays, strict=True)
    ]


# --- the scan ----------------------------------------------------------------


def scan_activity(
    w3: Web3,
    environment: Environment,
    from_block: int,
    to_block: int,
    *,
    block_range: int = DEFAULT_BLOCK_RANGE,
    rejections_from: int | None = None,
) -> Activity:
    """Read the token's transfers, force transfers and rejected transactions from FROM_BLOCK to TO_BLOCK, inclusive.

    BLOCK_RANGE caps the blocks of one eth_getLogs request. Rejections cost one
    request per block, so REJECTIONS_FROM, when later than FROM_BLOCK, starts
    their scan there: a caller that needs every transfer since deployment but
    the rejections of one month reads receipts for that month only. An empty
    range (FROM_BLOCK > TO_BLOCK) gives an empty Activity without a request.
    Raises ChainError when a read fails or returns what the token cannot have emitted.
    """
    if block_range < 1:
        raise ValueError(f"block_range must be at least 1, not {block_range}")
    if from_block > to_block:
        return Activity(from_block, to_block, (), (), (), 0)
    token = environment.contracts.security_token

    # Events first: transfers and court orders leave logs, which eth_getLogs filters on the node.
    logs = _read_logs(PinnedReader(w3), token, from_block, to_block, block_range)
    transfers, force_transfers = _events(logs)

    # Rejected transfers leave no log, only a failed receipt.
    receipts_start = from_block if rejections_from is None else max(from_block, rejections_from)
    rejections = _rejections(w3, _failed_receipts(w3, token, receipts_start, to_block))

    forced = {force_transfer.tx_hash for force_transfer in force_transfers}
    successful = {transfer.tx_hash for transfer in transfers if transfer.sender != ZERO_ADDRESS} - forced
    log.debug(
        "blocks %s to %s: %s transfer events, %s force transfers, %s rejected transactions",
        from_block,
        to_block,
        len(transfers),
        len(force_transfers),
        len(rejections),
    )
    return Activity(
        from_block=from_block,
        to_block=to_block,
        transfers=tuple(transfers),
        force_transfers=tuple(force_transfers),
        rejections=tuple(rejections),
        successful_transfer_txs=len(successful),
    )
