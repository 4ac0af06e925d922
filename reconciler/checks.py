"""The morning check: the operations runbook's daily checklist and alert triggers as one read-only report.

`read_checks` reads everything the checklist needs at one pinned block: the
managed snapshot through `observe`, then each price feed's latest round, the
USDC held by CorporateActions and the latest custody attestation. It then scans
the token's activity over the window before that block (24 hours by default):
the window starts at the first block whose timestamp is at least the pinned
block's minus the window, and ends at the pinned block.

`evaluate` is pure: it turns those readings into findings, each `ok` or
`alert`, whose message names the value read and the threshold it was held
against. The thresholds come from the environment file's optional `checks`
section and each feed's optional `min_answer` and `max_answer`.

Two alerts come from the activity scan (`reconciler.chain.activity`):

- a large transfer: the tokens one transaction moved from one holder to
  another, valued at face_value_usdc per token and converted to US dollars
  with the USDC/USD feed's answer when that feed is configured and positive
  (1:1 otherwise), above `large_transfer_usd`. Issuance is not a transfer.
  A rejected transaction whose calldata asked for a transfer that large
  alerts too, as an `attempted` large transfer.
- the compliance rejection rate: a rejected transfer reverts and emits no
  event, so a rejection is a transaction sent to the token whose receipt has
  status 0 and whose calldata called `transfer`, `transferFrom` or
  `transferByPartition`. The rate is rejections / (rejections + successful
  transfer transactions) over the window, and alerts above
  `max_rejection_rate_percent`. A failed call of another function, such as
  `pause()` or `grantRole()`, is not counted, and a transfer that failed
  inside another contract's call is not seen.

Callers: `jinbi check`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

from web3 import Web3

from reconciler.chain import rpc
from reconciler.chain.activity import ZERO_ADDRESS, Activity, TransferAttempt, scan_activity
from reconciler.chain.blocktime import block_timestamp, first_block_at_or_after
from reconciler.chain.observe import Observation, observe
from reconciler.chain.reader import ContractCall, PinnedReader
from reconciler.desired import read_environment
from reconciler.desired.diagnostics import Diagnostic
from reconciler.desired.state import kind_findings
from reconciler.desired.values import format_datetime
from reconciler.errors import ChainError
from reconciler.model import SECONDS_PER_DAY, AllocationStatus, CheckThresholds, CouponCycle, Environment, Partition
from reconciler.money import coupon_amount, format_base_units
from reconciler.planning.coupons import rounding_rule
from reconciler.planning.records import show_time, show_usdc

# Every devnet feed is a MockAggregatorV3, whose ABI contains the Chainlink
# AggregatorV3 read functions, so it encodes the calls to any such feed.
FEED_ARTIFACT = "MockAggregatorV3"

# The feed that converts USDC amounts to US dollars, when the environment file configures it.
USDC_USD_FEED = "USDC/USD"
SECONDS_PER_HOUR = 3_600

# Decimal places of a dollar value: tokens (18), USDC (6) and a feed answer (up to 18) give at most 42.
MAX_USD_PLACES = 60

# Rejected transactions that a finding's message lists; the JSON report lists them all.
SHOWN_REJECTIONS = 3


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
    # Machine-readable fields of the JSON report, such as {"value": "7862401", "threshold": "3600", "unit": "seconds"}:
    # numbers are exact decimal strings, never floats.
    details: Mapping[str, Any] = field(default_factory=dict)


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
    min_answer: int | None = None  # in units of 10**-expected_decimals; None sets no lower bound
    max_answer: int | None = None  # in units of 10**-expected_decimals; None sets no upper bound


@dataclass(frozen=True)
class UpcomingCoupon:
    """The next unpaid coupon cycle of coupons.yaml, with the amount the plan would pay at the check's block."""

    id: str
    period: str
    payment_date: int  # Unix seconds
    amount: int  # USDC base units
    rule: str  # how the amount follows from the supply, the face value and the rate


@dataclass(frozen=True)
class CouponFunding:
    """The treasury's USDC for coupons, and the next coupon cycle it has to pay."""

    treasury: str
    treasury_usdc: int  # USDC base units
    allowance_usdc: int  # USDC base units the treasury lets CorporateActions draw
    coupons_file: str | None  # as displayed; None when the environment has no CouponCycles file
    coupons_file_findings: tuple[str, ...]  # `jinbi validate` errors of that file as file:line:col: message
    next_coupon: UpcomingCoupon | None  # None when every cycle of the file is paid


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
    thresholds: CheckThresholds
    face_value_usdc: int  # USDC base units per whole bond token
    window_start_timestamp: int  # Unix seconds: the pinned block's time minus the window
    activity: Activity  # from the window's first block to the pinned block
    coupon_funding: CouponFunding
    feed_errors: Mapping[str, str] = field(default_factory=dict)  # feed name -> why it could not be read
    chain_start_timestamp: int | None = None  # block 0's time, when the chain is younger than the window


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
            f"{readings.block_number} ({readings.block_hash}), block time {format_datetime(readings.block_timestamp)}:"
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
                | dict(finding.details)
                for finding in self.findings
            ],
            "window": {
                "from_block": readings.activity.from_block,
                "to_block": readings.activity.to_block,
                "start_timestamp": readings.window_start_timestamp,
                "transfer_events": len(readings.activity.transfers),
                "force_transfers": len(readings.activity.force_transfers),
                "successful_transfer_transactions": readings.activity.successful_transfer_txs,
                "rejections": [
                    {"tx_hash": each.tx_hash, "block": each.block, "sender": each.sender, "reason": each.reason}
                    | ({} if each.attempt is None else {"attempt": _attempt_json(each.attempt, readings)})
                    for each in readings.activity.rejections
                ],
            },
        }
        return json.dumps(document, indent=2) + "\n"


def _attempt_json(attempt: TransferAttempt, readings: CheckReadings) -> dict[str, str]:
    return {
        "function": attempt.function,
        "from": attempt.sender,
        "to": attempt.recipient,
        "amount": str(attempt.amount),
        "tokens": format_base_units(attempt.amount, readings.token_decimals),
    }


# --- evaluation --------------------------------------------------------------


def evaluate(readings: CheckReadings) -> list[Finding]:
    """Evaluate READINGS against the checklist's thresholds and return one finding per check."""
    findings: list[Finding] = []
    for feed in readings.feeds:
        findings.extend(_feed_findings(feed, readings.block_timestamp))
    for name, error in sorted(readings.feed_errors.items()):
        findings.append(Finding(f"price_feed/{name}", Severity.ALERT, error))
    findings.append(_pause_finding(readings))
    findings.extend(_supply_findings(readings))
    findings.append(_corporate_actions_finding(readings))
    findings.append(_next_coupon_finding(readings))
    findings.append(_open_bookings_finding(readings))
    findings.append(_attestation_finding(readings))
    findings.extend(_large_transfer_findings(readings))
    findings.append(_rejection_rate_finding(readings))
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

    bounds = _feed_bounds_finding(feed, answer)
    if bounds is not None:
        findings.append(bounds)

    age = block_timestamp - feed.updated_at
    age_details = {"value": str(age), "threshold": str(feed.heartbeat_seconds), "unit": "seconds"}
    if age < 0:
        message = (
            f"{feed.name} round {feed.round_id} was updated at {format_datetime(feed.updated_at)}, "
            f"{-age} s after the block time {format_datetime(block_timestamp)}"
        )
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.ALERT, message, age_details))
    elif age > feed.heartbeat_seconds:
        message = (
            f"{feed.name} round {feed.round_id} is {age} s old, "
            f"older than its heartbeat of {feed.heartbeat_seconds} s"
        )
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.ALERT, message, age_details))
    else:
        message = f"{feed.name} round {feed.round_id} is {age} s old, within its heartbeat of {feed.heartbeat_seconds} s"
        findings.append(Finding(f"price_feed_age/{feed.name}", Severity.OK, message, age_details))
    return findings


def _feed_bounds_finding(feed: FeedReading, answer: str) -> Finding | None:
    """Compare the feed's answer with its configured bounds; None when the environment file sets none."""
    if feed.min_answer is None and feed.max_answer is None:
        return None
    check = f"price_feed_bounds/{feed.name}"
    # The bounds are written with the decimals of the environment file; a mismatch is its own alert.
    scale = 10 ** max(feed.expected_decimals - feed.decimals, 0)
    rescale = 10 ** max(feed.decimals - feed.expected_decimals, 0)
    scaled = feed.answer * scale
    if feed.min_answer is not None and scaled < feed.min_answer * rescale:
        shown = _format_answer(feed.min_answer, feed.expected_decimals)
        return Finding(check, Severity.ALERT, f"{feed.name} answer {answer} is below its min_answer {shown}")
    if feed.max_answer is not None and scaled > feed.max_answer * rescale:
        shown = _format_answer(feed.max_answer, feed.expected_decimals)
        return Finding(check, Severity.ALERT, f"{feed.name} answer {answer} is above its max_answer {shown}")
    low = "-" if feed.min_answer is None else _format_answer(feed.min_answer, feed.expected_decimals)
    high = "-" if feed.max_answer is None else _format_answer(feed.max_answer, feed.expected_decimals)
    return Finding(check, Severity.OK, f"{feed.name} answer {answer} is within its bounds [{low}, {high}]")


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
        details = {"value": str(supply), "threshold": str(settled), "unit": "base units"}
        findings.append(Finding(f"supply/{partition.value}", severity, message, details))
    return findings


def _corporate_actions_finding(readings: CheckReadings) -> Finding:
    balance = show_usdc(readings.corporate_actions_usdc, readings.usdc_decimals)
    paid = show_usdc(readings.coupons_paid_usdc, readings.usdc_decimals)
    # NOTE: informational only. CorporateActions cannot pay USDC out yet, so no
    # expected balance is defined, and the paid coupon total is shown for comparison.
    return Finding(
        "corporate_actions_usdc",
        Severity.OK,
        f"CorporateActions has a balance of {balance}, and paid coupon cycles total {paid}",
    )


def _next_coupon_finding(readings: CheckReadings) -> Finding:
    """Compare the next unpaid coupon cycle's amount with the treasury's USDC, which the payment draws on."""
    funding = readings.coupon_funding
    decimals = readings.usdc_decimals
    if funding.coupons_file is None:
        return Finding("next_coupon_usdc", Severity.OK, "no coupon cycle is defined (no CouponCycles file)")
    if funding.coupons_file_findings:
        count = len(funding.coupons_file_findings)
        return Finding(
            "next_coupon_usdc",
            Severity.ALERT,
            f"the next coupon was not checked against the treasury's USDC, because {funding.coupons_file} has "
            f"{count} validation error{'' if count == 1 else 's'}, the first {funding.coupons_file_findings[0]}; "
            "run `jinbi validate` to see them all",
        )

    coupon = funding.next_coupon
    if coupon is None:
        return Finding("next_coupon_usdc", Severity.OK, f"every coupon cycle of {funding.coupons_file} is paid")
    held = show_usdc(funding.treasury_usdc, decimals)
    allowance = show_usdc(funding.allowance_usdc, decimals)
    summary = (
        f"coupon cycle {coupon.id} ({coupon.period}, payment date {show_time(coupon.payment_date)}) would pay "
        f"{coupon.rule}; the treasury {funding.treasury} holds {held} and lets CorporateActions draw {allowance}"
    )

    if funding.treasury_usdc < coupon.amount:
        short = show_usdc(coupon.amount - funding.treasury_usdc, decimals)
        return Finding(
            "next_coupon_usdc", Severity.ALERT, f"{summary}, so it cannot pay the cycle: fund it with {short} more"
        )
    if funding.allowance_usdc < coupon.amount:
        summary += ", less than the amount, so `jinbi apply` would approve it before paying"
    return Finding("next_coupon_usdc", Severity.OK, summary)


def _open_bookings_finding(readings: CheckReadings) -> Finding:
    amount = format_base_units(readings.open_booking_amount, readings.token_decimals)
    return Finding(
        "open_bookings",
        Severity.OK,
        f"{readings.open_bookings} booking(s) awaiting settlement, {amount} tokens in total",
    )


def _attestation_finding(readings: CheckReadings) -> Finding:
    max_days = readings.thresholds.attestation_max_age_days
    if readings.latest_attestation_at is None:
        # NOTE: a missing attestation does not alert, so that a new deployment checks healthy before its first one.
        return Finding("custody_attestation", Severity.OK, "no custody attestation is recorded yet")
    age = readings.block_timestamp - readings.latest_attestation_at
    shown_age = f"{age} s ({_format_days(age)} days) old"
    label = readings.latest_attestation_label
    details = {"value": str(age), "threshold": str(max_days * SECONDS_PER_DAY), "unit": "seconds"}
    if age > max_days * SECONDS_PER_DAY:
        return Finding(
            "custody_attestation",
            Severity.ALERT,
            f"the latest custody attestation {label!r} is {shown_age}, older than the maximum of {max_days} days",
            details,
        )
    return Finding(
        "custody_attestation",
        Severity.OK,
        f"the latest custody attestation {label!r} is {shown_age}, within the maximum of {max_days} days",
        details,
    )


def _format_days(seconds: int) -> str:
    return str((Decimal(seconds) / SECONDS_PER_DAY).quantize(Decimal("0.1")))


def _window(readings: CheckReadings) -> str:
    activity = readings.activity
    hours = readings.thresholds.activity_window_hours
    if readings.chain_start_timestamp is not None:
        return (
            f"blocks {activity.from_block} to {activity.to_block} (since the chain's first block at "
            f"{format_datetime(readings.chain_start_timestamp)}, less than the {hours} h window)"
        )
    return f"blocks {activity.from_block} to {activity.to_block} (the last {hours} h)"


def usd_per_token(readings: CheckReadings) -> tuple[Fraction, str]:
    """Return the US dollar value of one whole bond token, exact, and how it was converted.

    One token is worth face_value_usdc USDC, and one USDC is worth the USDC/USD
    feed's answer when that feed is configured and its answer positive, else 1 USD.
    """
    face_value = Fraction(readings.face_value_usdc, 10**readings.usdc_decimals)
    feed = next((feed for feed in readings.feeds if feed.name == USDC_USD_FEED), None)
    if feed is None or feed.answer <= 0:
        return face_value, "USDC valued at 1 USD"
    rate = Fraction(feed.answer, 10**feed.decimals)
    return face_value * rate, f"USDC valued at {_format_answer(feed.answer, feed.decimals)} USD by {USDC_USD_FEED}"


def _format_usd(value: Fraction) -> str:
    """Write a non-negative dollar amount exactly, with at least two decimal places and thousands separators.

    The value is a product of token, USDC and feed base units, so its
    denominator is a power of ten and it has a finite decimal form. Digits
    beyond MAX_USD_PLACES, which no such product has, are cut.
    """
    whole, _, fraction = _exact_usd(value).partition(".")
    return f"{int(whole):,}.{fraction}"


def _exact_usd(value: Fraction) -> str:
    """Write a non-negative dollar amount exactly, with at least two decimal places, as the JSON report gives it."""
    places = 2
    while (value * 10**places).denominator != 1 and places < MAX_USD_PLACES:
        places += 1
    return format_base_units(int(value * 10**places), places, min_places=2)


def _large_transfer_findings(readings: CheckReadings) -> list[Finding]:
    """Alert on each transfer worth more than the threshold: executed ones, and attempts that the token rejected."""
    activity = readings.activity
    threshold = readings.thresholds.large_transfer_usd
    price, conversion = usd_per_token(readings)
    forced = {each.tx_hash: each.order_id for each in activity.force_transfers}
    limits = {"threshold": str(threshold), "unit": "USD"}

    # One transaction may move both partitions (a plain ERC-20 transfer takes 144A first, then RegS).
    moved: dict[tuple[str, str, str], int] = defaultdict(int)
    blocks: dict[str, int] = {}
    for transfer in activity.transfers:
        if transfer.sender == ZERO_ADDRESS:
            continue  # issuance against a settled booking, not a transfer between holders
        moved[(transfer.tx_hash, transfer.sender, transfer.recipient)] += transfer.amount
        blocks[transfer.tx_hash] = transfer.block
    # A rejected transfer moved nothing, but the runbook's trigger is the attempt.
    attempted = {
        (each.tx_hash, each.attempt.sender, each.attempt.recipient): (each.attempt.amount, each.block, each.reason)
        for each in activity.rejections
        if each.attempt is not None
    }

    findings: list[Finding] = []
    large: list[tuple[tuple[str, str, str], int, int, str | None]] = [
        (key, amount, blocks[key[0]], None) for key, amount in moved.items()
    ]
    large += [(key, amount, block, reason) for key, (amount, block, reason) in attempted.items()]
    for (tx_hash, sender, recipient), amount, block, reason in large:
        value = Fraction(amount, 10**readings.token_decimals) * price
        if value <= Fraction(threshold):
            continue
        tokens = format_base_units(amount, readings.token_decimals)
        status = "executed" if (tx_hash, sender, recipient) in moved else "attempted"
        if status == "attempted":
            what = f"rejected transfer attempt of {tokens} tokens"
            rejected = f", rejected: {reason or 'its replay did not fail'}"
        else:
            what = f"{f'force transfer {forced[tx_hash]!r}' if tx_hash in forced else 'transfer'} of {tokens} tokens"
            rejected = ""
        entry = {
            "status": status,
            "tx_hash": tx_hash,
            "block": str(block),
            "from": sender,
            "to": recipient,
            "amount": str(amount),
            "tokens": tokens,
            "usd": _exact_usd(value),
        }
        findings.append(
            Finding(
                f"large_transfer/{tx_hash}",
                Severity.ALERT,
                f"{what} from {sender} to {recipient} in transaction {tx_hash} "
                f"(block {block}{rejected}) is worth {_format_usd(value)} USD ({conversion}), "
                f"above the threshold of {threshold:,} USD",
                {"value": _exact_usd(value), **limits, "transfers": [entry]},
            )
        )
    if not findings:
        findings.append(
            Finding(
                "large_transfers",
                Severity.OK,
                f"no transfer or transfer attempt in {_window(readings)} is worth more than {threshold:,} USD "
                f"({conversion})",
                {**limits, "transfers": []},
            )
        )
    return findings


def _rejection_rate_finding(readings: CheckReadings) -> Finding:
    activity = readings.activity
    rejected, attempts = activity.rejection_rate
    maximum = readings.thresholds.max_rejection_rate_percent
    counts = {"rejected": str(rejected), "successful": str(activity.successful_transfer_txs)}
    limits = {"threshold": str(maximum), "unit": "percent"}
    if attempts == 0:
        return Finding(
            "rejection_rate", Severity.OK, f"no transfer transaction in {_window(readings)}", counts | limits
        )
    rate = Fraction(rejected * 100, attempts)
    # Exact when the rate has a finite decimal form (28 significant digits otherwise, as 1/3 has none).
    exact_rate = str(Decimal(rate.numerator) / Decimal(rate.denominator))
    details = counts | {"rate": exact_rate, "value": exact_rate, **limits}
    shown_rate = f"{Decimal(round(rate * 100)) / 100:.2f} %"
    summary = f"{rejected} of {attempts} transfer transactions in {_window(readings)} failed: {shown_rate}"
    if rate <= Fraction(maximum):
        return Finding("rejection_rate", Severity.OK, f"{summary}, within the maximum of {maximum} %", details)
    shown = "; ".join(
        f"{each.tx_hash} at block {each.block} from {each.sender}: {each.reason or 'its replay did not fail'}"
        for each in activity.rejections[:SHOWN_REJECTIONS]
    )
    more = len(activity.rejections) - SHOWN_REJECTIONS
    if more > 0:
        shown += f"; and {more} more"
    return Finding("rejection_rate", Severity.ALERT, f"{summary}, above the maximum of {maximum} %: {shown}", details)


# --- reading -----------------------------------------------------------------


def read_checks(
    w3: Web3,
    environment: Environment,
    coupons: Mapping[str, CouponCycle],
    coupons_file: tuple[str, Sequence[Diagnostic]] | None,
) -> CheckReadings:
    """Read every value the morning check needs at one block, the latest.

    COUPONS are the cycles of the CouponCycles file, and COUPONS_FILE is that
    file as displayed with its validation findings (None when there is no
    such file). A feed that cannot be read is kept in `feed_errors`. Raises
    ChainError when another read fails or the block changes under the reads.
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
        setting = f"price_feeds.{name}.address"
        for function in ("decimals", "latestRoundData"):
            calls.append(ContractCall(FEED_ARTIFACT, name, feed.address, function, (), f"{name} feed", setting))
    # A feed at a wrong address is one feed's alert, so its call errors are kept; the other calls must succeed.
    values = iter(reader.call(calls, keep_errors=True))
    corporate_actions_usdc = int(_value(next(values)))
    attestation_count = int(_value(next(values)))
    feed_readings = []
    feed_errors: dict[str, str] = {}
    for name, feed in feeds:
        decimals_value, round_value = next(values), next(values)
        error = next((value for value in (decimals_value, round_value) if isinstance(value, ChainError)), None)
        if error is not None:
            feed_errors[name] = f"{error.message}; {error.hint}"
            continue
        decimals = int(decimals_value)
        round_id, answer, _started_at, updated_at, _answered_in_round = round_value
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
                min_answer=feed.min_answer,
                max_answer=feed.max_answer,
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

    # The activity window ends at the pinned block, so every reading describes the same chain.
    thresholds = environment.checks
    window_start = pin.timestamp - thresholds.activity_window_hours * SECONDS_PER_HOUR
    first_block = first_block_at_or_after(w3, window_start, latest=pin.number)
    chain_start = block_timestamp(w3, 0) if first_block == 0 else None
    activity = scan_activity(w3, environment, first_block, pin.number, block_range=thresholds.max_log_block_range)
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
        thresholds=thresholds,
        face_value_usdc=environment.face_value_usdc,
        window_start_timestamp=window_start,
        activity=activity,
        coupon_funding=_coupon_funding(environment, observation, coupons, coupons_file),
        feed_errors=feed_errors,
        chain_start_timestamp=chain_start if chain_start is not None and chain_start > window_start else None,
    )


def _value(result: Any) -> Any:
    """Return a call's RESULT, raising it when it is the ChainError of a failed call."""
    if isinstance(result, ChainError):
        raise result
    return result


def _coupon_funding(
    environment: Environment,
    observation: Observation,
    coupons: Mapping[str, CouponCycle],
    coupons_file: tuple[str, Sequence[Diagnostic]] | None,
) -> CouponFunding:
    """Find the next unpaid cycle of COUPONS and its amount as the plan would compute it at the observed block."""
    paid = {key for key, cycle in observation.state.coupon_cycles.items() if cycle.paid_at}
    unpaid = sorted(
        (cycle for key, cycle in coupons.items() if key not in paid),
        key=lambda cycle: (cycle.payment_date, int(cycle.id)),
    )
    upcoming = None
    written = () if coupons_file is None else coupons_file[1]
    findings = tuple(f"{each.file}:{each.line}:{each.column}: {each.message}" for each in written)
    if unpaid and not findings:
        cycle = unpaid[0]
        supply = observation.total_supply
        amount = coupon_amount(
            supply, environment.face_value_usdc, cycle.rate_bps, bond_decimals=environment.decimals.security_token
        )
        rule = rounding_rule(environment, supply, cycle.rate_bps, amount)
        upcoming = UpcomingCoupon(cycle.id, cycle.period, cycle.payment_date, amount, rule)
    return CouponFunding(
        treasury=environment.treasury,
        treasury_usdc=observation.treasury_usdc_balance,
        allowance_usdc=observation.usdc_allowance_to_corporate_actions,
        coupons_file=None if coupons_file is None else coupons_file[0],
        coupons_file_findings=findings,
        next_coupon=upcoming,
    )


def run_check(state_dir: Path, env: str, *, w3: Web3 | None = None) -> CheckReport:
    """Read ENV's environment file under STATE_DIR, read its chain at one block and evaluate the checklist.

    Raises DesiredStateError when the environment file is missing or invalid,
    and ChainError when the chain cannot be read.
    """
    environment, result = read_environment(state_dir, env, purpose="the check")

    # An invalid coupons file does not stop the check: its next-coupon finding alerts instead.
    findings = kind_findings(result, ["CouponCycles"])
    coupons_file = result.files.get("CouponCycles") or (findings[0].file if findings else None)
    coupons = None if coupons_file is None else (coupons_file, findings)

    w3 = w3 if w3 is not None else rpc.connect(environment)
    readings = read_checks(w3, environment, result.state.coupon_cycles, coupons)
    return CheckReport(readings, tuple(evaluate(readings)))
