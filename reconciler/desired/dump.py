"""Write model values as state files in the committed format.

The output is deterministic (entries sorted by address or id, fields in a
fixed order) and reads back to the same model with `reconciler.desired`.
Every string that a YAML 1.1 reader such as an editor or yq could type as
something else (addresses, dates, amounts, NO, 144A) is double-quoted, so the
files mean the same in any YAML tool. `jinbi sanctions import` writes the
Sanctions file with it, and `jinbi import` writes observed chain state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from reconciler.desired.schema import FILE_NAMES, SCHEMA_FILES, SCHEMA_LINE_PREFIX
from reconciler.desired.values import format_date, format_datetime
from reconciler.model import (
    MANAGED_ROLES,
    PAUSE_KEY,
    Allocation,
    AllocationStatus,
    CapTableSnapshot,
    CouponCycle,
    CustodyAttestation,
    Environment,
    ForceTransfer,
    Investor,
    Pause,
    RoleAssignment,
    SanctionsEntry,
    State,
    TokenDecimals,
)
from reconciler.money import BOND_DECIMALS, USDC_DECIMALS, format_base_units

_PLAIN_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_./-]*$")
_YAML_WORDS = frozenset({"y", "yes", "n", "no", "on", "off", "true", "false", "null"})


def _text(value: str) -> str:
    """Write VALUE plain when every YAML reader reads it back as the same string, else quoted."""
    if _PLAIN_SAFE.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)


def _quoted(value: str) -> str:
    return json.dumps(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _header(kind: str) -> list[str]:
    return [f"{SCHEMA_LINE_PREFIX}../../schemas/{SCHEMA_FILES[kind]}", f"kind: {kind}"]


def _flow(fields: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{name}: {value}" for name, value in fields) + "}"


def _address_order(address: str) -> str:
    return address.lower()


# --- one writer per kind -----------------------------------------------------


def dump_investors(investors: Mapping[str, Investor]) -> str:
    lines = _header("Investors")
    if not investors:
        lines.append("investors: {}")
    else:
        lines.append("investors:")
    for address in sorted(investors, key=_address_order):
        investor = investors[address]
        lines.append(f"  {_quoted(investor.address)}:")
        lines.append(f"    ref: {_text(investor.ref)}")
        lines.append(f"    kyc: {_bool(investor.kyc)}")
        lines.append(f"    qib: {_bool(investor.qib)}")
        lines.append(f"    jurisdiction: {_quoted(investor.jurisdiction)}")
        if investor.lockup_until is not None:
            lines.append(f"    lockup_until: {_quoted(format_datetime(investor.lockup_until))}")
    return "\n".join(lines) + "\n"


def dump_sanctions(entries: Mapping[str, SanctionsEntry]) -> str:
    lines = _header("Sanctions")
    lines.append("blocked:" if entries else "blocked: {}")
    for address in sorted(entries, key=_address_order):
        entry = entries[address]
        fields = [("source", _text(entry.source)), ("listed_on", _quoted(format_date(entry.listed_on)))]
        if entry.delisted_on is not None:
            fields.append(("delisted_on", _quoted(format_date(entry.delisted_on))))
        lines.append(f"  {_quoted(entry.address)}: {_flow(fields)}")
    return "\n".join(lines) + "\n"


def dump_allocations(allocations: Mapping[str, Allocation], decimals: TokenDecimals | None = None) -> str:
    decimals = decimals or TokenDecimals(security_token=BOND_DECIMALS, usdc=USDC_DECIMALS)
    lines = _header("Allocations")
    lines.append("allocations:" if allocations else "allocations: {}")
    for key in sorted(allocations):
        allocation = allocations[key]
        fields = [
            ("partition", _text(allocation.partition.value)),
            ("investor", _quoted(allocation.investor)),
            ("amount", _quoted(format_base_units(allocation.amount, decimals.security_token))),
            ("price", _quoted(format_base_units(allocation.price, decimals.usdc, min_places=decimals.usdc))),
            ("trade_date", _quoted(format_date(allocation.trade_date))),
        ]
        # The YAML format has booked (the default) and cancelled. A settled booking is
        # written as booked, which it satisfies.
        if allocation.status is AllocationStatus.CANCELLED:
            fields.append(("status", _text(allocation.status.value)))
        lines.append(f"  {_text(allocation.id)}: {_flow(fields)}")
    return "\n".join(lines) + "\n"


def dump_coupon_cycles(cycles: Mapping[str, CouponCycle], decimals: TokenDecimals | None = None) -> str:
    usdc = decimals.usdc if decimals is not None else USDC_DECIMALS
    lines = _header("CouponCycles")
    lines.append("cycles:" if cycles else "cycles: {}")
    for key in sorted(cycles, key=int):
        cycle = cycles[key]
        fields = [
            ("period", _quoted(cycle.period)),
            ("rate_bps", str(cycle.rate_bps)),
            ("record_date", _quoted(format_date(cycle.record_date))),
            ("payment_date", _quoted(format_date(cycle.payment_date))),
        ]
        if cycle.amount is not None:
            fields.append(("amount", _quoted(format_base_units(cycle.amount, usdc, min_places=usdc))))
        lines.append(f"  {_quoted(cycle.id)}: {_flow(fields)}")
    return "\n".join(lines) + "\n"


def dump_cap_table_snapshots(snapshots: Mapping[str, CapTableSnapshot]) -> str:
    lines = _header("CapTableSnapshots")
    lines.append("snapshots:" if snapshots else "snapshots: {}")
    for period in sorted(snapshots):
        lines.append(f"  {_text(period)}: {_flow([('cid', _quoted(snapshots[period].cid))])}")
    return "\n".join(lines) + "\n"


def dump_custody_attestations(attestations: Mapping[str, CustodyAttestation]) -> str:
    lines = _header("CustodyAttestations")
    lines.append("attestations:" if attestations else "attestations: {}")
    for label in sorted(attestations):
        attestation = attestations[label]
        fields = [("scope", _text(attestation.scope)), ("cid", _quoted(attestation.cid))]
        lines.append(f"  {_text(label)}: {_flow(fields)}")
    return "\n".join(lines) + "\n"


def dump_pause(pause: Pause) -> str:
    lines = _header("Pause")
    lines += [f"paused: {_bool(pause.paused)}", f"reason: {_quoted(pause.reason)}"]
    return "\n".join(lines) + "\n"


def dump_roles(roles: Mapping[str, RoleAssignment]) -> str:
    """Write the role holders by contract and role, in the order of `MANAGED_ROLES`, holders by address."""
    lines = _header("Roles")
    lines.append("contracts:" if roles else "contracts: {}")
    grouped: dict[str, dict[str, list[RoleAssignment]]] = {}
    for assignment in roles.values():
        grouped.setdefault(assignment.contract, {}).setdefault(assignment.role, []).append(assignment)
    for contract in sorted(grouped, key=_contract_order):
        lines.append(f"  {contract}:")
        for role in sorted(grouped[contract], key=_role_order):
            holders = sorted(grouped[contract][role], key=lambda each: _address_order(each.holder))
            lines.append(f"    {role}: {_flow([(_quoted(each.holder), each.status.value) for each in holders])}")
    return "\n".join(lines) + "\n"


def _contract_order(contract: str) -> tuple[int, str]:
    known = list(MANAGED_ROLES)
    return (known.index(contract) if contract in known else len(known), contract)


def _role_order(role: str) -> tuple[int, str]:
    return (0 if role == "DEFAULT_ADMIN_ROLE" else 1, role)


def dump_force_transfers(orders: Mapping[str, ForceTransfer], decimals: TokenDecimals | None = None) -> str:
    bond = decimals.security_token if decimals is not None else BOND_DECIMALS
    lines = _header("ForceTransfers")
    lines.append("orders:" if orders else "orders: {}")
    for key in sorted(orders):
        order = orders[key]
        lines += [
            f"  {_text(order.id)}:",
            f"    legal_reference: {_quoted(order.legal_reference)}",
            f"    partition: {_text(order.partition.value)}",
            f"    from: {_quoted(order.sender)}",
            f"    to: {_quoted(order.recipient)}",
            f"    amount: {_quoted(format_base_units(order.amount, bond))}",
        ]
    return "\n".join(lines) + "\n"


def dump_environment(environment: Environment) -> str:
    decimals = environment.decimals
    face_value = format_base_units(environment.face_value_usdc, decimals.usdc, min_places=decimals.usdc)
    lines = _header("Environment")
    lines += [
        f"name: {_text(environment.name)}",
        f"chain_id: {environment.chain_id}",
        f"rpc_url_env: {_text(environment.rpc_url_env)}",
        f"confirmations: {environment.confirmations}",
        f"treasury: {_quoted(environment.treasury)}",
        "contracts:",
        *(f"  {name}: {_quoted(address)}" for name, address in vars(environment.contracts).items()),
        "decimals:",
        f"  security_token: {decimals.security_token}",
        f"  usdc: {decimals.usdc}",
        f"face_value_usdc: {_quoted(face_value)}",
        "price_feeds:" if environment.price_feeds else "price_feeds: {}",
    ]
    for pair in sorted(environment.price_feeds):
        feed = environment.price_feeds[pair]
        fields = [
            ("address", _quoted(feed.address)),
            ("decimals", str(feed.decimals)),
            ("heartbeat_seconds", str(feed.heartbeat_seconds)),
        ]
        lines.append(f"  {_text(pair)}: {_flow(fields)}")
    lines += [
        "policy:",
        f"  max_revocations_per_apply: {environment.policy.max_revocations_per_apply}",
        f"  regs_lockup_days: {environment.policy.regs_lockup_days}",
    ]
    return "\n".join(lines) + "\n"


def dump_state(state: State, environment: Environment | None = None) -> dict[str, str]:
    """Render STATE (and ENVIRONMENT when given) as file name -> YAML text."""
    decimals = environment.decimals if environment is not None else None
    files = {
        FILE_NAMES["Investors"]: dump_investors(state.investors),
        FILE_NAMES["Sanctions"]: dump_sanctions(state.sanctions),
        FILE_NAMES["Allocations"]: dump_allocations(state.allocations, decimals),
        FILE_NAMES["CouponCycles"]: dump_coupon_cycles(state.coupon_cycles, decimals),
        FILE_NAMES["CapTableSnapshots"]: dump_cap_table_snapshots(state.cap_table_snapshots),
        FILE_NAMES["CustodyAttestations"]: dump_custody_attestations(state.custody_attestations),
        FILE_NAMES["Roles"]: dump_roles(state.roles),
        FILE_NAMES["ForceTransfers"]: dump_force_transfers(state.force_transfers, decimals),
    }
    # Without a pause state the pause is unmanaged, and no file says otherwise.
    if PAUSE_KEY in state.pause:
        files[FILE_NAMES["Pause"]] = dump_pause(state.pause[PAUSE_KEY])
    if environment is not None:
        files[FILE_NAMES["Environment"]] = dump_environment(environment)
    return files


def write_atomically(path: Path, text: str) -> None:
    """Replace the file at PATH with TEXT, so a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
