"""Devnet stand-ins for the world outside the reconciler: investors who settle, and a clock that moves.

On a real chain, investors settle their own bookings and time passes by
itself. On the devnet, `jinbi devnet settle` plays every investor with an open
booking (through anvil's impersonation: each pays with mock USDC minted for
it), and `jinbi devnet warp` moves the chain's clock to a date, so the demo can
reach a coupon's payment date. Both refuse to run on anything but the local
devnet chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from web3 import Web3

from reconciler.chain import artifacts
from reconciler.devnet import CHAIN_ID, connect, dev_account, expected_addresses
from reconciler.errors import DevnetError
from reconciler.money import USDC_DECIMALS, format_base_units

log = logging.getLogger(__name__)

BOOKED = 1
PAGE_SIZE = 500
# Gas given to each impersonated investor, in wei: enough for an approval and a settlement.
INVESTOR_GAS_FUNDS_WEI = 10**18


@dataclass(frozen=True)
class Settlement:
    """One booking that an investor settled on the devnet."""

    booking_id: str
    investor: str
    cost: int  # USDC base units paid
    tx_hash: str

    def describe(self) -> str:
        paid = format_base_units(self.cost, USDC_DECIMALS, min_places=USDC_DECIMALS)
        return f"{self.investor} settled {self.booking_id}, paying {paid} USDC (tx {self.tx_hash})"


def _devnet(port: int) -> Web3:
    w3 = connect(port)
    try:
        chain_id = w3.eth.chain_id
    except Exception as error:  # noqa: BLE001 - any failure means there is no devnet to act on
        raise DevnetError(f"no devnet running on port {port}: {error}", hint="run `jinbi devnet up` first") from None
    if chain_id != CHAIN_ID:
        raise DevnetError(f"the chain on port {port} has chain id {chain_id}, not the devnet's {CHAIN_ID}")
    return w3


def settle_open_bookings(port: int) -> list[Settlement]:
    """Settle every open booking as its investor would: mint USDC to them, approve, settle."""
    w3 = _devnet(port)
    addresses = expected_addresses()
    dvp = w3.eth.contract(address=Web3.to_checksum_address(addresses["dvp_settlement"]), abi=artifacts.load("DvPSettlement").abi)
    usdc = w3.eth.contract(address=Web3.to_checksum_address(addresses["usdc"]), abi=artifacts.load("MockUSDC").abi)
    owner = dev_account().address  # the mock USDC's owner, unlocked on anvil

    open_bookings = []
    count = dvp.functions.bookingCount().call()
    for start in range(0, count, PAGE_SIZE):
        open_bookings += [b for b in dvp.functions.bookingsPage(start, PAGE_SIZE).call() if b[5] == BOOKED]

    settlements = []
    for booking in open_bookings:
        booking_id, investor = booking[0], booking[2]
        cost = dvp.functions.costOf(booking_id).call()

        # The investor's own transactions, sent through anvil's impersonation.
        w3.provider.make_request("anvil_impersonateAccount", [investor])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_setBalance", [investor, hex(INVESTOR_GAS_FUNDS_WEI)])  # type: ignore[arg-type]
        _wait(w3, usdc.functions.mint(investor, cost).transact({"from": owner}))
        _wait(w3, usdc.functions.approve(dvp.address, cost).transact({"from": investor}))
        tx_hash = _wait(w3, dvp.functions.settle(booking_id).transact({"from": investor}))
        w3.provider.make_request("anvil_stopImpersonatingAccount", [investor])  # type: ignore[arg-type]

        label = booking_id.rstrip(b"\0").decode("ascii")
        settlements.append(Settlement(label, investor, cost, tx_hash))
        log.info("settled booking %s for %s", label, investor)
    return settlements


def _wait(w3: Web3, tx_hash: bytes) -> str:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    if receipt["status"] != 1:
        raise DevnetError(f"devnet transaction {tx_hash.hex()} failed")
    return "0x" + bytes(tx_hash).hex()


def parse_moment(text: str) -> int:
    """Parse YYYY-MM-DD (00:00 UTC) or an ISO 8601 time with Z or +00:00 into Unix seconds."""
    try:
        if len(text) == 10:
            return int(datetime.combine(date.fromisoformat(text), time(), UTC).timestamp())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DevnetError(f"invalid date {text!r}", hint="write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") from None
    if moment.utcoffset() is None or moment.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
        raise DevnetError(f"invalid date {text!r}: the time must be UTC", hint="end it with Z, as in 2026-12-31T00:00:00Z")
    return int(moment.timestamp())


def warp(port: int, target: int) -> str:
    """Mine a block at Unix time TARGET, unless the chain's clock is already there."""
    w3 = _devnet(port)
    now = w3.eth.get_block("latest")["timestamp"]
    target_text = datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if now >= target:
        current = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"the devnet clock is at {current}, already at or after {target_text}; nothing to do"
    w3.provider.make_request("evm_setNextBlockTimestamp", [target])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return f"moved the devnet clock to {target_text} (block {w3.eth.block_number})"
