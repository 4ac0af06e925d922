"""Coupon statements: each holder's share of one coupon cycle, from the balances at its record date.

The record-date block is the last block whose timestamp is at or before the
end of the record date, 23:59:59 UTC of the UTC day that contains the cycle's
`record_date`. A holder is every address with a non-zero balance in either
partition at that block, and both partitions count alike. A holder's
entitlement is `floor(amount x holder balance / total balance)` in USDC base
units, so the entitlements never add up to more than the amount, and the
remainder (`amount - sum`) is reported, not distributed.

The amount is the one CorporateActions recorded when the cycle was paid. For a
cycle not paid yet, it is the amount `jinbi plan` would pay now, computed from
the token's total supply at the latest block (`reconciler.planning.coupons`),
and the statements are marked "projected". Callers: `jinbi report coupons`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from reconciler.chain import rpc
from reconciler.chain.blocktime import block_at_or_before, block_timestamp
from reconciler.chain.observe import observe
from reconciler.chain.reader import BlockPin
from reconciler.desired import read_environment
from reconciler.desired.values import format_datetime
from reconciler.errors import ReportError
from reconciler.model import SECONDS_PER_DAY, CouponCycle, Environment, Partition
from reconciler.money import MAX_UINT256, coupon_amount
from reconciler.planning.coupons import rounding_rule
from reconciler.planning.records import show_time, show_usdc
from reconciler.reports.holdings import Holdings, read_holdings

log = logging.getLogger(__name__)

_CYCLE_ID_RE = re.compile(r"^[1-9][0-9]*$")


@dataclass(frozen=True)
class CycleTerms:
    """A coupon cycle as the statements use it: paid on chain, or projected from the YAML."""

    id: str
    period: str
    rate_bps: int
    record_date: int  # Unix seconds, as recorded on chain or written in the YAML
    payment_date: int
    amount: int  # USDC base units
    paid_at: int | None  # Unix seconds of the payment; None for a projected cycle
    amount_source: str  # how the amount was found, in words

    @property
    def projected(self) -> bool:
        return self.paid_at is None

    @property
    def record_day_end(self) -> int:
        """Return 23:59:59 UTC of the record date's UTC day, in Unix seconds."""
        return self.record_date - self.record_date % SECONDS_PER_DAY + SECONDS_PER_DAY - 1


@dataclass(frozen=True)
class Entitlement:
    """One holder's balances at the record-date block and their share of the cycle's amount."""

    holder: str  # EIP-55
    balances: Mapping[Partition, int]  # bond base units per partition
    amount: int  # USDC base units, rounded down

    @property
    def balance(self) -> int:
        return sum(self.balances.values())


@dataclass(frozen=True)
class CouponStatements:
    """The statements of every holder of one cycle, with the totals they must add up to."""

    environment: str
    token_decimals: int
    usdc_decimals: int
    cycle: CycleTerms
    holdings: Holdings  # read at the record-date block
    latest_block: int  # the block the cycle and, for a projection, the supply were read at
    entitlements: tuple[Entitlement, ...]  # sorted by holder address

    @property
    def distributed(self) -> int:
        return sum(entitlement.amount for entitlement in self.entitlements)

    @property
    def remainder(self) -> int:
        return self.cycle.amount - self.distributed


def allocate(amount: int, balances: Mapping[str, Mapping[Partition, int]]) -> tuple[Entitlement, ...]:
    """Share AMOUNT (USDC base units) among the holders of BALANCES pro rata, rounding each share down.

    Holders with a zero total balance are left out. When no holder has a
    balance, every share is zero and the whole amount is the remainder.
    """
    total = sum(sum(by_partition.values()) for by_partition in balances.values())
    entitlements = []
    for holder in sorted(balances, key=str.lower):
        held = sum(balances[holder].values())
        if held == 0:
            continue
        entitlements.append(Entitlement(holder, dict(balances[holder]), amount * held // total))
    return tuple(entitlements)


def parse_cycle_id(text: str) -> str:
    """Return TEXT as a canonical cycle id, raising ReportError unless it is a positive integer that fits a uint256."""
    if not _CYCLE_ID_RE.fullmatch(text) or int(text) > MAX_UINT256:
        raise ReportError(
            f"invalid coupon cycle id {text!r}",
            hint="give the cycle's id as in coupons.yaml: a positive integer such as 1",
        )
    return text


def run_coupon_statements(state_dir: Path, env: str, cycle_id: str, *, w3: Web3 | None = None) -> CouponStatements:
    """Compute the coupon statements of cycle CYCLE_ID of ENV from its chain and its YAML under STATE_DIR.

    Raises ReportError for an unknown cycle or a record date the chain has not
    passed yet, DesiredStateError when the environment file or coupons.yaml
    has a finding, and ChainError when the chain cannot be read.
    """
    cycle_id = parse_cycle_id(cycle_id)
    environment, result = read_environment(state_dir, env, purpose="the report", valid_kinds=("CouponCycles",))
    w3 = w3 if w3 is not None else rpc.connect(environment)
    coupons_file = _coupons_file(result.files)
    return coupon_statements(w3, environment, result.state.coupon_cycles, cycle_id, coupons_file=coupons_file)


def coupon_statements(
    w3: Web3,
    environment: Environment,
    yaml_cycles: Mapping[str, CouponCycle],
    cycle_id: str,
    *,
    coupons_file: str = "coupons.yaml",
) -> CouponStatements:
    """Compute the statements of CYCLE_ID: its terms at the latest block, then the holders at its record date."""
    # The cycle's terms, and the supply a projection needs, from a snapshot at the latest block.
    observation = observe(w3, environment)
    latest = BlockPin(observation.block_number, observation.block_hash, observation.block_timestamp)
    paid = observation.state.coupon_cycles.get(cycle_id)
    if paid is not None and paid.paid_at:
        terms = _paid_terms(paid, environment)
    else:
        terms = _projected_terms(
            cycle_id, yaml_cycles, environment, observation.total_supply, latest.number, coupons_file
        )

    # The record-date block must be final: a later block must exist, or one could still join the record date.
    if latest.timestamp <= terms.record_day_end:
        raise ReportError(
            f"coupon cycle {cycle_id} has record date {show_time(terms.record_date)}, which ends at "
            f"{format_datetime(terms.record_day_end)}, but the chain's latest block {latest.number} is at "
            f"{format_datetime(latest.timestamp)}, so the record-date balances are not final yet",
            hint="make the statements once the chain has a block after the end of the record date",
        )
    chain_start = block_timestamp(w3, 0)
    if terms.record_day_end < chain_start:
        raise ReportError(
            f"coupon cycle {cycle_id} has record date {show_time(terms.record_date)}, which ends at "
            f"{format_datetime(terms.record_day_end)}, before the chain's first block (block 0 at "
            f"{format_datetime(chain_start)}), so no block holds its record-date balances",
            hint=f"check record_date of cycle {cycle_id} in coupons.yaml: it must fall after the chain started",
        )
    record_block, _ = block_at_or_before(w3, terms.record_day_end, latest=latest.number)
    holdings = read_holdings(w3, environment, record_block)

    entitlements = allocate(terms.amount, holdings.balances)
    log.info(
        "coupon cycle %s: %s holders at block %s share %s USDC base units",
        cycle_id,
        len(entitlements),
        record_block,
        terms.amount,
    )
    return CouponStatements(
        environment=environment.name,
        token_decimals=environment.decimals.security_token,
        usdc_decimals=environment.decimals.usdc,
        cycle=terms,
        holdings=holdings,
        latest_block=latest.number,
        entitlements=entitlements,
    )


def _paid_terms(cycle: CouponCycle, environment: Environment) -> CycleTerms:
    """Return the terms CorporateActions recorded for a paid cycle."""
    assert cycle.amount is not None and cycle.paid_at is not None
    shown = show_usdc(cycle.amount, environment.decimals.usdc)
    return CycleTerms(
        id=cycle.id,
        period=cycle.period,
        rate_bps=cycle.rate_bps,
        record_date=cycle.record_date,
        payment_date=cycle.payment_date,
        amount=cycle.amount,
        paid_at=cycle.paid_at,
        amount_source=f"paid: {shown} recorded by CorporateActions.payCoupon",
    )


def _projected_terms(
    cycle_id: str,
    yaml_cycles: Mapping[str, CouponCycle],
    environment: Environment,
    supply: int,
    block: int,
    coupons_file: str,
) -> CycleTerms:
    """Return the terms of an unpaid cycle of the YAML, with the amount the planner would compute at BLOCK."""
    cycle = yaml_cycles.get(cycle_id)
    if cycle is None:
        known = ", ".join(sorted(yaml_cycles, key=int)) or "none"
        raise ReportError(
            f"coupon cycle {cycle_id} not found: CorporateActions has not paid it at block {block}, "
            f"and {coupons_file} does not define it (its cycles: {known})",
            hint="give the id of a paid cycle or of a cycle in coupons.yaml",
        )
    amount = coupon_amount(
        supply, environment.face_value_usdc, cycle.rate_bps, bond_decimals=environment.decimals.security_token
    )
    rule = rounding_rule(environment, supply, cycle.rate_bps, amount)
    if cycle.amount is not None and cycle.amount != amount:
        usdc_decimals = environment.decimals.usdc
        raise ReportError(
            f"coupon cycle {cycle_id}: {coupons_file} writes amount {show_usdc(cycle.amount, usdc_decimals)}, "
            f"but the plan would compute {rule} at block {block}",
            hint="run `jinbi plan` to see the problem, and correct or remove the amount in coupons.yaml",
        )
    return CycleTerms(
        id=cycle_id,
        period=cycle.period,
        rate_bps=cycle.rate_bps,
        record_date=cycle.record_date,
        payment_date=cycle.payment_date,
        amount=amount,
        paid_at=None,
        amount_source=f"projected: not paid yet; the plan would pay {rule}, from the supply at block {block}",
    )


def _coupons_file(files: Mapping[str, str]) -> str:
    return files.get("CouponCycles", "coupons.yaml")
