"""Plan-time checks: the signer's roles, the treasury's approval and the mass-change guard.

Each check returns problems instead of raising, so a plan reports all of
them at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.desired.state import DesiredState
from reconciler.planning.actions import iter_revocations
from reconciler.planning.records import Action, Problem, Verb, show_usdc
from reconciler.planning.transactions import Transaction

RoleHolders = Mapping[str, Mapping[str, Sequence[str]]]  # contract field -> role name -> holders


def check_signer(
    transactions: Sequence[Transaction], desired: DesiredState, signer: str, roles: RoleHolders
) -> list[Problem]:
    """Return a problem for each role the plan needs that SIGNER does not hold, and for an approval it cannot send.

    Addresses compare case-insensitively.
    """
    environment = desired.environment
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for transaction in transactions:
        spec = transaction.function.spec

        # The USDC approval spends the treasury's own allowance, so only the treasury can send it.
        if spec.role is None:
            if signer.lower() != environment.treasury.lower() and ("treasury", "") not in seen:
                seen.add(("treasury", ""))
                spender, amount = transaction.arguments
                problems.append(
                    Problem(
                        f"the USDC approval for the due coupon payments must be sent by the treasury "
                        f"{environment.treasury}, but the signer is {signer}",
                        f"plan and apply with the treasury as signer, or have the treasury approve "
                        f"{show_usdc(amount, environment.decimals.usdc)} for CorporateActions {spender} first",
                    )
                )
            continue

        # Every other call needs its role on the called contract.
        if (spec.contract, spec.role) in seen:
            continue
        seen.add((spec.contract, spec.role))
        holders = tuple(roles.get(spec.contract, {}).get(spec.role, ()))
        if signer.lower() in {holder.lower() for holder in holders}:
            continue
        holder_list = f"holders: {', '.join(sorted(holders, key=str.lower))}" if holders else "no account holds it"
        problems.append(
            Problem(
                f"signer {signer} does not hold {spec.role} on {spec.contract_name} {transaction.to}, "
                f"which {transaction.function.qualified_name} needs",
                f"grant {spec.role} to the signer, or plan with --signer set to a holder ({holder_list})",
            )
        )
    return problems


def check_mass_change(actions: Sequence[Action], desired: DesiredState, allow_mass_change: bool) -> list[Problem]:
    """Return a problem when the plan revokes or unblocks more than the policy allows without --allow-mass-change.

    A revocation is an investor losing kyc or qib (one per investor); an
    unblock is one address leaving the blocked list.
    """
    revocations = sum(1 for _ in iter_revocations(actions))
    unblocks = sum(1 for action in actions if action.verb is Verb.UNBLOCK)
    limit = desired.environment.policy.max_revocations_per_apply
    if allow_mass_change or revocations + unblocks <= limit:
        return []
    return [
        Problem(
            f"the plan would revoke kyc or qib of {revocations} "
            f"{'investor' if revocations == 1 else 'investors'} and unblock {unblocks} "
            f"{'address' if unblocks == 1 else 'addresses'}: {revocations + unblocks} in all, more than "
            f"policy.max_revocations_per_apply ({limit}) of environment {desired.environment.name}",
            "review the plan, then rerun with --allow-mass-change, or split the change over several pull requests",
            desired.positions.get(("environment", "policy", "max_revocations_per_apply")),
        )
    ]
