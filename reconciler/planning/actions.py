"""Changes -> actions: the contract calls each change needs, or the reason the chain cannot make it.

`derive_actions` applies the planning rules to the diff. Investors become
words of `ComplianceRegistry.setInvestors`, new blocks `blockAddresses` and
explicit delistings `unblockAddresses`, new allocations `DvPSettlement.book`
and `status: cancelled` on an open booking `cancel`. Edits of facts the chain
cannot change (booked terms, settled or cancelled bookings, paid cycles) become
problems with a hint, and on-chain items missing from the YAML become drift
warnings, never actions. Coupon cycles are handled in
`reconciler.planning.coupons`, and cap-table snapshots and custody
attestations in `reconciler.planning.ipfs_records`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.desired.state import DesiredState
from reconciler.model import (
    Allocation,
    AllocationStatus,
    CapTableSnapshot,
    CustodyAttestation,
    Environment,
    ForceTransfer,
    Investor,
    SanctionsEntry,
    State,
)
from reconciler.money import format_base_units
from reconciler.planning.calls import NEW_INVESTOR_GAS, UPDATED_INVESTOR_GAS, Function, Stage
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.diff import item_order
from reconciler.planning.records import (
    Action,
    PlanWarning,
    Problem,
    Verb,
    show_bool,
    show_lockup,
    show_time,
    show_tokens,
    show_usdc,
)

# The `kind:` of the YAML file that contains each collection, for messages.
YAML_KINDS = {
    Kind.INVESTOR: "Investors",
    Kind.SANCTIONS_ENTRY: "Sanctions",
    Kind.ALLOCATION: "Allocations",
    Kind.COUPON_CYCLE: "CouponCycles",
    Kind.CAP_TABLE_SNAPSHOT: "CapTableSnapshots",
    Kind.CUSTODY_ATTESTATION: "CustodyAttestations",
    Kind.PAUSE: "Pause",
    Kind.ROLE: "Roles",
    Kind.FORCE_TRANSFER: "ForceTransfers",
}

NEW_TERMS_HINT = "cancel it with status: cancelled and book the new terms under a new id"


@dataclass(frozen=True)
class Derived:
    """Actions, warnings and problems derived from the changes of one diff."""

    actions: tuple[Action, ...]
    warnings: tuple[PlanWarning, ...]
    problems: tuple[Problem, ...]


def derive_actions(desired: DesiredState, observed: State, changes: Sequence[Change]) -> Derived:
    """Turn the investor, sanctions and allocation CHANGES into actions, drift warnings and problems."""
    actions: list[Action] = []
    warnings: list[PlanWarning] = []
    problems: list[Problem] = []
    environment = desired.environment

    # Investors: one word per investor, whatever the number of changed fields.
    for address, group in _grouped(changes, Kind.INVESTOR).items():
        if group[0].operation is Operation.ADD:
            actions.append(_new_investor(group[0]))
        elif group[0].operation is Operation.CHANGE:
            actions.append(_updated_investor(desired.state.investors[address], group))

    # Sanctions entries: block new ones, unblock explicit delistings.
    for address, group in _grouped(changes, Kind.SANCTIONS_ENTRY).items():
        change = group[0]
        if change.operation is Operation.ADD:
            actions.append(_block(change))
        elif change.operation is Operation.CHANGE:
            actions.append(_unblock(desired.state.sanctions[address], change))

    # Allocations: book new ones, cancel open ones; every other edit is a problem.
    for allocation_id, group in _grouped(changes, Kind.ALLOCATION).items():
        if group[0].operation is Operation.ADD:
            if group[0].new.status is AllocationStatus.SETTLED:
                problems.append(_settled_not_booked(group[0]))
            else:
                actions.append(_book(group[0].new, group[0], environment))
        elif group[0].operation is Operation.CHANGE:
            on_chain = observed.allocations[allocation_id]
            action, found = _allocation_edit(desired.state.allocations[allocation_id], on_chain, group, environment)
            problems.extend(found)
            if action is not None:
                actions.append(action)

    # Drift: on-chain items that no YAML entry manages are reported, never changed.
    for change in changes:
        if change.operation is Operation.REMOVE:
            warnings.append(drift_warning(change, desired.files.get(YAML_KINDS[change.kind], "the YAML"), environment))

    return Derived(tuple(actions), tuple(warnings), tuple(problems))


def _grouped(changes: Sequence[Change], kind: Kind) -> dict[str, list[Change]]:
    """Group the changes of KIND by key, keeping the diff's order."""
    groups: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if change.kind is kind:
            groups[change.key].append(change)
    return groups


# --- investors ---------------------------------------------------------------


def investor_word(investor: Investor) -> int:
    """Return the packed `setInvestors` word that stores INVESTOR's chain fields."""
    return pack_investor(
        PackedInvestor(
            address=investor.address,
            kyc=investor.kyc,
            qib=investor.qib,
            jurisdiction=investor.jurisdiction or None,
            lockup_until=investor.lockup_until or 0,
        )
    )


def _new_investor(change: Change) -> Action:
    investor: Investor = change.new
    description = (
        f"would add: kyc {show_bool(investor.kyc)}, qib {show_bool(investor.qib)}, "
        f"jurisdiction {investor.jurisdiction}, lockup_until {show_lockup(investor.lockup_until)}"
    )
    return Action(
        verb=Verb.ADD_INVESTOR,
        stage=Stage.PERMISSIVE,
        function=Function.SET_INVESTORS,
        kind=Kind.INVESTOR,
        key=investor.address,
        argument=investor_word(investor),
        gas=NEW_INVESTOR_GAS,
        description=description,
        position=change.position,
        changes=(change,),
    )


def is_restrictive(change: Change) -> bool:
    """Tell whether an investor field change takes a right away: a flag true -> false,
    a lockup moved later (or added), or a new jurisdiction, whose rules the
    registry cannot know in advance."""
    if change.field in ("kyc", "qib"):
        return bool(change.old) and not change.new
    if change.field == "lockup_until":
        old = change.old or 0
        return change.new is not None and change.new > old
    return change.field == "jurisdiction"


def is_revocation(change: Change) -> bool:
    """Tell whether an investor field change revokes a flag (kyc or qib true -> false)."""
    return change.field in ("kyc", "qib") and bool(change.old) and not change.new


def _updated_investor(investor: Investor, group: list[Change]) -> Action:
    # One word carries every field, so an investor with any restrictive change
    # is written in the restrictive part of the batch.
    restrictive = any(is_restrictive(change) for change in group)
    parts = [f"{change.field} {_show_field(change.field, change.old)} -> {_show_field(change.field, change.new)}" for change in group]
    return Action(
        verb=Verb.UPDATE_INVESTOR,
        stage=Stage.RESTRICTIVE if restrictive else Stage.PERMISSIVE,
        function=Function.SET_INVESTORS,
        kind=Kind.INVESTOR,
        key=investor.address,
        argument=investor_word(investor),
        gas=UPDATED_INVESTOR_GAS,
        description="would change " + ", ".join(parts),
        position=group[0].position,
        changes=tuple(group),
    )


def _show_field(name: str, value: object) -> str:
    if name == "lockup_until":
        return show_lockup(value if isinstance(value, int) else None)
    if isinstance(value, bool):
        return show_bool(value)
    return str(value) if value else "none"


# --- sanctions ---------------------------------------------------------------


def _block(change: Change) -> Action:
    entry: SanctionsEntry = change.new
    return Action(
        verb=Verb.BLOCK,
        stage=Stage.RESTRICTIVE,
        function=Function.BLOCK_ADDRESSES,
        kind=Kind.SANCTIONS_ENTRY,
        key=entry.address,
        argument=entry.address,
        gas=Function.BLOCK_ADDRESSES.spec.item_gas,
        description=f"would block ({entry.source}, listed {show_time(entry.listed_on)})",
        position=change.position,
        changes=(change,),
    )


def _unblock(entry: SanctionsEntry, change: Change) -> Action:
    return Action(
        verb=Verb.UNBLOCK,
        stage=Stage.PERMISSIVE,
        function=Function.UNBLOCK_ADDRESSES,
        kind=Kind.SANCTIONS_ENTRY,
        key=entry.address,
        argument=entry.address,
        gas=Function.UNBLOCK_ADDRESSES.spec.item_gas,
        description=f"would unblock ({entry.source}, delisted {show_time(entry.delisted_on)})",
        position=change.position,
        changes=(change,),
    )


# --- allocations -------------------------------------------------------------


def ascii_bytes32(text: str) -> bytes:
    """Return TEXT left-aligned in 32 bytes and padded with zero bytes, as the contracts store ids."""
    raw = text.encode("ascii")
    if len(raw) > 32:
        raise ValueError(f"{text!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def _terms(allocation: Allocation, environment: Environment) -> str:
    decimals = environment.decimals
    return (
        f"{show_tokens(allocation.amount, decimals.security_token)} in {allocation.partition.value} "
        f"for {allocation.investor} at {show_usdc(allocation.price, decimals.usdc)} per token"
    )


def _book(allocation: Allocation, change: Change, environment: Environment) -> Action:
    request = (
        ascii_bytes32(allocation.id),
        ascii_bytes32(allocation.partition.value),
        allocation.investor,
        allocation.amount,
        allocation.price,
    )
    return Action(
        verb=Verb.BOOK,
        stage=Stage.DEPENDENT,
        function=Function.BOOK,
        kind=Kind.ALLOCATION,
        key=allocation.id,
        argument=request,
        gas=Function.BOOK.spec.item_gas,
        description=f"would book {_terms(allocation, environment)}",
        position=change.position,
        changes=(change,),
    )


def _allocation_edit(
    allocation: Allocation, on_chain: Allocation, group: list[Change], environment: Environment
) -> tuple[Action | None, list[Problem]]:
    """Return the cancel action an edit of an existing booking needs, or the problems of the edit."""
    label = f"allocation {allocation.id}"
    problems = [
        _term_problem(label, allocation, on_chain, change, environment)
        for change in group
        if change.field != "status"
    ]
    status_change = next((change for change in group if change.field == "status"), None)
    if status_change is None:
        return None, problems

    if on_chain.status is AllocationStatus.CANCELLED:
        problems.append(
            Problem(
                f"{label} was cancelled on chain, so it cannot be booked again: a booking id is used at "
                "most once, so that a retried or replayed transaction can never book twice",
                f"keep {allocation.id} with status: cancelled and book the allocation under a new id",
                status_change.position,
            )
        )
    elif on_chain.status is AllocationStatus.SETTLED:
        problems.append(
            Problem(
                f"{label} was settled on chain (the investor paid and received the tokens), so it cannot "
                "be cancelled, and its id is never reused",
                "restore status: settled or booked, which a settled booking satisfies; "
                "a settlement is undone only by a court-ordered force transfer",
                status_change.position,
            )
        )
    elif allocation.status is AllocationStatus.SETTLED:
        problems.append(
            Problem(
                f"{label} is settled in the YAML but only booked on chain: the investor settles a booking "
                "by paying for it, and no plan can",
                "write status: booked until the investor has settled",
                status_change.position,
            )
        )
    if problems:
        return None, problems

    action = Action(
        verb=Verb.CANCEL,
        stage=Stage.RESTRICTIVE,
        function=Function.CANCEL,
        kind=Kind.ALLOCATION,
        key=allocation.id,
        argument=ascii_bytes32(allocation.id),
        gas=Function.CANCEL.spec.item_gas,
        description=f"would cancel the booking of {_terms(on_chain, environment)}",
        position=status_change.position,
        changes=tuple(group),
    )
    return action, []


def _settled_not_booked(change: Change) -> Problem:
    return Problem(
        f"allocation {change.key} is settled in the YAML but not booked on chain: only a booking "
        "can be settled, and only by its investor",
        "write status: booked to book it, or correct the id if the settled booking has another one",
        change.position,
    )


def _term_problem(
    label: str, allocation: Allocation, on_chain: Allocation, change: Change, environment: Environment
) -> Problem:
    old, new = _show_term(change.field, change.old, environment), _show_term(change.field, change.new, environment)
    status = on_chain.status.value
    message = f"{label} is {status} on chain with {change.field} {old}, but the YAML has {new}"
    message += "; a booking's terms cannot be edited on chain"
    restore = f"{change.field}: {_yaml_term(change.field, change.old, environment)}"
    if on_chain.status is AllocationStatus.BOOKED and allocation.status is AllocationStatus.BOOKED:
        hint = NEW_TERMS_HINT
    elif on_chain.status is AllocationStatus.BOOKED:
        hint = f"restore {restore} so that the cancellation names the booked terms"
    else:
        hint = f"the booking is {status} and final: restore {restore}, and book new terms under a new id"
    return Problem(message, hint, change.position)


def _show_term(field: str, value: object, environment: Environment) -> str:
    if field == "amount" and isinstance(value, int):
        return show_tokens(value, environment.decimals.security_token)
    if field == "price" and isinstance(value, int):
        return show_usdc(value, environment.decimals.usdc)
    return str(getattr(value, "value", value))


def _yaml_term(field: str, value: object, environment: Environment) -> str:
    """Write a booking term as the YAML writes it, such as "1.000000" for a price."""
    if field == "amount" and isinstance(value, int):
        return f'"{format_base_units(value, environment.decimals.security_token)}"'
    if field == "price" and isinstance(value, int):
        usdc_decimals = environment.decimals.usdc
        return f'"{format_base_units(value, usdc_decimals, min_places=usdc_decimals)}"'
    return f'"{getattr(value, "value", value)}"'


# --- drift -------------------------------------------------------------------


def drift_warning(change: Change, file: str, environment: Environment) -> PlanWarning:
    """Describe an on-chain item that no YAML entry manages; the plan leaves it as it is."""
    item = change.old
    description = _drift_description(change.kind, item, environment)
    message = f"{change.kind.noun} {change.key} {description} on chain but not in {file}: the plan leaves it as it is"
    return PlanWarning("drift", change.kind, change.key, message)


def _drift_description(kind: Kind, item: object, environment: Environment) -> str:
    if isinstance(item, Investor):
        return (
            f"(kyc {show_bool(item.kyc)}, qib {show_bool(item.qib)}, jurisdiction {item.jurisdiction or 'none'}, "
            f"lockup_until {show_lockup(item.lockup_until)}) is registered"
        )
    if isinstance(item, Allocation):
        return f"({_terms(item, environment)}) is {item.status.value}"
    if kind is Kind.SANCTIONS_ENTRY:
        return "is blocked"
    if isinstance(item, CapTableSnapshot):
        return f"(CID {item.cid}) was recorded {show_time(item.recorded_at)}"
    if isinstance(item, CustodyAttestation):
        return f"(scope {item.scope}, CID {item.cid}) was recorded {show_time(item.attested_at)}"
    if kind is Kind.PAUSE:
        return "is paused"
    if kind is Kind.ROLE:
        return "holds the role"
    if isinstance(item, ForceTransfer):
        amount = show_tokens(item.amount, environment.decimals.security_token)
        return (
            f"({amount} of {item.partition.value} from {item.sender} to {item.recipient}, "
            f"order {item.legal_reference}) was executed {show_time(item.executed_at)}"
        )
    paid_at = getattr(item, "paid_at", None)
    return f"was paid {show_time(paid_at)}" if paid_at else "was paid"


def sorted_actions(actions: Sequence[Action]) -> list[Action]:
    """Sort actions in sending order: by function, then restrictive words first, then by key."""
    return sorted(actions, key=lambda action: (action.function.order, action.stage, _key_order(action)))


def _key_order(action: Action) -> str:
    if action.kind is Kind.FORCE_TRANSFER and action.position is not None:
        # Orders go out as the file lists them, so a later order may spend what an earlier one delivered.
        return f"{action.position.line:010d}"
    return item_order(action.kind, action.key) if action.kind is not None else action.key


def iter_revocations(actions: Sequence[Action]) -> Iterator[Action]:
    """Yield the investor updates that revoke kyc or qib."""
    for action in actions:
        if action.verb is Verb.UPDATE_INVESTOR and any(is_revocation(change) for change in action.changes):
            yield action
