"""Changes -> actions: ordering, immutable facts, drift, the mass-change guard and the signer checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from planning_support import (
    DAY,
    NOW,
    OTHER,
    SIGNER,
    TOKEN,
    USDC,
    address,
    allocation,
    blocked,
    chain_view,
    cycle,
    environment,
    investor,
    observation,
    plan,
    roles,
    state,
)

from reconciler.errors import PlanError
from reconciler.model import AllocationStatus, Investor, SanctionsEntry, State
from reconciler.planning.actions import investor_word
from reconciler.planning.calls import Stage
from reconciler.planning.records import Verb

# --- ordering ----------------------------------------------------------------


def mixed_plan() -> tuple[State, State]:
    """A desired and an observed state with one change of every action type."""
    on_chain = state(
        investors=[investor(2), investor(3), investor(4), investor(5, jurisdiction="CH")],
        sanctions=[blocked(11)],
        allocations=[allocation("C-1", 5)],
    )
    wanted = state(
        investors=[
            investor(1),  # new: permissive
            investor(2, kyc=False),  # revoked: restrictive
            investor(3, qib=True),  # granted: permissive
            investor(4, lockup=NOW + 40 * DAY),  # lockup later: restrictive
            investor(5, jurisdiction="CH"),  # unchanged
        ],
        sanctions=[blocked(10), blocked(11, delisted_on=NOW)],
        allocations=[allocation("A-1", 1), allocation("C-1", 5, status=AllocationStatus.CANCELLED)],
        cycles=[cycle("1", payment_date=NOW - DAY)],
    )
    return wanted, chain_view(on_chain)


def test_transactions_follow_planning_order() -> None:
    wanted, on_chain = mixed_plan()
    result = plan(wanted, observation(on_chain, total_supply=1_000_000 * TOKEN))
    assert [transaction.function.qualified_name for transaction in result.transactions] == [
        "ComplianceRegistry.blockAddresses",
        "DvPSettlement.cancel",
        "ComplianceRegistry.setInvestors",
        "ComplianceRegistry.unblockAddresses",
        "DvPSettlement.book",
        "USDC.approve",
        "CorporateActions.payCoupon",
    ]


def test_restrictive_words_come_first_in_set_investors() -> None:
    wanted, on_chain = mixed_plan()
    result = plan(wanted, observation(on_chain, total_supply=1_000_000 * TOKEN))
    (set_investors,) = [tx for tx in result.transactions if tx.function.spec.name == "setInvestors"]
    assert [(action.key, action.stage) for action in set_investors.actions] == [
        (address(2), Stage.RESTRICTIVE),
        (address(4), Stage.RESTRICTIVE),
        (address(1), Stage.PERMISSIVE),
        (address(3), Stage.PERMISSIVE),
    ]
    assert set_investors.arguments == ([investor_word(wanted.investors[action.key]) for action in set_investors.actions],)


def test_matching_items_send_nothing() -> None:
    wanted, on_chain = mixed_plan()
    result = plan(wanted, observation(on_chain, total_supply=1_000_000 * TOKEN))
    assert address(5) not in {action.key for action in result.actions}
    assert result.verb_counts() == {
        Verb.BLOCK: 1,
        Verb.CANCEL: 1,
        Verb.UPDATE_INVESTOR: 3,
        Verb.ADD_INVESTOR: 1,
        Verb.UNBLOCK: 1,
        Verb.BOOK: 1,
        Verb.APPROVE: 1,
        Verb.PAY_COUPON: 1,
    }


@pytest.mark.parametrize(
    ("old", "new", "stage"),
    [
        (investor(1), investor(1, kyc=False), Stage.RESTRICTIVE),
        (investor(1, qib=True), investor(1), Stage.RESTRICTIVE),
        (investor(1), investor(1, jurisdiction="SG"), Stage.RESTRICTIVE),
        (investor(1), investor(1, lockup=NOW), Stage.RESTRICTIVE),
        (investor(1, lockup=NOW), investor(1, lockup=NOW + 1), Stage.RESTRICTIVE),
        (investor(1, lockup=NOW), investor(1, lockup=NOW - 1), Stage.PERMISSIVE),
        (investor(1, lockup=NOW), investor(1), Stage.PERMISSIVE),
        (investor(1, kyc=False), investor(1), Stage.PERMISSIVE),
        (investor(1, kyc=False), investor(1, qib=True, lockup=NOW), Stage.RESTRICTIVE),
    ],
    ids=["kyc-revoked", "qib-revoked", "jurisdiction", "lockup-added", "lockup-later", "lockup-earlier",
         "lockup-removed", "kyc-granted", "mixed"],
)
def test_investor_update_stage(old: Investor, new: Investor, stage: Stage) -> None:
    (action,) = plan(state([new]), observation(chain_view(state([old])))).actions
    assert action.verb is Verb.UPDATE_INVESTOR
    assert action.stage is stage


def test_investor_update_description() -> None:
    old, new = investor(1, lockup=NOW), investor(1, kyc=False, lockup=None)
    (action,) = plan(state([new]), observation(chain_view(state([old])))).actions
    assert action.description == "would change kyc true -> false, lockup_until 2026-12-01T00:00:00Z -> none"


# --- immutable facts ---------------------------------------------------------


def plan_error(wanted: State, on_chain: State, **kwargs: object) -> PlanError:
    with pytest.raises(PlanError) as raised:
        plan(wanted, observation(on_chain), **kwargs)  # type: ignore[arg-type]
    return raised.value


def test_edited_booking_terms_are_rejected_with_hint() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1)]))
    error = plan_error(state(allocations=[allocation("A-1", 1, amount=2_000 * TOKEN)]), on_chain)
    assert error.message == (
        "state/test/allocations.yaml:5:40: allocation A-1 is booked on chain with amount 1000 JINBI, "
        "but the YAML has 2000 JINBI; a booking's terms cannot be edited on chain"
    )
    assert error.hint == "cancel it with status: cancelled and book the new terms under a new id"


def test_rebooking_a_cancelled_id_is_rejected() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1, status=AllocationStatus.CANCELLED)]))
    error = plan_error(state(allocations=[allocation("A-1", 1)]), on_chain)
    assert error.message == (
        "state/test/allocations.yaml:5:70: allocation A-1 was cancelled on chain, so it cannot be booked again: "
        "a booking id is used at most once, so that a retried or replayed transaction can never book twice"
    )
    assert error.hint == "keep A-1 with status: cancelled and book the allocation under a new id"


def test_cancelling_a_settled_booking_is_rejected() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1, status=AllocationStatus.SETTLED)]))
    error = plan_error(state(allocations=[allocation("A-1", 1, status=AllocationStatus.CANCELLED)]), on_chain)
    assert error.message == (
        "state/test/allocations.yaml:5:70: allocation A-1 was settled on chain (the investor paid and received "
        "the tokens), so it cannot be cancelled, and its id is never reused"
    )


def test_edited_settled_booking_is_rejected() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1, status=AllocationStatus.SETTLED)]))
    error = plan_error(state(allocations=[allocation("A-1", 1, price=2 * USDC)]), on_chain)
    assert error.message == (
        "state/test/allocations.yaml:5:50: allocation A-1 is settled on chain with price 1.000000 USDC, "
        "but the YAML has 2.000000 USDC; a booking's terms cannot be edited on chain"
    )
    assert error.hint == 'the booking is settled and final: restore price: "1.000000", and book new terms under a new id'


def test_edited_paid_cycle_is_rejected() -> None:
    paid = replace(cycle("1", payment_date=NOW - DAY), amount=5 * USDC, paid_at=NOW - 60)
    error = plan_error(state(cycles=[cycle("1", payment_date=NOW - DAY, rate_bps=150)]), State(coupon_cycles={"1": paid}))
    assert error.message == (
        "state/test/coupons.yaml:5:30: coupon cycle 1 was paid on chain with rate_bps 125, but the YAML has 150; "
        "a paid cycle cannot be edited"
    )
    assert error.hint == "restore rate_bps: 125, and pay any correction as a new cycle under a new id"


def test_every_problem_is_reported_at_once() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1), allocation("A-2", 2, status=AllocationStatus.CANCELLED)]))
    wanted = state(allocations=[allocation("A-1", 1, price=3 * USDC), allocation("A-2", 2)])
    error = plan_error(wanted, on_chain)
    assert error.message.splitlines()[0] == "the plan has 2 problems and sends nothing:"
    assert len(error.problems) == 2
    assert error.hint == "fix each problem above, then plan again"


# --- drift -------------------------------------------------------------------


def test_unmanaged_items_are_drift_not_actions() -> None:
    on_chain = State(
        investors={address(7): Investor(address(7), "", True, False, "", None)},
        sanctions={address(8): SanctionsEntry(address(8), "", 0)},
    )
    result = plan(State(), observation(on_chain))
    assert result.actions == ()
    assert not result.has_changes
    assert [warning.message for warning in result.warnings] == [
        f"investor {address(7)} (kyc true, qib false, jurisdiction none, lockup_until none) is registered on chain "
        "but not in state/test/investors.yaml: the plan leaves it as it is",
        f"sanctions entry {address(8)} is blocked on chain but not in state/test/sanctions.yaml: "
        "the plan leaves it as it is",
    ]
    assert result.summary() == "No changes: the chain matches the YAML. 2 on-chain items not in the YAML (drift)."


# --- mass-change guard -------------------------------------------------------


def revocations(count: int) -> tuple[State, State]:
    on_chain = chain_view(state([investor(number) for number in range(1, count + 1)]))
    return state([investor(number, kyc=False) for number in range(1, count + 1)]), on_chain


def test_revocations_up_to_the_limit_pass() -> None:
    wanted, on_chain = revocations(25)
    assert len(plan(wanted, observation(on_chain)).actions) == 25


def test_revocations_over_the_limit_need_the_flag() -> None:
    wanted, on_chain = revocations(26)
    error = plan_error(wanted, on_chain)
    assert error.message == (
        "state/test/environment.yaml:30:30: the plan would revoke kyc or qib of 26 investors and unblock "
        "0 addresses: 26 in all, more than policy.max_revocations_per_apply (25) of environment test"
    )
    assert error.hint == (
        "review the plan, then rerun with --allow-mass-change, or split the change over several pull requests"
    )
    assert len(plan(wanted, observation(on_chain), allow_mass_change=True).actions) == 26


def test_unblocks_count_toward_the_limit() -> None:
    wanted, on_chain = revocations(2)
    wanted = replace(wanted, sanctions={address(50): blocked(50, delisted_on=NOW)})
    on_chain = replace(on_chain, sanctions={address(50): SanctionsEntry(address(50), "", 0)})
    with pytest.raises(PlanError, match=r"revoke kyc or qib of 2 investors and unblock 1 address: 3 in all"):
        plan(wanted, observation(on_chain), env=environment(max_revocations=2))


# --- signer checks -----------------------------------------------------------


def test_missing_role_names_role_and_contract() -> None:
    holders = roles()
    holders["compliance_registry"] = {"COMPLIANCE_OFFICER_ROLE": (OTHER,)}
    with pytest.raises(PlanError) as raised:
        plan(state([investor(1)]), observation(role_holders=holders))
    assert raised.value.message == (
        f"signer {SIGNER} does not hold COMPLIANCE_OFFICER_ROLE on ComplianceRegistry "
        "0x5FbDB2315678afecb367f032d93F642f64180aa3, which ComplianceRegistry.setInvestors needs"
    )
    assert raised.value.hint == (
        f"grant COMPLIANCE_OFFICER_ROLE to the signer, or plan with --signer set to a holder (holders: {OTHER})"
    )


def test_roles_are_checked_only_for_needed_functions() -> None:
    holders = {"compliance_registry": {"COMPLIANCE_OFFICER_ROLE": (SIGNER,)}}
    result = plan(state([investor(1)]), observation(role_holders=holders))
    assert len(result.transactions) == 1


def test_approval_must_come_from_the_treasury() -> None:
    wanted = state(cycles=[cycle("1", payment_date=NOW - DAY)])
    with pytest.raises(PlanError) as raised:
        plan(wanted, observation(total_supply=1_000 * TOKEN, role_holders=roles(OTHER)), signer=OTHER)
    assert raised.value.message == (
        f"the USDC approval for the due coupon payments must be sent by the treasury {SIGNER}, "
        f"but the signer is {OTHER}"
    )
    assert raised.value.hint == (
        "plan and apply with the treasury as signer, or have the treasury approve 12.500000 USDC for "
        "CorporateActions 0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9 first"
    )


def test_other_signer_pays_when_allowance_suffices() -> None:
    wanted = state(cycles=[cycle("1", payment_date=NOW - DAY)])
    observed = observation(total_supply=1_000 * TOKEN, allowance=13 * USDC, role_holders=roles(OTHER))
    result = plan(wanted, observed, signer=OTHER)
    assert [tx.function.qualified_name for tx in result.transactions] == ["CorporateActions.payCoupon"]
    assert result.transactions[0].sender == OTHER


# --- delistings dated after the chain's time ----------------------------------


def test_future_delisting_keeps_address_blocked() -> None:
    on_chain = chain_view(state(sanctions=[blocked(11)]))
    wanted = state(sanctions=[blocked(11, delisted_on=NOW + DAY)])

    result = plan(wanted, observation(on_chain))

    assert result.transactions == ()
    assert [warning.code for warning in result.warnings] == ["delisting-scheduled"]
    assert result.warnings[0].message == (
        f"{address(11)} is delisted on 2026-12-02, after the chain's time: "
        "it stays blocked until a plan on or after that date"
    )


def test_due_delisting_unblocks() -> None:
    on_chain = chain_view(state(sanctions=[blocked(11)]))
    wanted = state(sanctions=[blocked(11, delisted_on=NOW)])

    result = plan(wanted, observation(on_chain))

    assert [transaction.function.qualified_name for transaction in result.transactions] == [
        "ComplianceRegistry.unblockAddresses"
    ]
