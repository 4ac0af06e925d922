"""The morning check: the operations runbook's daily checklist as one read-only report at one block.

`read_checks` reads everything the checklist needs at one pinned block: the
managed snapshot through `observe`, then each price feed's latest round, the
USDC held by CorporateActions and the latest custody attestation. `evaluate`
is pure: it turns those readings into findings, each `ok` or `alert`, whose
message names the value read and the threshold it was held against. Callers:
`jinbi check`.

NOTE: the checklist's event-based checks (transfers above $1M equivalent,
the compliance rejection rate over 24 hours) are not run yet, because they need
bounded `eth_getLogs` scans over a block range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from web3 import Web3

from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.chain.reader import ContractCall, PinnedReader
from reconciler.desired import read_state
from reconciler.errors import ChainError, DesiredStateError
from reconciler.model import AllocationStatus, Environment, Partition
from reconciler.money import format_base_units

# Every devnet feed is a MockAggregatorV3, whose ABI contains the Chainlink
# AggregatorV3 read functions, so it encodes the calls to any such feed.
FEED_ARTIFACT = "MockAggregatorV3"


class Severity(StrEnum):
    """Severity of a finding: `ok` (also for informational values) or `alert`."""

    OK = "ok"
    ALERT = "alert"


@dataclass(frozen=True)
class Finding:
    """The outcome of one check, with a message that names the value and its threshold."""

    check: str  # e.g. "price_feed_age/XAU/USD"
    severity: Severity
    message: str


@dataclass(frozen=True)
class FeedReading:
    """The latest round of one price feed, with the limits the environment file sets for it."""

    name: str  # e.g. "XAU/USD"
    address: str
    decimals: int  # as read from the feed
    expected_decimals: int  # as written in the environment file
    heartbeat_seconds: int
    round_id: int
    answer: int  # in units of 10**-decimals
    updated_at: int  # Unix seconds


@dataclass(frozen=True)
class CheckReadings:
    """Every value the morning check evaluates, read at one block."""

    environment: str
    chain_id: int
    block_number: int
    block_hash: str
    block_timestamp: int  # Unix seconds: the clock that feed and attestation ages are measured by
    token_decimals: int
    usdc_decimals: int
    feeds: tuple[FeedReading, ...]
    paused: bool
    supply_by_partition: Mapping[str, int]  # partition -> bond base units
    settled_by_partition: Mapping[str, int]  # partition -> bond base units of settled bookings
    corporate_actions_usdc: int  # USDC base units held by CorporateActions
    coupons_paid_usdc: int  # USDC base units of every paid coupon cycle
    open_bookings: int  # bookings awaiting settlement
    open_booking_amount: int  # bond base units of those bookings
    latest_attestation_label: str | None  # None when no attestation was recorded
    latest_attestation_at: int | None  # Unix seconds


@dataclass(frozen=True)
class CheckReport:
    """The findings of one morning check and the block they were read at."""

    readings: CheckReadings
    findings: tuple[Finding, ...]

    @property
    def alerts(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.severity is Severity.ALERT)

    def describe(self) -> str:
        """Render the report for a terminal, one finding per line."""
        readings = self.readings
        lines = [
            f"Morning check of {readings.environment} (chain {readings.chain_id}) at block "
            f"{readings.block_number} ({readings.block_hash}), block time {readings.block_timestamp}:"
        ]
        lines.extend(f"  {finding.severity.value:<5}  {finding.check}: {finding.message}" for finding in self.findings)
        count = len(self.alerts)
        lines.append(f"{count} alert{'' if count == 1 else 's'}.")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """Render the report as a JSON document."""
        readings = self.readings
        document: dict[str, Any] = {
            "environment": readings.environment,
            "chain_id": readings.chain_id,
            "block_number": readings.block_number,
            "block_hash": readings.block_hash,
            "block_timestamp": readings.block_timestamp,
            "alerts": len(self.alerts),
            "findings": [
                {"check": finding.check, "severity": finding.severity.value, "message": finding.message}
                for finding in self.findings
            ],
        }
        return json.dumps(document, indent=2) + "\n"


# --- evaluation --------------------------------------------------------------


def evaluate(readings: CheckReadings) -> list[Finding]:
    """Evaluate READINGS against the checklist's thresholds and return one finding per check."""
    findings: list[Finding] = []
    for feed in readings.feeds:
        findings.extend(_feed_findings(feed, readings.block_timestamp))
    findings.append(_pause_finding(readings))
    findings.extend(_supply_findings(readings))
    findings.append(_corporate_actions_finding(readings))
    findings.append(_open_bookings_finding(readings))
    findings.append(_attestation_finding(readings))
    return findings


def _feed_findings(feed: FeedReading, block_timestamp: int) -> list[Finding]:
    findings: list[Finding] = []
    answer = _format_answer(feed.answer, feed.decimals)

    if feed.decimals != feed.expected_decimals:
        findings.append(
            Finding(
                f"price_feed_decimals/{feed.name}",
                Severity.ALERT,
                f"{feed.name} at {feed.address} has {feed.decimals} decimals, "
                f"but the environment file has {feed.expected_decimals}",
            )
        )

    if feed.answer > 0:
        findings.append(
            Finding(f"price_feed_answer/{feed.name}", Severity.OK, f"{feed.name} answer {answer} is positive")
        )
    else:
        findings.append(
            Finding(
                f"price_feed_answer/{feed.name}",
                Severity.ALERT,
                f"{feed.name} answer {answer} of round {feed.round_id} is not positive (must be above 0)",
            )
        )

    age = block_timestamp - feed.updated_at
    if age < 0:
        message = (
            f"{feed.name} round {feed.round_id} was updated at {feed.updated_at}, "
            f"{-age} s after the block time {block_timestamp}"
        )
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.ALERT, message))
    elif age > feed.heartbeat_seconds:
        message = (
            f"{feed.name} round {feed.round_id} is {age} s old, "
            f"older than its heartbeat of {feed.heartbeat_seconds} s"
        )
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.ALERT, message))
    else:
        message = f"{feed.name} round {feed.round_id} is {age} s old, within its heartbeat of {feed.heartbeat_seconds} s"
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.OK, message))
    return findings


def _format_answer(answer: int, decimals: int) -> str:
    sign = "-" if answer < 0 else ""
    return sign + format_base_units(abs(answer), decimals)


def _pause_finding(readings: CheckReadings) -> Finding:
    if readings.paused:
        return Finding("token_paused", Severity.ALERT, "the token is paused: every transfer and issuance reverts")
    return Finding("token_paused", Severity.OK, "the token is not paused")


def _supply_findings(readings: CheckReadings) -> list[Finding]:
    findings: list[Finding] = []
    for partition in Partition:
        supply = readings.supply_by_partition.get(partition.value, 0)
        settled = readings.settled_by_partition.get(partition.value, 0)
        shown_supply = format_base_units(supply, readings.token_decimals)
        shown_settled = format_base_units(settled, readings.token_decimals)
        if supply == settled:
            severity = Severity.OK
            message = f"{partition.value} supply {shown_supply} equals the settled allocations {shown_settled}"
        else:
            severity = Severity.ALERT
            message = f"{partition.value} supply {shown_supply} differs from the settled allocations {shown_settled}"
        findings.append(Finding(f"supply/{partition.value}", severity, message))
    return findings


def _corporate_actions_finding(readings: CheckReadings) -> Finding:
    balance = format_base_units(readings.corporate_actions_usdc, readings.usdc_decimals)
    paid = format_base_units(readings.coupons_paid_usdc, readings.usdc_decimals)
    # NOTE: informational only. CorporateActions cannot pay USDC out yet, so no
    # expected balance is defined, and the paid coupon total is shown for comparison.
    return Finding(
        "corporate_actions_usdc",
        Severity.OK,
        f"CorporateActions has a balance of {balance} USDC, and paid coupon cycles total {paid} USDC",
    )


def _open_bookings_finding(readings: CheckReadings) -> Finding:
    amount = format_base_units(readings.open_booking_amount, readings.token_decimals)
    return Finding(
        "open_bookings",
        Severity.OK,
        f"{readings.open_bookings} booking(s) awaiting settlement, {amount} tokens in total",
    )


def _attestation_finding(readings: CheckReadings) -> Finding:
    if readings.latest_attestation_at is None:
        return Finding("custody_attestation", Severity.OK, "no custody attestation is recorded")
    age = readings.block_timestamp - readings.latest_attestation_at
    return Finding(
        "custody_attestation",
        Severity.OK,
        f"the latest custody attestation {readings.latest_attestation_label!r} is {age} s old "
        "(no maximum age is configured)",
    )


# --- reading -----------------------------------------------------------------


def read_checks(w3: Web3, environment: Environment) -> CheckReadings:
    """Read every value the morning check needs at one block, the latest.

    Raises ChainError when a read fails, a feed has no round, or the block
    changes under the reads.
    """
    reader = PinnedReader(w3)
    _, pin = reader.pin()
    observation = observe(w3, environment, block=pin.number)
    if observation.block_hash != pin.hash:
        raise ChainError(
            f"block {pin.number} changed while it was read: its hash was {pin.hash} and is now "
            f"{observation.block_hash} (a chain reorganisation)",
            hint="rerun the check",
        )

    contracts = environment.contracts
    feeds = list(environment.price_feeds.items())
    calls = [
        ContractCall("MockUSDC", "usdc", contracts.usdc, "balanceOf", (contracts.corporate_actions,), "USDC"),
        ContractCall("CustodyAttestations", "custody_attestations", contracts.custody_attestations, "attestationCount"),
    ]
    for name, feed in feeds:
        calls.append(ContractCall(FEED_ARTIFACT, name, feed.address, "decimals", (), name))
        calls.append(ContractCall(FEED_ARTIFACT, name, feed.address, "latestRoundData", (), name))
    values = iter(reader.call(calls))
    corporate_actions_usdc = int(next(values))
    attestation_count = int(next(values))
    feed_readings = []
    for name, feed in feeds:
        decimals = int(next(values))
        round_id, answer, _started_at, updated_at, _answered_in_round = next(values)
        feed_readings.append(
            FeedReading(
                name=name,
                address=feed.address,
                decimals=decimals,
                expected_decimals=feed.decimals,
                heartbeat_seconds=feed.heartbeat_seconds,
                round_id=int(round_id),
                answer=int(answer),
                updated_at=int(updated_at),
            )
        )

    label: str | None = None
    attested_at: int | None = None
    if attestation_count > 0:
        page_call = ContractCall(
            "CustodyAttestations",
            "custody_attestations",
            contracts.custody_attestations,
            "attestationsPage",
            (attestation_count - 1, 1),
        )
        (page,) = reader.call([page_call])
        if len(page) != 1:
            raise ChainError(
                f"{page_call.describe()} at block {pin.number} returned {len(page)} entries, "
                f"but attestationCount() returned {attestation_count}",
                hint="the node's responses contradict each other: rerun, and use another node if it repeats",
            )
        _key, _scope, label, _cid, attested_at = page[0]
        attested_at = int(attested_at)
    reader.check_pin()

    allocations = observation.state.allocations.values()
    settled = {partition.value: 0 for partition in Partition}
    for allocation in allocations:
        if allocation.status is AllocationStatus.SETTLED:
            settled[allocation.partition.value] += allocation.amount
    open_allocations = [allocation for allocation in allocations if allocation.status is AllocationStatus.BOOKED]
    coupons_paid = sum(
        cycle.amount or 0 for cycle in observation.state.coupon_cycles.values() if cycle.paid_at
    )
    return CheckReadings(
        environment=environment.name,
        chain_id=observation.chain_id,
        block_number=pin.number,
        block_hash=pin.hash,
        block_timestamp=pin.timestamp,
        token_decimals=environment.decimals.security_token,
        usdc_decimals=environment.decimals.usdc,
        feeds=tuple(feed_readings),
        paused=observation.paused,
        supply_by_partition=dict(observation.supply_by_partition),
        settled_by_partition=settled,
        corporate_actions_usdc=corporate_actions_usdc,
        coupons_paid_usdc=coupons_paid,
        open_bookings=len(open_allocations),
        open_booking_amount=sum(allocation.amount for allocation in open_allocations),
        latest_attestation_label=label,
        latest_attestation_at=attested_at,
    )


def run_check(state_dir: Path, env: str, *, w3: Web3 | None = None) -> CheckReport:
    """Read ENV's environment file under STATE_DIR, read its chain at one block and evaluate the checklist.

    Raises DesiredStateError when the environment file is missing or invalid,
    and ChainError when the chain cannot be read.
    """
    result = read_state(state_dir, env)
    environment = result.environment
    if environment is None:
        first = result.diagnostics[0]
        raise DesiredStateError(
            f"{first.file}:{first.line}:{first.column}: {first.message}",
            diagnostics=tuple(result.diagnostics),
            hint=f"the check needs a valid environment file; run `jinbi validate --env {env}` to see every error",
        )
    readings = read_checks(w3 if w3 is not None else rpc.connect(environment), environment)
    return CheckReport(readings, tuple(evaluate(readings)))
