"""Seeding of the benchmark chains: a deployed suite filled quickly through the batch setters.

Shared by bench/observe_speed.py and bench/plan_speed.py. Everything is sent
from anvil's first development account (the devnet's deployer, role holder
and treasury) to a `reconciler.devnet.LocalChain`:

  investors      N, through ComplianceRegistry.setInvestors, 500 packed words a transaction;
                 half US QIBs, half Reg S investors in five other countries with a lockup
  blocked        the last 152 investors, through one blockAddresses
  allocations    500 bookings of the first investors through DvPSettlement.book, 50 of them then cancelled
  coupon cycles  40 quarterly cycles paid through CorporateActions.payCoupon

`seed` sends all of it; `seed_sanctions_and_coupons` and
`seed_investors_and_bookings` send the two halves, so that a benchmark can
snapshot the chain in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from reconciler.chain import artifacts
from reconciler.chain.observe import ARTIFACTS
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.desired import read_state
from reconciler.devnet import LocalChain, write_environment
from reconciler.model import Environment

BLOCKED = 152
ALLOCATIONS = 500
CANCELLED = 50
COUPON_CYCLES = 40

INVESTORS_PER_TRANSACTION = 500
BOOKINGS_PER_TRANSACTION = 100
SEED_GAS = 29_000_000  # below the devnet's 30,000,000 block gas limit
# Fee cap of seeding transactions. Back-to-back full blocks raise the base fee
# faster than web3's default cap (twice the latest base fee) follows.
SEED_MAX_FEE = 10**13
DAY = 86_400
TOKEN = 10**18
USDC = 10**6
REGS_JURISDICTIONS = ("DE", "GB", "SG", "JP", "CH")


def _send_all(w3: Web3, sender: str, calls: list[Any]) -> None:
    """Send CALLS from SENDER back to back (anvil mines each at once), then check every receipt."""
    fees = {"maxFeePerGas": SEED_MAX_FEE, "maxPriorityFeePerGas": 10**9}
    hashes = [call.transact({"from": sender, "gas": SEED_GAS, **fees}) for call in calls]
    for tx_hash in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise SystemExit(f"seeding transaction {tx_hash.hex()} failed")


def _contract(w3: Web3, address: str, key: str) -> Any:
    return w3.eth.contract(address=address, abi=artifacts.load(ARTIFACTS[key]).abi)


def investor_address(index: int) -> str:
    """Return a made-up, never-signing investor address for INDEX (from 0x…100000 up, clear of precompiles)."""
    return to_checksum_address((0x10_0000 + index).to_bytes(20, "big"))


def seed(chain: LocalChain, investors: int) -> None:
    """Seed CHAIN with INVESTORS investors, 152 blocked, 500 bookings (50 cancelled) and 40 paid coupon cycles."""
    seed_sanctions_and_coupons(chain, investors)
    seed_investors_and_bookings(chain, investors)


def seed_sanctions_and_coupons(chain: LocalChain, investors: int) -> None:
    """Block the addresses of the last 152 of INVESTORS investors (registered or not) and pay 40 coupon cycles."""
    w3 = chain.w3
    deployment = chain.deployment
    admin = deployment.treasury
    registry = _contract(w3, deployment.compliance_registry, "compliance_registry")
    corporate_actions = _contract(w3, deployment.corporate_actions, "corporate_actions")
    usdc = _contract(w3, deployment.usdc, "usdc")
    start = int(w3.eth.get_block("latest")["timestamp"])

    coupon_total = sum(10_000 * USDC + number for number in range(1, COUPON_CYCLES + 1))
    calls = [
        registry.functions.blockAddresses([investor_address(investors - 1 - i) for i in range(BLOCKED)]),
        usdc.functions.approve(deployment.corporate_actions, coupon_total),
    ]
    _send_all(w3, admin, calls)

    # Quarterly cycles whose payment dates end before the chain's clock; a later
    # one would need the clock moved with evm_setNextBlockTimestamp first.
    today = start - start % DAY
    cycle_calls = []
    for number in range(1, COUPON_CYCLES + 1):
        payment_date = today - (COUPON_CYCLES - number + 1) * 91 * DAY
        year, quarter = 2016 + (number - 1) // 4, (number - 1) % 4 + 1
        cycle_calls.append(
            corporate_actions.functions.payCoupon(
                number, f"{year}-Q{quarter}", 125, payment_date - 14 * DAY, payment_date, 10_000 * USDC + number
            )
        )
    now = int(w3.eth.get_block("latest")["timestamp"])
    if any(call.args[4] > now for call in cycle_calls):
        w3.provider.make_request("evm_setNextBlockTimestamp", [max(call.args[4] for call in cycle_calls)])  # type: ignore[arg-type]
    _send_all(w3, admin, cycle_calls)


def seed_investors_and_bookings(chain: LocalChain, investors: int) -> None:
    """Register INVESTORS investors and book 500 allocations for the first of them, cancelling 50."""
    w3 = chain.w3
    deployment = chain.deployment
    registry = _contract(w3, deployment.compliance_registry, "compliance_registry")
    dvp = _contract(w3, deployment.dvp_settlement, "dvp_settlement")
    start = int(w3.eth.get_block("latest")["timestamp"])

    # Even indexes are US QIBs; odd ones Reg S investors with a lockup.
    words = [
        pack_investor(
            PackedInvestor(investor_address(i), True, True, "US", 0)
            if i % 2 == 0
            else PackedInvestor(investor_address(i), True, False, REGS_JURISDICTIONS[i % 5], start + 400 * DAY + i)
        )
        for i in range(investors)
    ]
    calls = [
        registry.functions.setInvestors(words[i : i + INVESTORS_PER_TRANSACTION])
        for i in range(0, len(words), INVESTORS_PER_TRANSACTION)
    ]
    # Bookings go to the first investors, which are not blocked.
    bookings = [
        (
            f"ALLOC-{i + 1:05d}".encode().ljust(32, b"\0"),
            (b"144A" if i % 2 == 0 else b"RegS").ljust(32, b"\0"),
            investor_address(i),
            (1_000 + i) * TOKEN,
            1 * USDC - (i % 3) * 500,
        )
        for i in range(ALLOCATIONS)
    ]
    calls += [
        dvp.functions.book(bookings[i : i + BOOKINGS_PER_TRANSACTION])
        for i in range(0, ALLOCATIONS, BOOKINGS_PER_TRANSACTION)
    ]
    calls.append(dvp.functions.cancel([booking[0] for booking in bookings[:CANCELLED]]))
    _send_all(w3, deployment.treasury, calls)


def environment_for(chain: LocalChain, scratch: Path, env: str = "devnet") -> Environment:
    """Write and load the environment file that `jinbi devnet up` would write for CHAIN, named ENV.

    The file goes to SCRATCH/ENV/environment.yaml.
    """
    path = scratch / env / "environment.yaml"
    write_environment(path, chain.deployment)
    if env != "devnet":
        path.write_text(path.read_text(encoding="utf-8").replace("name: devnet", f"name: {env}"), encoding="utf-8")
    environment = read_state(scratch, env).environment
    assert environment is not None
    return environment
