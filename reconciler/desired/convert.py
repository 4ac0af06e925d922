"""Conversion of schema-checked YAML data to the model, in chain units.

Runs after schema validation: entries with schema errors are skipped (their
errors are already reported), so one bad investor does not hide the problems
of the others. Checks that need more than one value of a file live here too:
decimal places against the environment's token decimals, positive amounts,
and two spellings of one address. Positions of every converted value are
recorded under model paths such as ("investors", "0xAbC…", "kyc").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from reconciler.desired.diagnostics import Diagnostic, SourcePosition
from reconciler.desired.loader import MAX_INTEGER_DIGITS, Document, RawPath
from reconciler.desired.schema import describe_path, shown_value
from reconciler.desired.values import ValueFormatError, parse_address, parse_date, parse_date_or_datetime
from reconciler.model import (
    PAUSE_KEY,
    Allocation,
    AllocationStatus,
    CapTableSnapshot,
    CheckThresholds,
    Contracts,
    CouponCycle,
    CustodyAttestation,
    Environment,
    ForceTransfer,
    Investor,
    Partition,
    Pause,
    Policy,
    PriceFeed,
    RoleAssignment,
    RoleStatus,
    SanctionsEntry,
    TokenDecimals,
)
from reconciler.money import BOND_DECIMALS, USDC_DECIMALS, AmountError, AmountTooLargeError, to_base_units

ModelPath = tuple[str, ...]
T = TypeVar("T")


@dataclass
class Converted:
    """Positions of the converted values and the problems found while converting."""

    positions: dict[ModelPath, SourcePosition] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _entries(document: Document, collection: str, invalid: set[RawPath]) -> list[tuple[str, dict[str, Any]]]:
    """Return the schema-valid entries of COLLECTION in file order."""
    data = document.data if isinstance(document.data, dict) else {}
    entries = data.get(collection)
    if not isinstance(entries, dict) or (collection,) in invalid:
        return []
    bad_keys = {path[1] for path in invalid if len(path) >= 2 and path[0] == collection}
    return [(key, value) for key, value in entries.items() if key not in bad_keys and isinstance(value, dict)]


def _record(out: Converted, document: Document, raw: RawPath, model: ModelPath, fields: Mapping[str, Any]) -> None:
    out.positions[model] = document.key_position(raw)
    for name in fields:
        out.positions[(*model, name)] = document.value_position((*raw, name))


def _by_address(
    document: Document,
    collection: str,
    noun: str,
    entries: list[tuple[str, dict[str, Any]]],
    out: Converted,
    build: Callable[[str, dict[str, Any]], T],
    model_collection: str,
) -> dict[str, T]:
    """Key the valid ENTRIES by EIP-55 address, skipping second spellings of one address."""
    duplicates = _report_second_spellings(document, collection, noun, out)
    result: dict[str, T] = {}
    for key, fields in entries:
        if key in duplicates:
            continue
        address = parse_address(key)
        result[address] = build(address, fields)
        _record(out, document, (collection, key), (model_collection, address), fields)
    return result


def _report_second_spellings(document: Document, collection: str, noun: str, out: Converted) -> set[str]:
    """Report every key that spells an address already used by an earlier key, valid entry or not."""
    data = document.data if isinstance(document.data, dict) else {}
    entries = data.get(collection)
    if not isinstance(entries, dict):
        return set()
    first_key: dict[str, str] = {}
    duplicates: set[str] = set()
    for key in entries:
        try:
            address = parse_address(key)
        except ValueFormatError:
            continue  # the schema reports it
        if address not in first_key:
            first_key[address] = key
            continue
        duplicates.add(key)
        first_line = document.key_position((collection, first_key[address])).line
        out.diagnostics.append(
            Diagnostic.at(
                document.key_position((collection, key)),
                "duplicate-address",
                f"{noun} {key} is the same address as {first_key[address]} on line {first_line}",
                "keep one entry per address: addresses that differ only in letter case are the same address",
            )
        )
    return duplicates


# --- one converter per kind --------------------------------------------------


def convert_investors(document: Document, invalid: set[RawPath], out: Converted) -> dict[str, Investor]:
    def build(address: str, fields: dict[str, Any]) -> Investor:
        lockup = fields.get("lockup_until")
        return Investor(
            address=address,
            ref=fields["ref"],
            kyc=fields["kyc"],
            qib=fields["qib"],
            jurisdiction=fields["jurisdiction"],
            lockup_until=parse_date_or_datetime(lockup) if lockup is not None else None,
        )

    entries = _entries(document, "investors", invalid)
    return _by_address(document, "investors", "investor", entries, out, build, "investors")


def convert_sanctions(document: Document, invalid: set[RawPath], out: Converted) -> dict[str, SanctionsEntry]:
    def build(address: str, fields: dict[str, Any]) -> SanctionsEntry:
        delisted = fields.get("delisted_on")
        return SanctionsEntry(
            address=address,
            source=fields["source"],
            listed_on=parse_date(fields["listed_on"]),
            delisted_on=parse_date(delisted) if delisted is not None else None,
        )

    entries = _entries(document, "blocked", invalid)
    return _by_address(document, "blocked", "sanctions entry", entries, out, build, "sanctions")


def convert_allocations(
    document: Document, invalid: set[RawPath], decimals: TokenDecimals, out: Converted
) -> dict[str, Allocation]:
    result: dict[str, Allocation] = {}
    for key, fields in _entries(document, "allocations", invalid):
        raw = ("allocations", key)
        amount = _amount(document, (*raw, "amount"), fields["amount"], decimals.security_token, "the bond token", out)
        price = _amount(document, (*raw, "price"), fields["price"], decimals.usdc, "USDC", out)
        if amount is None or price is None:
            continue
        result[key] = Allocation(
            id=key,
            partition=Partition(fields["partition"]),
            investor=parse_address(fields["investor"]),
            amount=amount,
            price=price,
            trade_date=parse_date(fields["trade_date"]),
            status=AllocationStatus(fields.get("status", AllocationStatus.BOOKED.value)),
        )
        _record(out, document, raw, ("allocations", key), fields)
    return result


def convert_coupon_cycles(
    document: Document, invalid: set[RawPath], decimals: TokenDecimals, out: Converted
) -> dict[str, CouponCycle]:
    result: dict[str, CouponCycle] = {}
    for key, fields in _entries(document, "cycles", invalid):
        raw = ("cycles", key)
        amount: int | None = None
        if "amount" in fields:
            amount = _amount(document, (*raw, "amount"), fields["amount"], decimals.usdc, "USDC", out)
            if amount is None:
                continue
        result[key] = CouponCycle(
            id=key,
            period=fields["period"],
            rate_bps=fields["rate_bps"],
            record_date=parse_date(fields["record_date"]),
            payment_date=parse_date(fields["payment_date"]),
            amount=amount,
        )
        _record(out, document, raw, ("coupon_cycles", key), fields)
    return result


def convert_cap_table_snapshots(
    document: Document, invalid: set[RawPath], out: Converted
) -> dict[str, CapTableSnapshot]:
    result: dict[str, CapTableSnapshot] = {}
    for key, fields in _entries(document, "snapshots", invalid):
        result[key] = CapTableSnapshot(period=key, cid=fields["cid"])
        _record(out, document, ("snapshots", key), ("cap_table_snapshots", key), fields)
    return result


def convert_custody_attestations(
    document: Document, invalid: set[RawPath], out: Converted
) -> dict[str, CustodyAttestation]:
    result: dict[str, CustodyAttestation] = {}
    for key, fields in _entries(document, "attestations", invalid):
        result[key] = CustodyAttestation(label=key, scope=fields["scope"], cid=fields["cid"])
        _record(out, document, ("attestations", key), ("custody_attestations", key), fields)
    return result


def convert_pause(document: Document, invalid: set[RawPath], out: Converted) -> dict[str, Pause]:
    """Return the pause state under the key "security_token", or nothing when the file has schema errors."""
    data = document.data
    if invalid or not isinstance(data, dict):
        return {}
    fields = {"paused": data["paused"], "reason": data["reason"]}
    _record(out, document, (), ("pause", PAUSE_KEY), fields)
    return {PAUSE_KEY: Pause(paused=fields["paused"], reason=fields["reason"].strip())}


def convert_roles(document: Document, invalid: set[RawPath], out: Converted) -> dict[str, RoleAssignment]:
    result: dict[str, RoleAssignment] = {}
    data = document.data if isinstance(document.data, dict) else {}
    contracts = data.get("contracts")
    if not isinstance(contracts, dict) or ("contracts",) in invalid:
        return result
    # A role whose holders have any schema error is skipped whole; the error is reported.
    valid_roles = [
        (contract, role, holders)
        for contract, roles in contracts.items()
        if isinstance(roles, dict) and ("contracts", contract) not in invalid
        for role, holders in roles.items()
        if isinstance(holders, dict) and not any(path[:3] == ("contracts", contract, role) for path in invalid)
    ]
    for contract, role, holders in valid_roles:
        raw = ("contracts", contract, role)
        first_key: dict[str, str] = {}
        for key, status in holders.items():
            address = parse_address(key)
            if address in first_key:
                first_line = document.key_position((*raw, first_key[address])).line
                out.diagnostics.append(
                    Diagnostic.at(
                        document.key_position((*raw, key)),
                        "duplicate-address",
                        f"{role} holder {key} of {contract} is the same address as {first_key[address]} "
                        f"on line {first_line}",
                        "keep one entry per address: addresses that differ only in letter case are the same address",
                    )
                )
                continue
            first_key[address] = key
            assignment = RoleAssignment(contract, role, address, RoleStatus(status))
            result[assignment.key] = assignment
            out.positions[("roles", assignment.key)] = document.key_position((*raw, key))
            out.positions[("roles", assignment.key, "status")] = document.value_position((*raw, key))
    return result


def convert_force_transfers(
    document: Document, invalid: set[RawPath], decimals: TokenDecimals, out: Converted
) -> dict[str, ForceTransfer]:
    result: dict[str, ForceTransfer] = {}
    for key, fields in _entries(document, "orders", invalid):
        raw = ("orders", key)
        amount = _amount(document, (*raw, "amount"), fields["amount"], decimals.security_token, "the bond token", out)
        if amount is None:
            continue
        order = ForceTransfer(
            id=key,
            legal_reference=fields["legal_reference"].strip(),
            partition=Partition(fields["partition"]),
            sender=parse_address(fields["from"]),
            recipient=parse_address(fields["to"]),
            amount=amount,
        )
        if order.sender == order.recipient:
            out.diagnostics.append(
                Diagnostic.at(
                    document.value_position((*raw, "to")),
                    "force-transfer.same-account",
                    f"force-transfer order {key} moves tokens from {order.sender} to the same address",
                    "write the account the court orders the tokens to in to:",
                )
            )
            continue
        result[key] = order
        # Positions under the model's field names, so that plan messages point at from: and to:.
        _record(out, document, raw, ("force_transfers", key), fields)
        out.positions[("force_transfers", key, "sender")] = document.value_position((*raw, "from"))
        out.positions[("force_transfers", key, "recipient")] = document.value_position((*raw, "to"))
    return result


def convert_environment(document: Document, invalid: set[RawPath], out: Converted) -> Environment | None:
    """Convert the environment file, or return None when it has any schema error."""
    data = document.data
    if invalid or not isinstance(data, dict):
        return None
    decimals = TokenDecimals(**data["decimals"])
    face_value = _amount(document, ("face_value_usdc",), data["face_value_usdc"], decimals.usdc, "USDC", out)
    if face_value is None:
        return None
    contracts = {name: parse_address(value) for name, value in data["contracts"].items()}
    price_feeds = _price_feeds(document, data["price_feeds"], out)
    checks = _check_thresholds(data.get("checks") or {})
    if price_feeds is None:
        return None
    environment = Environment(
        name=data["name"],
        chain_id=data["chain_id"],
        rpc_url_env=data["rpc_url_env"],
        confirmations=data["confirmations"],
        treasury=parse_address(data["treasury"]),
        contracts=Contracts(**contracts),
        decimals=decimals,
        face_value_usdc=face_value,
        price_feeds=price_feeds,
        policy=Policy(**data["policy"]),
        checks=checks,
    )
    _record_tree(out, document, (), ("environment",), data)
    return environment


def _price_feeds(document: Document, feeds: dict[str, Any], out: Converted) -> dict[str, PriceFeed] | None:
    """Convert the price feeds, with their answer bounds in the feed's base units; None when a bound is invalid."""
    result: dict[str, PriceFeed] = {}
    valid = True
    for pair, feed in sorted(feeds.items()):
        bounds: dict[str, int | None] = {}
        for key in ("min_answer", "max_answer"):
            text = feed.get(key)
            path = ("price_feeds", pair, key)
            bounds[key] = None if text is None else _amount(document, path, text, feed["decimals"], f"feed {pair}", out)
            valid = valid and (text is None or bounds[key] is not None)
        result[pair] = PriceFeed(
            parse_address(feed["address"]), feed["decimals"], feed["heartbeat_seconds"], **bounds
        )
    return result if valid else None


def _check_thresholds(checks: dict[str, Any]) -> CheckThresholds:
    """Convert the optional `checks` section; the schema has checked every value, and a missing one keeps its default."""
    defaults = CheckThresholds()
    return CheckThresholds(
        large_transfer_usd=Decimal(checks.get("large_transfer_usd", defaults.large_transfer_usd)),
        max_rejection_rate_percent=Decimal(
            checks.get("max_rejection_rate_percent", defaults.max_rejection_rate_percent)
        ),
        activity_window_hours=checks.get("activity_window_hours", defaults.activity_window_hours),
        attestation_max_age_days=checks.get("attestation_max_age_days", defaults.attestation_max_age_days),
        max_log_block_range=checks.get("max_log_block_range", defaults.max_log_block_range),
    )


def _record_tree(out: Converted, document: Document, raw: RawPath, model: ModelPath, value: Any) -> None:
    out.positions[model] = document.value_position(raw) if raw else SourcePosition(document.file, 1, 1)
    if isinstance(value, dict):
        for key, child in value.items():
            _record_tree(out, document, (*raw, key), (*model, str(key)), child)


def default_decimals() -> TokenDecimals:
    """Token decimals to check amounts with when the environment file is invalid."""
    return TokenDecimals(security_token=BOND_DECIMALS, usdc=USDC_DECIMALS)


def _amount(document: Document, path: RawPath, text: str, decimals: int, token: str, out: Converted) -> int | None:
    """Convert a decimal string to base units, reporting too many places or a zero amount."""
    position = document.value_position(path)
    written = shown_value(document, path, text)
    # A uint256 has at most 78 digits, and Python's int() refuses more than 4,300.
    too_large_hint = f"write the amount in {token}, not in base units; check the value"
    if len(text.partition(".")[0]) > MAX_INTEGER_DIGITS:
        message = f"{describe_path(path)} {written} is too large to fit in a uint256"
        out.diagnostics.append(Diagnostic.at(position, "amount.too-large", message, too_large_hint))
        return None
    try:
        value = to_base_units(text, decimals)
    except AmountTooLargeError as error:
        message = f"{describe_path(path)} {written} {error}"
        out.diagnostics.append(Diagnostic.at(position, "amount.too-large", message, too_large_hint))
        return None
    except AmountError as error:
        hint = f"{token} has {decimals} decimals: round the value to at most {decimals} decimal places"
        out.diagnostics.append(
            Diagnostic.at(position, "amount.decimals", f"{describe_path(path)} {written} {error}", hint)
        )
        return None
    if value == 0:
        hints = {
            "allocations": "cancel an allocation with status: cancelled instead of a zero amount",
            "cycles": "omit amount to let the plan compute it, or write the expected total",
            "orders": "a force transfer moves a positive amount; remove an order the court withdrew before it was executed",
        }
        hint = hints.get(str(path[0]), "write a positive value")
        if path[-1] == "price":
            hint = 'write the price in USDC per bond token, such as "1.000000"'
        out.diagnostics.append(
            Diagnostic.at(
                position, "amount.zero", f"{describe_path(path)} must be greater than 0, found {written}", hint
            )
        )
        return None
    return value
