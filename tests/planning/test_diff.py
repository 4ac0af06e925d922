"""The pure diff: one change record per chain-visible difference, nothing for what matches."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from planning_support import (
    DAY,
    FILES,
    NOW,
    TOKEN,
    USDC,
    address,
    allocation,
    blocked,
    chain_view,
    cycle,
    desired,
    investor,
    observation,
    plan,
    state,
)

from reconciler.desired.diagnostics import SourcePosition
from reconciler.model import AllocationStatus, Investor, Partition, SanctionsEntry, State
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.diff import diff

INVESTORS = FILES["Investors"]


def changes(desired_model: State, observed: State) -> tuple[Change, ...]:
    return diff(desired(desired_model), observed)


# --- investors ---------------------------------------------------------------


def test_new_investor_is_add_with_position() -> None:
    new = investor(1, qib=True, jurisdiction="US")
    assert changes(state([new]), State()) == (
        Change(Kind.INVESTOR, new.address, "", Operation.ADD, None, new, SourcePosition(INVESTORS, 5, 3)),
    )


def test_changed_flag_is_change_of_that_field() -> None:
    desired_model = state([investor(1, kyc=False)])
    observed = chain_view(state([investor(1, kyc=True)]))
    assert changes(desired_model, observed) == (
        Change(Kind.INVESTOR, address(1), "kyc", Operation.CHANGE, True, False, SourcePosition(INVESTORS, 5, 30)),
    )


def test_every_changed_field_is_reported_in_field_order() -> None:
    desired_model = state([investor(1, kyc=False, qib=True, jurisdiction="CH", lockup=NOW)])
    observed = chain_view(state([investor(1)]))
    assert [(each.field, each.old, each.new) for each in changes(desired_model, observed)] == [
        ("jurisdiction", "DE", "CH"),
        ("kyc", True, False),
        ("lockup_until", None, NOW),
        ("qib", False, True),
    ]


def test_ref_is_not_compared() -> None:
    model = state([investor(1)])
    observed = State(investors={address(1): replace(model.investors[address(1)], ref="")})
    assert changes(model, observed) == ()


def test_investor_only_on_chain_is_remove() -> None:
    on_chain = Investor(address(2), "", True, False, "", None)
    assert changes(State(), State(investors={on_chain.address: on_chain})) == (
        Change(Kind.INVESTOR, address(2), "", Operation.REMOVE, on_chain, None, None),
    )


# --- sanctions ---------------------------------------------------------------


def test_new_block_is_add() -> None:
    entry = blocked(3)
    assert [(each.operation, each.key) for each in changes(state(sanctions=[entry]), State())] == [
        (Operation.ADD, address(3))
    ]


def test_delisted_but_blocked_is_change_of_blocked() -> None:
    entry = blocked(3, delisted_on=NOW)
    on_chain = State(sanctions={address(3): SanctionsEntry(address(3), "", 0)})
    (change,) = changes(state(sanctions=[entry]), on_chain)
    assert (change.field, change.operation, change.old, change.new) == ("blocked", Operation.CHANGE, True, False)
    assert change.position == SourcePosition(FILES["Sanctions"], 5, 40)  # delisted_on


@pytest.mark.parametrize(
    ("entry", "blocked_on_chain"),
    [(blocked(3), True), (blocked(3, delisted_on=NOW), False)],
    ids=["blocked-both", "delisted-not-blocked"],
)
def test_matching_sanctions_entry_is_no_change(entry: SanctionsEntry, blocked_on_chain: bool) -> None:
    on_chain = State(sanctions={address(3): SanctionsEntry(address(3), "", 0)} if blocked_on_chain else {})
    assert changes(state(sanctions=[entry]), on_chain) == ()


def test_block_only_on_chain_is_remove() -> None:
    on_chain = SanctionsEntry(address(4), "", 0)
    assert changes(State(), State(sanctions={address(4): on_chain})) == (
        Change(Kind.SANCTIONS_ENTRY, address(4), "", Operation.REMOVE, on_chain, None, None),
    )


# --- allocations -------------------------------------------------------------


def test_new_booking_is_add() -> None:
    new = allocation("A-1", 1)
    assert changes(state(allocations=[new]), State()) == (
        Change(Kind.ALLOCATION, "A-1", "", Operation.ADD, None, new, SourcePosition(FILES["Allocations"], 5, 3)),
    )


def test_cancelled_and_never_booked_is_no_change() -> None:
    assert changes(state(allocations=[allocation("A-1", 1, status=AllocationStatus.CANCELLED)]), State()) == ()


def test_settled_satisfies_booked() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1, status=AllocationStatus.SETTLED)]))
    assert changes(state(allocations=[allocation("A-1", 1)]), on_chain) == ()


def test_trade_date_is_not_compared() -> None:
    on_chain = State(allocations={"A-1": replace(allocation("A-1", 1), trade_date=0)})
    assert changes(state(allocations=[allocation("A-1", 1)]), on_chain) == ()


def test_edited_terms_and_status_are_changes() -> None:
    on_chain = chain_view(state(allocations=[allocation("A-1", 1)]))
    edited = allocation("A-1", 1, amount=2_000 * TOKEN, partition=Partition.RULE_144A, status=AllocationStatus.CANCELLED)
    assert [(each.field, each.old, each.new) for each in changes(state(allocations=[edited]), on_chain)] == [
        ("amount", 1_000 * TOKEN, 2_000 * TOKEN),
        ("partition", Partition.REG_S, Partition.RULE_144A),
        ("status", AllocationStatus.BOOKED, AllocationStatus.CANCELLED),
    ]


# --- coupon cycles -----------------------------------------------------------


def test_unpaid_cycle_is_add_whatever_its_date() -> None:
    due, future = cycle("1", payment_date=NOW - 1), cycle("2", payment_date=NOW + 1)
    assert [(each.key, each.operation) for each in changes(state(cycles=[due, future]), State())] == [
        ("1", Operation.ADD),
        ("2", Operation.ADD),
    ]


def test_paid_cycle_without_amount_in_yaml_matches() -> None:
    written = cycle("1", payment_date=NOW - DAY)
    paid = replace(written, amount=123 * USDC, paid_at=NOW)
    assert changes(state(cycles=[written]), State(coupon_cycles={"1": paid})) == ()


def test_paid_cycle_edits_are_changes() -> None:
    written = cycle("1", payment_date=NOW - DAY, rate_bps=150, amount=99 * USDC)
    paid = replace(cycle("1", payment_date=NOW - DAY), amount=123 * USDC, paid_at=NOW)
    assert [(each.field, each.old, each.new) for each in changes(state(cycles=[written]), State(coupon_cycles={"1": paid}))] == [
        ("amount", 123 * USDC, 99 * USDC),
        ("rate_bps", 125, 150),
    ]


def test_changes_are_sorted_by_kind_then_key() -> None:
    desired_model = state(
        investors=[investor(2), investor(1)],
        sanctions=[blocked(9)],
        allocations=[allocation("B", 1), allocation("A", 2)],
        cycles=[cycle("10", payment_date=NOW), cycle("9", payment_date=NOW)],
    )
    assert [(each.kind, each.key) for each in changes(desired_model, State())] == [
        (Kind.INVESTOR, address(1)),
        (Kind.INVESTOR, address(2)),
        (Kind.SANCTIONS_ENTRY, address(9)),
        (Kind.ALLOCATION, "A"),
        (Kind.ALLOCATION, "B"),
        (Kind.COUPON_CYCLE, "9"),
        (Kind.COUPON_CYCLE, "10"),
    ]



# --- property: a state planned against itself is empty -----------------------

_jurisdictions = st.sampled_from(["DE", "CH", "SG", "JP", "GB"])
_statuses = st.sampled_from(list(AllocationStatus))


@st.composite
def states(draw: st.DrawFn) -> State:
    numbers = draw(st.lists(st.integers(1, 60), unique=True, max_size=12))
    investors = [
        investor(
            number,
            kyc=draw(st.booleans()),
            qib=draw(st.booleans()),
            jurisdiction=draw(_jurisdictions),
            lockup=draw(st.none() | st.integers(1, 2**40)),
        )
        for number in numbers
    ]
    sanctions = [
        blocked(number, delisted_on=draw(st.none() | st.just(NOW)))
        for number in draw(st.lists(st.integers(100, 130), unique=True, max_size=6))
    ]
    allocations = [
        allocation(f"A-{index}", number, amount=draw(st.integers(1, 10**30)), status=draw(_statuses))
        for index, number in enumerate(numbers[:6])
    ]
    cycles = [
        cycle(str(cycle_id), payment_date=NOW - cycle_id * DAY, amount=draw(st.none() | st.integers(1, 10**12)))
        for cycle_id in draw(st.lists(st.integers(1, 40), unique=True, max_size=4))
    ]
    return state(investors, sanctions, allocations, cycles)


@settings(max_examples=60, deadline=None)
@given(states())
@example(State())
def test_state_against_itself_is_empty(model: State) -> None:
    observed = chain_view(model)
    assert changes(model, observed) == ()
    result = plan(model, observation(observed))
    assert result.actions == ()
    assert result.transactions == ()
    assert result.scheduled == ()
    assert result.warnings == ()
    assert not result.has_changes
