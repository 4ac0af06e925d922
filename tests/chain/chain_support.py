"""Helpers of the chain-reading tests: sending from anvil's accounts, seeding each collection, the environment."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.cli import main
from reconciler.desired import read_state
from reconciler.devnet import write_environment
from reconciler.model import Environment

DAY = 86_400
TOKEN = 10**18
USDC = 10**6


def ascii_id(text: str) -> bytes:
    """Return TEXT as a left-aligned, zero-padded bytes32, the chain's form of ids and partitions."""
    return text.encode("ascii").ljust(32, b"\0")


def send(call: ContractFunction, sender: str) -> TxReceipt:
    """Send CALL from SENDER (an unlocked anvil account) on the pending block and return its successful receipt."""
    gas = call.estimate_gas({"from": sender}, block_identifier="pending")
    tx_hash = call.transact({"from": sender, "gas": gas + gas // 5})
    receipt = call.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


def now(chain: Any) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def set_next_timestamp(chain: Any, timestamp: int) -> None:
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


# --- seeding -----------------------------------------------------------------


def set_investors(chain: Any, *investors: PackedInvestor) -> None:
    words = [pack_investor(investor) for investor in investors]
    send(chain.contracts["compliance_registry"].functions.setInvestors(words), chain.signer)


def block(chain: Any, *addresses: str) -> None:
    send(chain.contracts["compliance_registry"].functions.blockAddresses(list(addresses)), chain.signer)


def book(chain: Any, *bookings: tuple[str, str, str, int, int]) -> None:
    """Book (id, partition, investor, amount in base units, price in USDC base units) in one transaction."""
    requests = [(ascii_id(i), ascii_id(partition), investor, amount, price) for i, partition, investor, amount, price in bookings]
    send(chain.contracts["dvp_settlement"].functions.book(requests), chain.signer)


def cancel(chain: Any, *booking_ids: str) -> None:
    send(chain.contracts["dvp_settlement"].functions.cancel([ascii_id(i) for i in booking_ids]), chain.signer)


def settle(chain: Any, booking_id: str, investor: str) -> None:
    """Fund INVESTOR with USDC, approve DvPSettlement and settle BOOKING_ID from the investor's account."""
    dvp = chain.contracts["dvp_settlement"]
    usdc = chain.contracts["usdc"]
    cost = dvp.functions.costOf(ascii_id(booking_id)).call()
    send(usdc.functions.mint(investor, cost), chain.signer)
    send(usdc.functions.approve(dvp.address, cost), investor)
    send(dvp.functions.settle(ascii_id(booking_id)), investor)


@dataclass(frozen=True)
class Cycle:
    cycle_id: int
    period: str
    rate_bps: int
    record_date: int
    payment_date: int
    amount: int


def pay_coupon(chain: Any, cycle: Cycle) -> int:
    """Approve CorporateActions for the cycle's amount and pay it at its payment date or later; return paidAt."""
    corporate_actions = chain.contracts["corporate_actions"]
    send(chain.contracts["usdc"].functions.approve(corporate_actions.address, cycle.amount), chain.signer)
    paid_at = max(cycle.payment_date, now(chain) + 1)
    set_next_timestamp(chain, paid_at)
    call = corporate_actions.functions.payCoupon(
        cycle.cycle_id, cycle.period, cycle.rate_bps, cycle.record_date, cycle.payment_date, cycle.amount
    )
    send(call, chain.signer)
    return paid_at


# --- environment and command line --------------------------------------------


def write_devnet_environment(state_dir: Path, chain: Any) -> Environment:
    """Write state_dir/devnet/environment.yaml for CHAIN's deployment and return it loaded."""
    write_environment(state_dir / "devnet" / "environment.yaml", chain.deployment)
    environment = read_state(state_dir, "devnet").environment
    assert environment is not None
    return environment


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run `jinbi ARGS` in-process through `main()`, the way the console script does."""
    monkeypatch.setattr(sys, "argv", ["jinbi", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(code if isinstance(code, int) else 1, captured.out, captured.err)
