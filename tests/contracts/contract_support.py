"""Helpers shared by the contract tests: sending, expected reverts, events, time, ids."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from reconciler.chain.errors import DecodedError, decode_revert, revert_data
from reconciler.chain.packing import PackedInvestor, pack_investor

DAY = 86_400
PARTITION_144A = b"144A".ljust(32, b"\0")
PARTITION_REGS = b"RegS".ljust(32, b"\0")
TOKEN = 10**18  # base units of one bond token
USDC = 10**6  # base units of one USDC

# Reason codes of IComplianceOracle.Reason.
OK = 0
UNKNOWN_PARTITION = 1
SENDER_BLOCKED = 2
SENDER_NOT_REGISTERED = 3
SENDER_NOT_KYC = 4
SENDER_LOCKED = 5
RECEIVER_BLOCKED = 6
RECEIVER_NOT_REGISTERED = 7
RECEIVER_NOT_KYC = 8
RECEIVER_NOT_QIB = 9
OPERATOR_BLOCKED = 10
OPERATOR_NOT_REGISTERED = 11
OPERATOR_NOT_KYC = 12


def ascii_id(text: str) -> bytes:
    """Return TEXT as a left-aligned, zero-padded bytes32 id."""
    encoded = text.encode("ascii")
    assert len(encoded) <= 32
    return encoded.ljust(32, b"\0")


def role(name: str) -> bytes:
    return bytes(32) if name == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=name))


def send(call: ContractFunction, sender: str) -> TxReceipt:
    """Send CALL from SENDER (an unlocked anvil account) and return its successful receipt.

    Gas is estimated on the pending block, which honours evm_setNextBlockTimestamp,
    so a call that depends on block time is estimated in the block it is mined in.
    """
    gas = call.estimate_gas({"from": sender}, block_identifier="pending")
    tx_hash = call.transact({"from": sender, "gas": gas + gas // 5})
    receipt = call.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


def revert_of(call: ContractFunction, sender: str) -> DecodedError:
    """Run CALL from SENDER on the pending block, expect a revert, and return the decoded error."""
    with pytest.raises(ContractLogicError) as caught:
        call.estimate_gas({"from": sender}, block_identifier="pending")
    data = revert_data(caught.value)
    assert data is not None, f"no revert data in {caught.value!r}"
    return decode_revert(data)


def events(receipt: TxReceipt, contract: Contract, name: str) -> list[dict[str, Any]]:
    """Return the arguments of every NAME event that CONTRACT emitted in RECEIPT."""
    processed = contract.events[name]().process_receipt(receipt, errors=DISCARD)
    return [dict(event["args"]) for event in processed if event["address"] == contract.address]


def event_names(receipt: TxReceipt, contracts: dict[str, Contract]) -> list[str]:
    """Return the names of every event in RECEIPT, in log order, over CONTRACTS' ABIs."""
    topic_names: dict[bytes, str] = {}
    for contract in contracts.values():
        entries: list[dict[str, Any]] = list(contract.abi)  # type: ignore[arg-type]
        for entry in entries:
            if entry.get("type") == "event":
                signature = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
                topic_names[bytes(Web3.keccak(text=signature))] = entry["name"]
    return [topic_names.get(bytes(log["topics"][0]), "?") for log in receipt["logs"]]


def called_functions(receipt: TxReceipt, contract: Contract) -> list[str]:
    """Return the names of CONTRACT's functions that the transaction of RECEIPT called, in call order.

    Reads anvil's call trace (debug_traceTransaction with the callTracer), so it includes
    calls between contracts as well as the outer call.
    """
    selectors: dict[str, str] = {}
    entries: list[dict[str, Any]] = list(contract.abi)  # type: ignore[arg-type]
    for entry in entries:
        if entry.get("type") == "function":
            signature = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
            selectors["0x" + bytes(Web3.keccak(text=signature))[:4].hex()] = entry["name"]
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    response = contract.w3.provider.make_request(
        "debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}]  # type: ignore[arg-type]
    )
    names: list[str] = []
    pending = [response["result"]]
    while pending:
        frame = pending.pop()
        if str(frame.get("to", "")).lower() == contract.address.lower():
            names.append(selectors.get(str(frame["input"])[:10], "?"))
        pending.extend(reversed(frame.get("calls", [])))
    return names


def now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def set_next_timestamp(w3: Web3, timestamp: int) -> None:
    """Make the next mined block carry TIMESTAMP."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


def mine_at(w3: Web3, timestamp: int) -> None:
    """Mine an empty block at TIMESTAMP, so that calls see that block time."""
    set_next_timestamp(w3, timestamp)
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def investor_word(
    address: str, *, kyc: bool = True, qib: bool = False, jurisdiction: str | None = None, lockup_until: int = 0
) -> int:
    return pack_investor(PackedInvestor(address, kyc, qib, jurisdiction, lockup_until))
