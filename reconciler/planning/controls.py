"""Pause, role and force-transfer changes -> actions, and the checks that keep them safe.

`control_actions` turns the diff's changes of the Pause, Roles and
ForceTransfers files into calls. A pause is sent first and an unpause with
the permissive calls. `grantRole` comes before every call that may need the
role, and `revokeRole` after every other call but force transfers.
`forceTransfer` is always last. The plan is rejected when it would leave a
contract without a DEFAULT_ADMIN_ROLE holder, edit an executed order, or
move more than the sender holds in the partition. `check_role_sequence`
walks a whole plan in sending order and rejects a call whose role the
signer loses to an earlier revocation of the same plan, or gains only after
the call. `reconciler.planning.plan` calls both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from reconciler.desired.rules import US_JURISDICTIONS
from reconciler.desired.state import DesiredState
from reconciler.desired.values import ZERO_ADDRESS
from reconciler.model import PAUSE_KEY, Environment, ForceTransfer, Partition, RoleAssignment, State
from reconciler.money import format_base_units
from reconciler.planning.actions import ascii_bytes32, sorted_actions
from reconciler.planning.calls import FORCE_TRANSFER_GAS, Function, Stage, stored_strings_gas
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.checks import RoleHolders
from reconciler.planning.records import Action, PlanWarning, Problem, Verb, show_time, show_tokens

ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"
T = TypeVar("T")

# The grantRole and revokeRole function of each contract that has managed roles.
GRANTS = {function.spec.contract: function for function in Function if function.spec.name == "grantRole"}
REVOKES = {function.spec.contract: function for function in Function if function.spec.name == "revokeRole"}

# The YAML names of the force-transfer fields that the model names otherwise.
ORDER_FIELD_NAMES = {"sender": "from", "recipient": "to"}


@dataclass(frozen=True)
class ControlOutcome:
    actions: tuple[Action, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[PlanWarning, ...] = ()


def role_id(name: str) -> bytes:
    """Return the bytes32 id of role NAME: keccak256 of the name, and zero for DEFAULT_ADMIN_ROLE."""
    return bytes(32) if name == ADMIN_ROLE else keccak(text=name)


def control_actions(
    desired: DesiredState,
    changes: Sequence[Change],
    roles: RoleHolders,
    balances: Mapping[tuple[str, str], int],
    observed: State | None = None,
) -> ControlOutcome:
    """Turn the pause, role and force-transfer CHANGES into actions, or the problems that stop them.

    ROLES are the holders on chain; BALANCES the partition balances read
    for the senders of pending orders, by (partition, holder). An order whose
    sender is missing from BALANCES is not checked here (the token checks it).
    With OBSERVED, the chain's state, each pending order is also checked
    against the compliance of its recipient and against the executed orders,
    and what a reviewer should see becomes a warning.
    """
    environment = desired.environment
    actions: list[Action] = []
    problems: list[Problem] = []
    for change in changes:
        if change.operation is Operation.REMOVE:
            continue  # drift, reported with the other kinds
        if change.kind is Kind.PAUSE:
            actions.append(_pause(desired, change))
        elif change.kind is Kind.ROLE:
            actions.append(_role_action(desired.state.roles[change.key], change, environment))
        elif change.kind is Kind.FORCE_TRANSFER and change.operation is Operation.ADD:
            actions.append(_force_transfer(change.new, change, environment))
        elif change.kind is Kind.FORCE_TRANSFER:
            problems.append(_executed_order_edit(change, environment))

    problems.extend(_last_admin_problems(actions, roles, desired))
    problems.extend(_balance_problems(sorted_actions(actions), balances, environment))
    warnings = _order_warnings(actions, desired, observed) if observed is not None else []
    return ControlOutcome(tuple(actions), tuple(problems), tuple(warnings))


# --- pause -------------------------------------------------------------------


def _pause(desired: DesiredState, change: Change) -> Action:
    reason = desired.state.pause[PAUSE_KEY].reason
    pausing = bool(change.new)
    function = Function.PAUSE if pausing else Function.UNPAUSE
    return Action(
        verb=Verb.PAUSE if pausing else Verb.UNPAUSE,
        stage=Stage.RESTRICTIVE if pausing else Stage.PERMISSIVE,
        function=function,
        kind=Kind.PAUSE,
        key=PAUSE_KEY,
        argument=(),
        gas=function.spec.item_gas,
        description=(
            f"would {'pause every transfer and issuance of' if pausing else 'unpause'} the token "
            f"{desired.environment.contracts.security_token}, reason: {reason}"
        ),
        position=change.position,
        changes=(change,),
    )


# --- roles -------------------------------------------------------------------


def _role_action(assignment: RoleAssignment, change: Change, environment: Environment) -> Action:
    granting = change.operation is Operation.ADD
    function = (GRANTS if granting else REVOKES)[assignment.contract]
    where = f"{function.spec.contract_name} {getattr(environment.contracts, assignment.contract)}"
    return Action(
        verb=Verb.GRANT_ROLE if granting else Verb.REVOKE_ROLE,
        stage=Stage.PERMISSIVE if granting else Stage.RESTRICTIVE,
        function=function,
        kind=Kind.ROLE,
        key=assignment.key,
        argument=(role_id(assignment.role), assignment.holder),
        gas=function.spec.item_gas,
        description=(
            f"would grant {assignment.role} on {where} to {assignment.holder}"
            if granting
            else f"would revoke {assignment.role} on {where} from {assignment.holder}"
        ),
        position=change.position,
        changes=(change,),
    )


def _last_admin_problems(actions: Sequence[Action], roles: RoleHolders, desired: DesiredState) -> list[Problem]:
    """Return a problem for revocations that leave a contract without an admin that can send transactions."""
    admins = {contract: {holder.lower() for holder in by_role.get(ADMIN_ROLE, ())} for contract, by_role in roles.items()}
    revoked: dict[str, list[Action]] = defaultdict(list)
    for action in actions:
        if action.kind is not Kind.ROLE:
            continue
        assignment = desired.state.roles[action.key]
        if assignment.role != ADMIN_ROLE:
            continue
        holders = admins.setdefault(assignment.contract, set())
        if action.verb is Verb.GRANT_ROLE:
            holders.add(assignment.holder.lower())
        else:
            holders.discard(assignment.holder.lower())
            revoked[assignment.contract].append(action)

    # The suite's contracts, the price feeds and the zero address never send a grantRole: they do not count as admins.
    environment = desired.environment
    unusable = {str(getattr(environment.contracts, field.name)).lower() for field in fields(environment.contracts)}
    unusable |= {feed.address.lower() for feed in environment.price_feeds.values()} | {ZERO_ADDRESS}

    problems = []
    for contract, revocations in sorted(revoked.items()):
        remaining = admins[contract] - unusable
        if remaining:
            continue
        last = revocations[-1]
        revoked_holders = ", ".join(desired.state.roles[action.key].holder for action in revocations)
        unusable_admins = admins[contract] & unusable
        if unusable_admins:
            consequence = (
                f"which leaves as admin only {', '.join(sorted(map(to_checksum_address, unusable_admins)))}, which cannot send transactions: "
                "nobody could grant or revoke its roles again"
            )
        else:
            consequence = (
                "which leaves the contract without any admin: nobody could grant or revoke its roles again, "
                "and the contract itself refuses it"
            )
        problems.append(
            Problem(
                f"the plan would revoke {ADMIN_ROLE} on {last.function.spec.contract_name} from {revoked_holders}, "
                f"{consequence}",
                f"write granted for at least one {ADMIN_ROLE} holder of {contract} that is an account or a "
                "Safe, not a contract of the suite or a price feed (a new admin is granted before any revocation "
                "is sent)",
                last.position,
            )
        )
    return problems


def check_role_sequence(actions: Sequence[Action], roles: RoleHolders, signer: str) -> list[Problem]:
    """Return a problem for each call whose role SIGNER lacks at its turn but has at another point of the plan.

    The plan's own grants and revocations change the signer's roles as its
    calls go out in sending order. A role the signer never has is left to
    `reconciler.planning.checks.check_signer`.
    """
    signer_lower = signer.lower()
    signer_roles = {
        (contract, role)
        for contract, by_role in roles.items()
        for role, holders in by_role.items()
        if signer_lower in {holder.lower() for holder in holders}
    }
    ordered = sorted_actions(actions)
    roles_in_plan = set(signer_roles) | {
        (_assignment_contract(action), _assignment_role(action))
        for action in ordered
        if action.verb is Verb.GRANT_ROLE and _assignment_holder(action) == signer_lower
    }
    revoked_by: dict[tuple[str, str], Action] = {}
    problems: list[Problem] = []
    reported: set[tuple[str, str]] = set()
    for action in ordered:
        spec = action.function.spec
        needed = (spec.contract, spec.role) if spec.role is not None else None
        if needed is not None and needed not in signer_roles and needed in roles_in_plan and needed not in reported:
            reported.add(needed)
            problems.append(_sequence_problem(action, needed, revoked_by.get(needed), signer))

        # The plan's own role changes take effect for the calls after them.
        if action.kind is Kind.ROLE and _assignment_holder(action) == signer_lower:
            pair = (_assignment_contract(action), _assignment_role(action))
            if action.verb is Verb.GRANT_ROLE:
                signer_roles.add(pair)
            else:
                signer_roles.discard(pair)
                revoked_by[pair] = action
    return problems


def _sequence_problem(action: Action, needed: tuple[str, str], revocation: Action | None, signer: str) -> Problem:
    contract, role = needed
    call = f"{action.function.qualified_name} for {action.key}"
    if revocation is not None:
        return Problem(
            f"the plan revokes {role} on {contract} from its signer {signer} before {call}, which needs that role",
            f"keep {role} granted to {signer} in this change and revoke it in a later one, "
            "or plan with another signer that holds the role",
            revocation.position,
        )
    return Problem(
        f"{call} needs {role} on {contract}, which the plan grants its signer {signer} only after that call",
        f"apply the grant of {role} first, in a change of its own, then this one",
        action.position,
    )


def _role_parts(action: Action) -> tuple[str, str, str]:
    contract, _, rest = action.key.partition("/")
    role, _, holder = rest.partition("/")
    return contract, role, holder


def _assignment_contract(action: Action) -> str:
    return _role_parts(action)[0]


def _assignment_role(action: Action) -> str:
    return _role_parts(action)[1]


def _assignment_holder(action: Action) -> str:
    return _role_parts(action)[2].lower()


def roles_after_grants(roles: RoleHolders, actions: Sequence[Action]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Return ROLES with the holders that the plan's grants add, for the signer check."""
    result = {contract: {role: tuple(holders) for role, holders in by_role.items()} for contract, by_role in roles.items()}
    for action in actions:
        if action.verb is Verb.GRANT_ROLE:
            contract, role, holder = _role_parts(action)
            by_role = result.setdefault(contract, {})
            by_role[role] = (*by_role.get(role, ()), holder)
    return result


# --- force transfers ---------------------------------------------------------


def _force_transfer(order: ForceTransfer, change: Change, environment: Environment) -> Action:
    arguments = (
        ascii_bytes32(order.id),
        ascii_bytes32(order.partition.value),
        order.sender,
        order.recipient,
        order.amount,
        order.legal_reference,
    )
    return Action(
        verb=Verb.FORCE_TRANSFER,
        stage=Stage.DEPENDENT,
        function=Function.FORCE_TRANSFER,
        kind=Kind.FORCE_TRANSFER,
        key=order.id,
        argument=arguments,
        gas=FORCE_TRANSFER_GAS + stored_strings_gas(order.legal_reference),
        description=(
            f"COURT-ORDERED FORCE TRANSFER: would move {show_tokens(order.amount, environment.decimals.security_token)} "
            f"of {order.partition.value} from {order.sender} to {order.recipient} without their consent, "
            f"by order {order.legal_reference}"
        ),
        position=change.position,
        changes=(change,),
    )


def _executed_order_edit(change: Change, environment: Environment) -> Problem:
    name = ORDER_FIELD_NAMES.get(change.field, change.field)
    old, new, written = str(change.old), str(change.new), f'"{change.old}"'
    if change.field == "amount":
        decimals = environment.decimals.security_token
        old, new = show_tokens(change.old, decimals), show_tokens(change.new, decimals)
        written = f'"{format_base_units(change.old, decimals)}"'
    elif change.field == "partition":
        old, new, written = change.old.value, change.new.value, change.old.value
    return Problem(
        f"force-transfer order {change.key} was executed on chain with {name} {old}, but the YAML has {new}; "
        "an executed order is a fact and cannot be edited",
        f"restore {name}: {written}, and write any further court order under a new id",
        change.position,
    )


def _order_warnings(actions: Sequence[Action], desired: DesiredState, observed: State) -> list[PlanWarning]:
    """Warn about pending orders to a recipient the registry would refuse, and about repeats of executed orders.

    A court order may override compliance, so neither stops the plan; the
    reviewer must see it. The recipient is judged as the plan leaves the
    registry: the YAML's investor or sanctions entry, or else the chain's.
    """
    def lookup(wanted: Mapping[str, T], found: Mapping[str, T], address: str) -> T | None:
        for collection in (wanted, found):
            for key, value in collection.items():
                if key.lower() == address.lower():
                    return value
        return None

    decimals = desired.environment.decimals.security_token
    warnings: list[PlanWarning] = []
    for action in actions:
        if action.verb is not Verb.FORCE_TRANSFER:
            continue
        order = desired.state.force_transfers[action.key]
        label, to = f"force-transfer order {order.id}", order.recipient
        findings = []
        entry = lookup(desired.state.sanctions, observed.sanctions, to)
        if entry is not None and entry.blocked:
            findings.append(f"moves tokens to {to}, which is blocked ({entry.source})")
        investor = lookup(desired.state.investors, observed.investors, to)
        if investor is None or not investor.kyc:
            findings.append(f"moves tokens to {to}, which is not a KYC'd investor in the compliance registry")
        elif order.partition is Partition.RULE_144A and not investor.qib:
            findings.append(f"moves 144A tokens to {to}, which is not a qualified institutional buyer (qib: false)")
        elif order.partition is Partition.REG_S and investor.jurisdiction in US_JURISDICTIONS:
            findings.append(f"moves RegS tokens to {to}, whose jurisdiction {investor.jurisdiction} is in the United States")
        warnings.extend(
            PlanWarning("force-transfer-compliance", Kind.FORCE_TRANSFER, order.id,
                        f"{label} {finding}: check that the court order names this account and overrides compliance")
            for finding in findings
        )  # fmt: skip
        for executed in sorted(observed.force_transfers.values(), key=lambda item: item.id):
            if (executed.legal_reference, executed.partition, executed.amount) == (
                order.legal_reference, order.partition, order.amount
            ) and (executed.sender.lower(), executed.recipient.lower()) == (order.sender.lower(), to.lower()):
                warnings.append(
                    PlanWarning(
                        "force-transfer-repeat",
                        Kind.FORCE_TRANSFER,
                        order.id,
                        f"{label} repeats order {executed.id}, executed on chain on {show_time(executed.executed_at)} "
                        f"with the same legal reference, partition, accounts and amount "
                        f"({show_tokens(order.amount, decimals)}): check that the court ordered a second transfer",
                    )
                )
    return warnings


def _balance_problems(
    actions: Sequence[Action], balances: Mapping[tuple[str, str], int], environment: Environment
) -> list[Problem]:
    """Return a problem for each sender whose partition balance is less than the plan's orders take from it.

    The orders are followed in the order they are sent, so tokens that an
    earlier order moves to a later order's sender count for that later order.
    """
    running = dict(balances)  # (partition, holder) -> balance at this point of the plan, for the holders read
    sent_orders: dict[tuple[str, str], list[Action]] = defaultdict(list)
    short: dict[tuple[str, str], int] = {}  # what the sender had for its orders up to the first that falls short
    for action in actions:
        if action.verb is not Verb.FORCE_TRANSFER:
            continue
        partition = action.argument[1].rstrip(b"\0").decode("ascii")
        sender, recipient, amount = action.argument[2], action.argument[3], action.argument[4]
        source = (partition, sender)
        if source in short or source not in running:
            continue
        sent_orders[source].append(action)
        if running[source] < amount:
            short[source] = running[source] + sum(order.argument[4] for order in sent_orders[source][:-1])
            continue
        running[source] -= amount
        if (partition, recipient) in running:
            running[(partition, recipient)] += amount

    decimals = environment.decimals.security_token
    problems = []
    for (partition, sender), balance in sorted(short.items()):
        orders = sent_orders[(partition, sender)]
        needed = sum(action.argument[4] for action in orders)
        ids = ", ".join(action.key for action in orders)
        received = " with what earlier orders of the plan move to it" if balance != balances[(partition, sender)] else ""
        problems.append(
            Problem(
                f"force-transfer {'order' if len(orders) == 1 else 'orders'} {ids} would move "
                f"{show_tokens(needed, decimals)} of {partition} from {sender}, which holds "
                f"{show_tokens(balance, decimals)} of {partition}{received}",
                "check the amount and the partition against the court order; the token refuses a transfer "
                "larger than the balance",
                orders[0].position,
            )
        )
    return problems
