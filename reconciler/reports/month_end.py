"""The month-end reconciliation: a month's closing balances against the YAML, snapshots, coupons, compliance counts.

`month_end` reads the chain at the last block of the month, or at the latest
block while the month has not ended, and the report states which. It compares each
holder's balance per partition with the YAML's allocations that are settled on
chain at that block. A difference is explained when the holder's secondary
transfers and force transfers in that partition, from block 0 to that block,
add up to it. The report also shows whether the transfer agent recorded the cap-table
snapshot of the month (period `YYYY-MM`) and, for a month that ends a quarter,
of the quarter (`YYYY-Qn`), lists the coupon cycles paid up to that block,
and counts the compliance rejections and force transfers of the month.
Callers: `jinbi report month-end`.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from web3 import Web3

from reconciler.chain import rpc
from reconciler.chain.activity import ZERO_ADDRESS, Activity, scan_activity
from reconciler.chain.blocktime import block_at_or_before, block_timestamp, first_block_at_or_after
from reconciler.chain.observe import observe
from reconciler.chain.reader import BlockPin, ContractCall, PinnedReader
from reconciler.desired import load_state
from reconciler.desired.state import DesiredState
from reconciler.desired.values import format_datetime
from reconciler.errors import ChainError, ReportError
from reconciler.model import Allocation, AllocationStatus, CouponCycle, Partition
from reconciler.reports.holdings import check_chain_id, holder_candidates, read_balances

log = logging.getLogger(__name__)

_PERIOD_RE = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @property
    def name(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> int:
        """Return 00:00:00 UTC of the month's first day, in Unix seconds."""
        return calendar.timegm((self.year, self.month, 1, 0, 0, 0))

    @property
    def end(self) -> int:
        """Return 23:59:59 UTC of the month's last day, in Unix seconds."""
        days = calendar.monthrange(self.year, self.month)[1]
        return calendar.timegm((self.year, self.month, days, 23, 59, 59))

    @property
    def snapshot_periods(self) -> tuple[str, ...]:
        """Return the cap-table periods due at this month's end: the month, and the quarter it ends."""
        if self.month % 3:
            return (self.name,)
        return (self.name, f"{self.year:04d}-Q{self.month // 3}")


@dataclass(frozen=True)
class Movement:
    """A move of one partition's tokens between two holders: a secondary transfer or a force transfer."""

    kind: str  # "transfer" or "force transfer"
    partition: Partition
    sender: str
    receiver: str
    amount: int  # bond base units
    block: int
    tx_hash: str
    order_id: str = ""  # the court order of a force transfer


@dataclass(frozen=True)
class BalanceLine:
    """One holder's balance in one partition against the YAML's settled allocations."""

    holder: str
    partition: Partition
    on_chain: int  # bond base units at the report's block
    settled: int  # bond base units of the YAML's allocations settled on chain by that block
    movements: tuple[Movement, ...]  # the holder's moves in this partition up to that block

    @property
    def difference(self) -> int:
        return self.on_chain - self.settled

    @property
    def moved(self) -> int:
        """Return the net amount the movements brought the holder (negative when they took tokens away)."""
        return sum(m.amount if m.receiver == self.holder else -m.amount for m in self.movements)

    @property
    def explained(self) -> bool:
        return self.moved == self.difference


@dataclass(frozen=True)
class SnapshotStatus:
    """Whether the cap-table snapshot of a period is recorded on TransferAgentBridge at the report's block."""

    period: str
    cid: str | None  # None when it is missing
    recorded_at: int | None


@dataclass(frozen=True)
class MonthEndReport:
    """Everything the month-end reconciliation found, read at one block."""

    environment: str
    chain_id: int
    month: Month
    block: BlockPin
    month_ended: bool  # False: the month has not ended and BLOCK is the latest block
    token_decimals: int
    usdc_decimals: int
    lines: tuple[BalanceLine, ...]  # every holder and partition with a balance or a settled allocation
    snapshots: tuple[SnapshotStatus, ...]
    coupons: tuple[CouponCycle, ...]  # paid up to BLOCK, in payment order
    month_first_block: int
    rejections: int  # compliance rejections in the month
    force_transfers: int  # force transfers in the month
    transfers: int  # secondary transfers in the month

    @property
    def differences(self) -> tuple[BalanceLine, ...]:
        return tuple(line for line in self.lines if line.difference)


def parse_month(text: str) -> Month:
    """Parse YYYY-MM, raising ReportError otherwise."""
    match = _PERIOD_RE.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ReportError(f"invalid period {text!r}", hint="give a calendar month as YYYY-MM, such as 2026-12")
    return Month(int(match.group(1)), int(match.group(2)))


def run_month_end(state_dir: Path, env: str, period: str, *, w3: Web3 | None = None) -> MonthEndReport:
    """Make the month-end report of PERIOD (YYYY-MM) for ENV from its YAML under STATE_DIR and its chain.

    Raises ReportError for an invalid period or one that starts after the
    chain's latest block, DesiredStateError for invalid YAML, and ChainError
    when the chain cannot be read.
    """
    month = parse_month(period)
    desired = load_state(state_dir, env)
    w3 = w3 if w3 is not None else rpc.connect(desired.environment)
    return month_end(w3, desired, month)


def month_end(w3: Web3, desired: DesiredState, month: Month) -> MonthEndReport:
    """Read the chain at MONTH's last block (or the latest) and reconcile it with DESIRED."""
    environment = desired.environment

    # The report's block: the month's last block, or the latest one while the month runs.
    reader = PinnedReader(w3)
    chain_id, latest = reader.pin()
    check_chain_id(chain_id, environment, latest.number)
    if latest.timestamp < month.start:
        raise ReportError(
            f"period {month.name} starts at {format_datetime(month.start)}, after the chain's latest block "
            f"{latest.number} at {format_datetime(latest.timestamp)}",
            hint="give a month the chain has reached",
        )
    month_ended = latest.timestamp > month.end
    chain_start = block_timestamp(w3, 0)
    if month.end < chain_start:
        raise ReportError(
            f"period {month.name} ends at {format_datetime(month.end)}, before the chain's first block "
            f"(block 0 at {format_datetime(chain_start)})",
            hint=f"give a month from {format_datetime(chain_start)[:7]} on, when the chain existed",
        )
    block = block_at_or_before(w3, month.end, latest=latest.number)[0] if month_ended else latest.number
    first_block = first_block_at_or_after(w3, month.start, latest=block)

    # Every transfer up to the block (events only), the month's rejections
    # (receipts of the month's blocks), then the balances and the managed state.
    activity = scan_activity(w3, environment, 0, block, rejections_from=first_block)
    holdings = read_balances(w3, environment, block, holder_candidates(activity))
    observation = observe(w3, environment, block=block)
    snapshots = _read_snapshots(w3, desired, month, holdings.block)

    movements = _movements(activity)
    settled = _settled(desired.state.allocations, observation.state.allocations)
    lines = _balance_lines(holdings.balances, settled, movements)
    coupons = sorted(
        (cycle for cycle in observation.state.coupon_cycles.values() if cycle.paid_at),
        key=lambda cycle: (cycle.paid_at or 0, int(cycle.id)),
    )
    in_month = [movement for movement in movements if movement.block >= first_block]
    rejections = [rejection for rejection in activity.rejections if rejection.block >= first_block]
    log.info("month-end %s at block %s: %s differences", month.name, block, sum(1 for line in lines if line.difference))
    return MonthEndReport(
        environment=environment.name,
        chain_id=chain_id,
        month=month,
        block=holdings.block,
        month_ended=month_ended,
        token_decimals=environment.decimals.security_token,
        usdc_decimals=environment.decimals.usdc,
        lines=tuple(lines),
        snapshots=snapshots,
        coupons=tuple(coupons),
        month_first_block=first_block,
        rejections=len(rejections),
        force_transfers=sum(1 for movement in in_month if movement.kind == "force transfer"),
        transfers=sum(1 for movement in in_month if movement.kind == "transfer"),
    )


def _read_snapshots(w3: Web3, desired: DesiredState, month: Month, block: BlockPin) -> tuple[SnapshotStatus, ...]:
    """Read the cap-table snapshots of MONTH's periods at BLOCK, raising ChainError if the block changed."""
    bridge = desired.environment.contracts.transfer_agent_bridge
    reader = PinnedReader(w3)
    _, pin = reader.pin(block.number)
    if pin.hash != block.hash:
        raise ChainError(
            f"block {block.number} changed while it was read: its hash was {block.hash} and is now {pin.hash} "
            "(a chain reorganisation)",
            hint="rerun the report",
        )
    calls = [
        ContractCall(
            "TransferAgentBridge", "transfer_agent_bridge", bridge, "snapshot", (bytes(Web3.keccak(text=period)),)
        )
        for period in month.snapshot_periods
    ]
    statuses = []
    for period, (_key, _period, cid, recorded_at) in zip(month.snapshot_periods, reader.call(calls), strict=True):
        recorded = int(recorded_at) != 0
        statuses.append(SnapshotStatus(period, str(cid) if recorded else None, int(recorded_at) if recorded else None))
    return tuple(statuses)


def _settled(
    yaml_allocations: Mapping[str, Allocation], chain_allocations: Mapping[str, Allocation]
) -> dict[tuple[str, Partition], int]:
    """Sum the YAML's allocations that are settled on chain, per investor and partition."""
    settled: dict[tuple[str, Partition], int] = {}
    for booking_id, allocation in yaml_allocations.items():
        on_chain = chain_allocations.get(booking_id)
        if allocation.status is AllocationStatus.CANCELLED or on_chain is None:
            continue
        if on_chain.status is not AllocationStatus.SETTLED:
            continue
        key = (allocation.investor, allocation.partition)
        settled[key] = settled.get(key, 0) + allocation.amount
    return settled


def _balance_lines(
    balances: Mapping[str, Mapping[Partition, int]],
    settled: Mapping[tuple[str, Partition], int],
    movements: Sequence[Movement],
) -> list[BalanceLine]:
    keys = {
        (holder, partition)
        for holder, by_partition in balances.items()
        for partition, amount in by_partition.items()
        if amount
    }
    keys.update(key for key, amount in settled.items() if amount)
    lines = []
    for holder, partition in sorted(keys, key=lambda key: (key[0].lower(), key[1].value)):
        own = tuple(
            movement
            for movement in movements
            if movement.partition is partition and holder in (movement.sender, movement.receiver)
        )
        lines.append(
            BalanceLine(
                holder=holder,
                partition=partition,
                on_chain=balances.get(holder, {}).get(partition, 0),
                settled=settled.get((holder, partition), 0),
                movements=own,
            )
        )
    return lines


def _movements(activity: Activity) -> list[Movement]:
    """Return the secondary transfers and force transfers of ACTIVITY, without issuance, in block order.

    A force transfer also emits TransferByPartition, so the transfers of a
    force transfer's transaction are counted once, as the force transfer.
    """
    movements = [
        Movement(
            kind="force transfer",
            partition=order.partition,
            sender=order.sender,
            receiver=order.recipient,
            amount=order.amount,
            block=order.block,
            tx_hash=order.tx_hash,
            order_id=order.order_id,
        )
        for order in activity.force_transfers
    ]
    forced = {order.tx_hash for order in activity.force_transfers}
    for transfer in activity.transfers:
        if transfer.sender == ZERO_ADDRESS or transfer.tx_hash in forced:
            continue
        movements.append(
            Movement(
                kind="transfer",
                partition=transfer.partition,
                sender=transfer.sender,
                receiver=transfer.recipient,
                amount=transfer.amount,
                block=transfer.block,
                tx_hash=transfer.tx_hash,
            )
        )
    return sorted(movements, key=lambda movement: movement.block)
