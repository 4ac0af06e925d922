"""Builders for the planning tests: desired states and observations written by hand, no chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from eth_utils.address import to_checksum_address

from reconciler.chain.observe import Observation
from reconciler.desired.diagnostics import SourcePosition
from reconciler.desired.state import DesiredState
from reconciler.model import (
    Allocation,
    AllocationStatus,
    Contracts,
    CouponCycle,
    Environment,
    Investor,
    Partition,
    Policy,
    SanctionsEntry,
    State,
    TokenDecimals,
)
from reconciler.planning.plan import Plan, PlanOptions, build_plan

SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first development account
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = 10**18
USDC = 10**6
DAY = 86_400
NOW = 1_796_083_200  # 2026-12-01T00:00:00Z, the chain's time in most tests
BLOCK_HASH = "0x" + "ab" * 32
LISTED_ON = 1_730_419_200  # 2024-11-01
TRADE_DATE = 1_788_220_800  # 2026-09-01

CONTRACTS = Contracts(
    compliance_registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    compliance_oracle="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    security_token="0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    dvp_settlement="0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
    corporate_actions="0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9",
    transfer_agent_bridge="0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
    custody_attestations="0x0165878A594ca255338adfa4d48449f69242Eb8F",
    usdc="0xa513E6E4b8f2a923D98304ec87F64353C4D5C853",
)

FILES = {
    "Environment": "state/test/environment.yaml",
    "Investors": "state/test/investors.yaml",
    "Sanctions": "state/test/sanctions.yaml",
    "Allocations": "state/test/allocations.yaml",
    "CouponCycles": "state/test/coupons.yaml",
}
_COLLECTION_FILES = {
    "investors": FILES["Investors"],
    "sanctions": FILES["Sanctions"],
    "allocations": FILES["Allocations"],
    "coupon_cycles": FILES["CouponCycles"],
}


def address(number: int) -> str:
    """Return a made-up EIP-55 address, distinct for each NUMBER >= 1."""
    return to_checksum_address(f"0x{0x1000_0000 + number:040x}")


def environment(*, max_revocations: int = 25, name: str = "test") -> Environment:
    return Environment(
        name=name,
        chain_id=31337,
        rpc_url_env="JINBI_RPC_URL",
        confirmations=1,
        treasury=SIGNER,
        contracts=CONTRACTS,
        decimals=TokenDecimals(security_token=18, usdc=6),
        face_value_usdc=1 * USDC,
        price_feeds={},
        policy=Policy(max_revocations_per_apply=max_revocations, regs_lockup_days=40),
    )


def investor(number: int, *, kyc: bool = True, qib: bool = False, jurisdiction: str = "DE", lockup: int | None = None) -> Investor:
    return Investor(address(number), f"INV-{number:04d}", kyc, qib, jurisdiction, lockup)


def blocked(number: int, *, delisted_on: int | None = None) -> SanctionsEntry:
    return SanctionsEntry(address(number), "OFAC-SDN", LISTED_ON, delisted_on)


def allocation(
    allocation_id: str,
    number: int,
    *,
    amount: int = 1_000 * TOKEN,
    price: int = USDC,
    partition: Partition = Partition.REG_S,
    status: AllocationStatus = AllocationStatus.BOOKED,
) -> Allocation:
    return Allocation(allocation_id, partition, address(number), amount, price, TRADE_DATE, status)


def cycle(cycle_id: str, *, payment_date: int, rate_bps: int = 125, amount: int | None = None) -> CouponCycle:
    record_date = payment_date - 16 * DAY
    return CouponCycle(cycle_id, f"2026-Q{int(cycle_id) % 4 + 1}", rate_bps, record_date, payment_date, amount)


def state(
    investors: list[Investor] | None = None,
    sanctions: list[SanctionsEntry] | None = None,
    allocations: list[Allocation] | None = None,
    cycles: list[CouponCycle] | None = None,
) -> State:
    return State(
        investors={item.address: item for item in investors or []},
        sanctions={item.address: item for item in sanctions or []},
        allocations={item.id: item for item in allocations or []},
        coupon_cycles={item.id: item for item in cycles or []},
    )


def desired(model: State, *, env: Environment | None = None) -> DesiredState:
    """Wrap MODEL as a loaded desired state, with a made-up file position for each item and field."""
    positions: dict[tuple[str, ...], SourcePosition] = {
        ("environment", "policy", "max_revocations_per_apply"): SourcePosition(FILES["Environment"], 30, 30),
    }
    collections: Mapping[str, Mapping[str, Any]] = {
        "investors": model.investors,
        "sanctions": model.sanctions,
        "allocations": model.allocations,
        "coupon_cycles": model.coupon_cycles,
    }
    for collection, items in collections.items():
        for line, key in enumerate(items, start=5):
            file = _COLLECTION_FILES[collection]
            positions[(collection, key)] = SourcePosition(file, line, 3)
            for column, name in enumerate(items[key].__dataclass_fields__, start=1):
                positions[(collection, key, name)] = SourcePosition(file, line, 10 * column)
    return DesiredState(env or environment(), model, positions, FILES)


def chain_view(model: State) -> State:
    """Return what the chain shows once MODEL is applied: no refs, sources or trade dates, blocked addresses only."""
    return State(
        investors={key: replace(item, ref="") for key, item in model.investors.items()},
        sanctions={
            key: SanctionsEntry(key, "", 0) for key, item in model.sanctions.items() if item.delisted_on is None
        },
        allocations={
            key: replace(item, trade_date=0) for key, item in model.allocations.items()
        },
        coupon_cycles={
            key: replace(item, amount=item.amount or 7 * USDC, paid_at=item.payment_date + 60)
            for key, item in model.coupon_cycles.items()
        },
    )


def roles(holder: str = SIGNER) -> dict[str, dict[str, tuple[str, ...]]]:
    return {
        "compliance_registry": {"DEFAULT_ADMIN_ROLE": (holder,), "COMPLIANCE_OFFICER_ROLE": (holder,)},
        "dvp_settlement": {"DEFAULT_ADMIN_ROLE": (holder,), "ISSUER_ROLE": (holder,)},
        "corporate_actions": {"DEFAULT_ADMIN_ROLE": (holder,), "ISSUER_ROLE": (holder,)},
    }


def observation(
    model: State | None = None,
    *,
    block_timestamp: int = NOW,
    total_supply: int = 0,
    treasury_usdc_balance: int = 100_000_000 * USDC,
    allowance: int = 0,
    role_holders: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
) -> Observation:
    return Observation(
        chain_id=31337,
        block_number=42,
        block_hash=BLOCK_HASH,
        block_timestamp=block_timestamp,
        state=model or State(),
        total_supply=total_supply,
        supply_by_partition={"144A": 0, "RegS": total_supply},
        paused=False,
        treasury_usdc_balance=treasury_usdc_balance,
        usdc_allowance_to_corporate_actions=allowance,
        roles=roles() if role_holders is None else role_holders,
        reads={"chain/chain_id": "31337"},
        digest="0" * 64,
        rpc_requests=3,
    )


def plan(
    desired_model: State,
    observed: Observation | None = None,
    *,
    env: Environment | None = None,
    signer: str = SIGNER,
    gas_cap: int = 10_000_000,
    allow_mass_change: bool = False,
) -> Plan:
    options = PlanOptions(signer=signer, gas_cap=gas_cap, allow_mass_change=allow_mass_change, git_commit="c0ffee" * 6 + "c0ff")
    return build_plan(desired(desired_model, env=env), observed or observation(), options)
