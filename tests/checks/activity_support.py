"""Helpers of the check tests: investors with tokens, transfers that succeed or fail, force transfers."""

from __future__ import annotations

from typing import Any

from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from reconciler.chain.packing import PackedInvestor, pack_investor

TOKEN = 10**18
USDC = 10**6
PARTITION_144A = "144A".encode("ascii").ljust(32, b"\0")
# Gas for a transaction that must be mined even though it reverts: estimate_gas would raise instead.
FAILING_TX_GAS = 300_000


def ascii_id(text: str) -> bytes:
    return text.encode("ascii").ljust(32, b"\0")


def send(call: ContractFunction, sender: str) -> TxReceipt:
    gas = call.estimate_gas({"from": sender}, block_identifier="pending")
    receipt = call.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": gas + gas // 5}))
    assert receipt["status"] == 1
    return receipt


def send_failing(call: ContractFunction, sender: str) -> TxReceipt:
    """Send CALL with a fixed gas limit so that it is mined, and return its status-0 receipt."""
    receipt = call.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": FAILING_TX_GAS}))
    assert receipt["status"] == 0
    return receipt


def register(chain: Any, *investors: str, qib: bool = True) -> None:
    """Register INVESTORS as KYC'd US investors, QIBs unless QIB is False."""
    words = [
        pack_investor(PackedInvestor(investor, kyc=True, qib=qib, jurisdiction="US", lockup_until=0))
        for investor in investors
    ]
    send(chain.contracts["compliance_registry"].functions.setInvestors(words), chain.signer)


def issue(chain: Any, investor: str, tokens: int, booking_id: str = "ALLOC-1") -> None:
    """Book TOKENS whole 144A tokens at 1 USDC for INVESTOR and settle them from the investor's account."""
    dvp = chain.contracts["dvp_settlement"]
    usdc = chain.contracts["usdc"]
    send(dvp.functions.book([(ascii_id(booking_id), PARTITION_144A, investor, tokens * TOKEN, USDC)]), chain.signer)
    send(usdc.functions.mint(investor, tokens * USDC), chain.signer)
    send(usdc.functions.approve(dvp.address, tokens * USDC), investor)
    send(dvp.functions.settle(ascii_id(booking_id)), investor)


def transfer(chain: Any, sender: str, recipient: str, tokens: int) -> TxReceipt:
    call = chain.contracts["security_token"].functions.transferByPartition(PARTITION_144A, recipient, tokens * TOKEN)
    return send(call, sender)


def failed_transfer(chain: Any, sender: str, recipient: str, tokens: int) -> TxReceipt:
    call = chain.contracts["security_token"].functions.transferByPartition(PARTITION_144A, recipient, tokens * TOKEN)
    return send_failing(call, sender)


def force_transfer(chain: Any, order_id: str, sender: str, recipient: str, tokens: int) -> TxReceipt:
    call = chain.contracts["security_token"].functions.forceTransfer(
        ascii_id(order_id), PARTITION_144A, sender, recipient, tokens * TOKEN, "Case 1:26-cv-00042"
    )
    return send(call, chain.signer)
