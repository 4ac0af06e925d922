"""Rules that span entries or files of the desired state.

Each rule has its own code and message, and reports at the YAML line a
reviewer should look at. Rules run on converted model values only: an entry
with a schema error is skipped, and an allocation whose investor entry is
invalid is not checked against that investor. When the Investors or the
Sanctions file failed to parse, the rules that need it are skipped, so an
allocation is not reported for an investor the parser never reached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from reconciler.desired.convert import ModelPath
from reconciler.desired.diagnostics import Diagnostic, SourcePosition
from reconciler.desired.values import cid_multihash, format_date, format_datetime
from reconciler.model import (
    SECONDS_PER_DAY,
    Allocation,
    AllocationStatus,
    Environment,
    Partition,
    State,
)
from reconciler.money import format_base_units

# Jurisdictions that count as the United States for Reg S: the US and the
# ISO 3166-1 codes of its territories and possessions.
# NOTE: this list is not checked against the text of Regulation S; have counsel confirm it.
US_JURISDICTIONS = frozenset({"US", "AS", "GU", "MP", "PR", "UM", "VI"})


@dataclass(frozen=True)
class RuleContext:
    """Input of the rules: the converted state, the position of each value and the file of each kind."""

    env_name: str
    environment: Environment | None
    state: State
    positions: Mapping[ModelPath, SourcePosition]
    files: Mapping[str, str]  # kind -> file as displayed
    invalid_investors: frozenset[str]  # addresses whose entries failed the schema
    unparsed_kinds: frozenset[str] = frozenset()  # kinds whose file failed to parse

    def at(self, *path: str) -> SourcePosition:
        """Return the position of PATH, or of its nearest recorded parent."""
        for length in range(len(path), 0, -1):
            position = self.positions.get(path[:length])
            if position is not None:
                return position
        return SourcePosition(self.files.get("Environment", "?"), 1, 1)


def check_rules(context: RuleContext) -> list[Diagnostic]:
    """Run every cross-entry rule and return the findings."""
    findings: list[Diagnostic] = []
    findings.extend(_environment_rules(context))
    findings.extend(_unique_refs(context))
    findings.extend(_delisting_dates(context))
    for allocation in context.state.allocations.values():
        # Booking rules hold for booked allocations; a settled one only needs its investor declared.
        if allocation.status in (AllocationStatus.BOOKED, AllocationStatus.SETTLED) and (
            "Investors" not in context.unparsed_kinds
        ):
            findings.extend(_allocation_rules(context, allocation))
    findings.extend(_coupon_rules(context))
    findings.extend(_unique_cids(context))
    return findings


# --- environment -------------------------------------------------------------


def _environment_rules(context: RuleContext) -> Iterator[Diagnostic]:
    environment = context.environment
    if environment is None:
        return
    if environment.name != context.env_name:
        yield Diagnostic.at(
            context.at("environment", "name"),
            "environment.name",
            f"environment name {environment.name} does not match its folder {context.env_name}",
            f"write name: {context.env_name}, or run the command with --env {environment.name}",
        )
    seen: dict[str, str] = {}
    for name, address in vars(environment.contracts).items():
        if address in seen:
            yield Diagnostic.at(
                context.at("environment", "contracts", name),
                "environment.duplicate-contract",
                f"contracts.{name} has the same address as contracts.{seen[address]}: {address}",
                "each contract of the suite has its own address: check the deployment output",
            )
        else:
            seen[address] = name
    for pair, feed in environment.price_feeds.items():
        if feed.min_answer is not None and feed.max_answer is not None and feed.min_answer > feed.max_answer:
            yield Diagnostic.at(
                context.at("environment", "price_feeds", pair, "min_answer"),
                "environment.feed-bounds",
                f"price_feeds.{pair}.min_answer {format_base_units(feed.min_answer, feed.decimals)} is above "
                f"its max_answer {format_base_units(feed.max_answer, feed.decimals)}",
                "swap the two bounds, or correct the one that is wrong",
            )


# --- investors and sanctions -------------------------------------------------


def _unique_refs(context: RuleContext) -> Iterator[Diagnostic]:
    owners: dict[str, str] = {}
    # File order is line order, so the first investor with a ref keeps it.
    ordered = sorted(context.state.investors.values(), key=lambda each: context.at("investors", each.address).line)
    for investor in ordered:
        owner = owners.get(investor.ref)
        if owner is None:
            owners[investor.ref] = investor.address
            continue
        line = context.at("investors", owner, "ref").line
        yield Diagnostic.at(
            context.at("investors", investor.address, "ref"),
            "investor.duplicate-ref",
            f"investor {investor.address}: ref {investor.ref} is also the ref of investor {owner} on line {line}",
            "give each investor address its own ref",
        )


def _delisting_dates(context: RuleContext) -> Iterator[Diagnostic]:
    for entry in context.state.sanctions.values():
        if entry.delisted_on is not None and entry.delisted_on < entry.listed_on:
            yield Diagnostic.at(
                context.at("sanctions", entry.address, "delisted_on"),
                "sanctions.delisted-before-listed",
                f"sanctions entry {entry.address}: delisted_on {format_date(entry.delisted_on)} "
                f"is before listed_on {format_date(entry.listed_on)}",
                "check both dates against the lists that added and removed the address",
            )


# --- allocations -------------------------------------------------------------


def _allocation_rules(context: RuleContext, allocation: Allocation) -> Iterator[Diagnostic]:
    label = f"allocation {allocation.id}"
    address = allocation.investor
    investor_at = context.at("allocations", allocation.id, "investor")
    partition_at = context.at("allocations", allocation.id, "partition")
    if address in context.invalid_investors:
        return
    investor = context.state.investors.get(address)
    if investor is None:
        investors_file = context.files.get("Investors", "the Investors file")
        yield Diagnostic.at(
            investor_at,
            "allocation.investor-undeclared",
            f"{label}: investor {address} is not declared in {investors_file}",
            "add the investor with kyc, qib and jurisdiction, or correct the address",
        )
        return
    investor_line = context.at("investors", address)
    if allocation.status is AllocationStatus.SETTLED:
        return  # history: the investor may since have been revoked or blocked

    if not investor.kyc:
        yield Diagnostic.at(
            investor_at,
            "allocation.investor-not-kyc",
            f"{label}: investor {address} has kyc: false",
            f"book allocations only for KYC'd investors ({investor_line}), or cancel it with status: cancelled; "
            "if the investor settled it on chain already, write status: settled",
        )
    entry = context.state.sanctions.get(address)
    if entry is not None and entry.blocked:
        yield Diagnostic.at(
            investor_at,
            "allocation.investor-blocked",
            f"{label}: investor {address} is blocked ({entry.source}, listed on {format_date(entry.listed_on)})",
            f"cancel the allocation with status: cancelled (sanctions entry at {context.at('sanctions', address)}); "
            "if the investor settled it on chain already, write status: settled",
        )

    if allocation.partition is Partition.RULE_144A and not investor.qib:
        yield Diagnostic.at(
            partition_at,
            "allocation.144a-needs-qib",
            f"{label}: partition 144A needs a qualified institutional buyer, but investor {address} has qib: false",
            f"book a non-US investor in RegS, or set qib: true ({investor_line}) once QIB status is confirmed",
        )
    if allocation.partition is Partition.REG_S:
        yield from _regs_rules(context, allocation, partition_at, investor_line)


def _regs_rules(
    context: RuleContext, allocation: Allocation, partition_at: SourcePosition, investor_line: SourcePosition
) -> Iterator[Diagnostic]:
    label = f"allocation {allocation.id}"
    investor = context.state.investors[allocation.investor]
    if investor.jurisdiction in US_JURISDICTIONS:
        yield Diagnostic.at(
            partition_at,
            "allocation.regs-needs-non-us",
            f"{label}: partition RegS needs an investor outside the United States, "
            f"but investor {investor.address} has jurisdiction {investor.jurisdiction}",
            "book a US investor in 144A, which needs a QIB",
        )
    if context.environment is None:
        return  # the lockup length is a policy of the environment file, which is invalid
    days = context.environment.policy.regs_lockup_days
    minimum = allocation.trade_date + days * SECONDS_PER_DAY
    if investor.lockup_until is not None and investor.lockup_until >= minimum:
        return
    needed = (
        f"{label}: partition RegS needs a lockup until at least {format_datetime(minimum)} "
        f"({days} days after trade_date {format_date(allocation.trade_date)})"
    )
    found = (
        "no lockup_until" if investor.lockup_until is None else f"lockup_until {format_datetime(investor.lockup_until)}"
    )
    yield Diagnostic.at(
        partition_at,
        "allocation.regs-lockup",
        f"{needed}, but investor {investor.address} has {found}",
        f'set lockup_until: "{format_datetime(minimum)}" or later for the investor ({investor_line})',
    )


# --- coupon cycles -----------------------------------------------------------


def _coupon_rules(context: RuleContext) -> Iterator[Diagnostic]:
    cycles = sorted(context.state.coupon_cycles.values(), key=lambda cycle: int(cycle.id))
    for cycle in cycles:
        if cycle.record_date >= cycle.payment_date:
            yield Diagnostic.at(
                context.at("coupon_cycles", cycle.id, "payment_date"),
                "coupon.dates-order",
                f"coupon cycle {cycle.id}: payment_date {format_date(cycle.payment_date)} "
                f"is not after record_date {format_date(cycle.record_date)}",
                "the record date fixes who is paid, so it comes before the payment date",
            )
    for previous, cycle in zip(cycles, cycles[1:], strict=False):
        if cycle.period <= previous.period:
            yield Diagnostic.at(
                context.at("coupon_cycles", cycle.id, "period"),
                "coupon.period-order",
                f"coupon cycle {cycle.id}: period {cycle.period} is not after period {previous.period} "
                f"of coupon cycle {previous.id}",
                "number the cycles in the order of their periods; each period is paid once",
            )
        if cycle.record_date <= previous.payment_date:
            yield Diagnostic.at(
                context.at("coupon_cycles", cycle.id, "record_date"),
                "coupon.record-date-order",
                f"coupon cycle {cycle.id}: record_date {format_date(cycle.record_date)} is not after "
                f"payment_date {format_date(previous.payment_date)} of coupon cycle {previous.id}",
                "a cycle's record date comes after the previous cycle's payment date",
            )


# --- cap-table snapshots and custody attestations ----------------------------


def _unique_cids(context: RuleContext) -> Iterator[Diagnostic]:
    """Report a CID written for a second period or label, because each record names its own document."""
    collections = (
        ("cap_table_snapshots", "cap-table snapshot", context.state.cap_table_snapshots),
        ("custody_attestations", "custody attestation", context.state.custody_attestations),
    )
    for collection, noun, records in collections:
        owners: dict[bytes, str] = {}
        # File order is line order, so the first record with a CID keeps it. The same content
        # has a CID in each version and base, so the CIDs compare by their multihash.
        for key in sorted(records, key=lambda each: context.at(collection, each).line):
            cid = records[key].cid
            owner = owners.setdefault(cid_multihash(cid), key)
            if owner == key:
                continue
            other = records[owner].cid
            line = context.at(collection, owner).line
            same = (
                f"is also the CID of {noun} {owner} on line {line}"
                if other == cid
                else f"names the same content as cid {other} of {noun} {owner} on line {line} (the same hash, "
                "written in another CID version or base)"
            )
            yield Diagnostic.at(
                context.at(collection, key, "cid"),
                "record.duplicate-cid",
                f"{noun} {key}: cid {cid} {same}",
                "each record names its own document, so check that this CID is the one of this record's upload",
            )
