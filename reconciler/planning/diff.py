"""The pure diff between the desired state (YAML) and the observed state (chain).

`diff` compares only what the chain stores: for investors kyc, qib,
jurisdiction and lockup_until, but not the internal ref. For sanctions entries
it compares whether the address is blocked, not the list source or dates. For
allocations it compares partition, investor, amount, price and status, but not
the trade date, and for coupon cycles every field the contract records. For
cap-table snapshots and custody attestations it compares the CID and the
scope, not the time of recording. The pause state is compared only when the
YAML has one, and a paused token without one is drift. Role holders are
compared only when the YAML has a Roles file. Force-transfer orders are
compared field by field, not by the time of execution. It
reads no clock and no chain: the same two states always give the same sorted
changes. Deciding what a change means (a call, an error, a drift warning)
is left to `reconciler.planning.actions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.desired.diagnostics import SourcePosition
from reconciler.desired.state import DesiredState
from reconciler.model import MANAGED_ROLES, PAUSE_KEY, AllocationStatus, Pause, RoleStatus, State
from reconciler.planning.changes import Change, Kind, Operation

INVESTOR_FIELDS = ("kyc", "qib", "jurisdiction", "lockup_until")
ALLOCATION_FIELDS = ("partition", "investor", "amount", "price")
COUPON_CYCLE_FIELDS = ("period", "rate_bps", "record_date", "payment_date")
SNAPSHOT_FIELDS = ("cid",)
ATTESTATION_FIELDS = ("scope", "cid")
FORCE_TRANSFER_FIELDS = ("legal_reference", "partition", "sender", "recipient", "amount")

KIND_ORDER = {kind: index for index, kind in enumerate(Kind)}


def diff(desired: DesiredState, observed: State) -> tuple[Change, ...]:
    """Return every difference between DESIRED and OBSERVED, sorted by kind, key and field."""
    positions = desired.positions
    changes: list[Change] = []
    changes.extend(_investor_changes(desired.state, observed, positions))
    changes.extend(_sanctions_changes(desired.state, observed, positions))
    changes.extend(_allocation_changes(desired.state, observed, positions))
    changes.extend(_coupon_cycle_changes(desired.state, observed, positions))
    changes.extend(
        _record_changes(Kind.CAP_TABLE_SNAPSHOT, SNAPSHOT_FIELDS, desired.state, observed, positions)
    )
    changes.extend(
        _record_changes(Kind.CUSTODY_ATTESTATION, ATTESTATION_FIELDS, desired.state, observed, positions)
    )
    changes.extend(_pause_changes(desired.state, observed, positions))
    changes.extend(_role_changes(desired.state, observed, positions, managed="Roles" in desired.files))
    changes.extend(
        _record_changes(Kind.FORCE_TRANSFER, FORCE_TRANSFER_FIELDS, desired.state, observed, positions)
    )
    return tuple(sorted(changes, key=change_order))


def change_order(change: Change) -> tuple[int, str, str]:
    """Sort key of a change: kind in model order, then key and field."""
    return (KIND_ORDER[change.kind], item_order(change.kind, change.key), change.field)


def item_order(kind: Kind, key: str) -> str:
    """Sort key of an item: addresses case-insensitively, cycle ids by number, other ids as written."""
    if kind is Kind.COUPON_CYCLE and key.isdigit():
        return key.rjust(20, "0")
    if kind in (Kind.INVESTOR, Kind.SANCTIONS_ENTRY):
        return key.lower()
    if kind is Kind.ROLE:
        # By contract, then the admin role last, so that a plan revokes an admin's other roles first.
        contract, _, rest = key.partition("/")
        role, _, holder = rest.partition("/")
        known = list(MANAGED_ROLES)
        position = known.index(contract) if contract in known else len(known)
        return f"{position:02d}/{int(role == 'DEFAULT_ADMIN_ROLE')}/{role}/{holder.lower()}"
    return key


def _position(
    positions: Mapping[tuple[str, ...], SourcePosition], kind: Kind, key: str, field: str = ""
) -> SourcePosition | None:
    if field:
        found = positions.get((kind.value, key, field))
        if found is not None:
            return found
    return positions.get((kind.value, key))


def _field_changes(
    kind: Kind,
    key: str,
    fields: tuple[str, ...],
    desired: Any,
    observed: Any,
    positions: Mapping[tuple[str, ...], SourcePosition],
) -> Iterator[Change]:
    for name in fields:
        old, new = getattr(observed, name), getattr(desired, name)
        if old != new:
            yield Change(kind, key, name, Operation.CHANGE, old, new, _position(positions, kind, key, name))


def _removed(
    kind: Kind, desired: Mapping[str, Any], observed: Mapping[str, Any]
) -> Iterator[Change]:
    for key, item in observed.items():
        if key not in desired:
            yield Change(kind, key, "", Operation.REMOVE, item, None)


# --- one comparison per kind -------------------------------------------------


def _investor_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition]
) -> Iterator[Change]:
    kind = Kind.INVESTOR
    for address, investor in desired.investors.items():
        on_chain = observed.investors.get(address)
        if on_chain is None:
            yield Change(kind, address, "", Operation.ADD, None, investor, _position(positions, kind, address))
        else:
            yield from _field_changes(kind, address, INVESTOR_FIELDS, investor, on_chain, positions)
    yield from _removed(kind, desired.investors, observed.investors)


def _sanctions_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition]
) -> Iterator[Change]:
    # The chain stores only the set of blocked addresses: an entry is "on
    # chain" while its address is blocked, and a delisted entry matches an
    # address that is not blocked.
    kind = Kind.SANCTIONS_ENTRY
    for address, entry in desired.sanctions.items():
        blocked_on_chain = address in observed.sanctions
        if entry.blocked and not blocked_on_chain:
            yield Change(kind, address, "", Operation.ADD, None, entry, _position(positions, kind, address))
        elif not entry.blocked and blocked_on_chain:
            position = _position(positions, kind, address, "delisted_on")
            yield Change(kind, address, "blocked", Operation.CHANGE, True, False, position)
    yield from _removed(kind, desired.sanctions, observed.sanctions)


def _allocation_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition]
) -> Iterator[Change]:
    kind = Kind.ALLOCATION
    for allocation_id, allocation in desired.allocations.items():
        on_chain = observed.allocations.get(allocation_id)
        if on_chain is None:
            # A cancelled allocation that was never booked needs nothing: the
            # chain has no booking under its id, which is what cancelled means.
            if allocation.status is not AllocationStatus.CANCELLED:
                position = _position(positions, kind, allocation_id)
                yield Change(kind, allocation_id, "", Operation.ADD, None, allocation, position)
            continue
        yield from _field_changes(kind, allocation_id, ALLOCATION_FIELDS, allocation, on_chain, positions)
        # A settled booking satisfies `booked`: the investor has paid.
        settled_as_booked = (
            allocation.status is AllocationStatus.BOOKED and on_chain.status is AllocationStatus.SETTLED
        )
        if allocation.status is not on_chain.status and not settled_as_booked:
            position = _position(positions, kind, allocation_id, "status")
            yield Change(kind, allocation_id, "status", Operation.CHANGE, on_chain.status, allocation.status, position)
    yield from _removed(kind, desired.allocations, observed.allocations)


def _coupon_cycle_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition]
) -> Iterator[Change]:
    # The chain lists paid cycles only, so an unpaid cycle is an ADD whatever
    # its payment date; the actions decide whether it is due.
    kind = Kind.COUPON_CYCLE
    for cycle_id, cycle in desired.coupon_cycles.items():
        paid = observed.coupon_cycles.get(cycle_id)
        if paid is None:
            yield Change(kind, cycle_id, "", Operation.ADD, None, cycle, _position(positions, kind, cycle_id))
            continue
        yield from _field_changes(kind, cycle_id, COUPON_CYCLE_FIELDS, cycle, paid, positions)
        # Without an amount in the YAML the planner computed it when it paid,
        # from the supply of that time, which later reads cannot reproduce.
        if cycle.amount is not None and cycle.amount != paid.amount:
            position = _position(positions, kind, cycle_id, "amount")
            yield Change(kind, cycle_id, "amount", Operation.CHANGE, paid.amount, cycle.amount, position)
    yield from _removed(kind, desired.coupon_cycles, observed.coupon_cycles)


def _record_changes(
    kind: Kind,
    fields: tuple[str, ...],
    desired: State,
    observed: State,
    positions: Mapping[tuple[str, ...], SourcePosition],
) -> Iterator[Change]:
    # Cap-table snapshots and custody attestations: a record missing on chain
    # is an ADD, and a recorded one differs only by an edit the chain rejects.
    wanted: Mapping[str, Any] = getattr(desired, kind.value)
    recorded: Mapping[str, Any] = getattr(observed, kind.value)
    for key, item in wanted.items():
        on_chain = recorded.get(key)
        if on_chain is None:
            yield Change(kind, key, "", Operation.ADD, None, item, _position(positions, kind, key))
        else:
            yield from _field_changes(kind, key, fields, item, on_chain, positions)
    yield from _removed(kind, wanted, recorded)


def _pause_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition]
) -> Iterator[Change]:
    # Without a Pause file the pause is unmanaged, but a paused token is still
    # reported: something stopped every transfer and no YAML says why.
    kind = Kind.PAUSE
    wanted = desired.pause.get(PAUSE_KEY)
    actual = observed.pause.get(PAUSE_KEY, Pause(paused=False))
    if wanted is None:
        if actual.paused:
            yield Change(kind, PAUSE_KEY, "", Operation.REMOVE, actual, None)
        return
    if wanted.paused != actual.paused:
        position = _position(positions, kind, PAUSE_KEY, "paused")
        yield Change(kind, PAUSE_KEY, "paused", Operation.CHANGE, actual.paused, wanted.paused, position)


def _role_changes(
    desired: State, observed: State, positions: Mapping[tuple[str, ...], SourcePosition], *, managed: bool
) -> Iterator[Change]:
    # The chain lists granted holders only: a revoked holder in the YAML matches
    # an account without the role, and a listed holder the chain lacks is an ADD.
    kind = Kind.ROLE
    for key, assignment in desired.roles.items():
        held = key in observed.roles
        if assignment.status is RoleStatus.GRANTED and not held:
            yield Change(kind, key, "", Operation.ADD, None, assignment, _position(positions, kind, key))
        elif assignment.status is RoleStatus.REVOKED and held:
            position = _position(positions, kind, key, "status")
            yield Change(kind, key, "status", Operation.CHANGE, RoleStatus.GRANTED, RoleStatus.REVOKED, position)
    if managed:
        yield from _removed(kind, desired.roles, observed.roles)
