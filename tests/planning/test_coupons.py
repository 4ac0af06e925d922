"""Coupon cycles: exact amounts rounded down, due by the chain's clock, approval before payment."""

from __future__ import annotations

import pytest
from planning_support import DAY, NOW, SIGNER, TOKEN, USDC, cycle, observation, plan, state

from reconciler.errors import PlanError
from reconciler.model import State
from reconciler.money import coupon_amount
from reconciler.planning.records import Verb

SUPPLY = 1_000_000 * TOKEN  # 12,500 USDC at 125 bps of a 1 USDC face value
CORPORATE_ACTIONS = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"


def due(cycle_id: str = "1", **kwargs: object) -> State:
    return state(cycles=[cycle(cycle_id, payment_date=NOW - DAY, **kwargs)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("supply", "rate_bps", "expected"),
    [
        (SUPPLY, 125, 12_500 * USDC),
        (333_333_333_333_333_333_333_333, 125, 4_166_666_666),  # 4166.6666666… rounds down
        (1, 10_000, 0),  # one base unit of the token is worth less than one of USDC
        (0, 125, 0),
    ],
    ids=["whole", "rounded-down", "dust", "no-supply"],
)
def test_coupon_amount_is_exact_and_rounded_down(supply: int, rate_bps: int, expected: int) -> None:
    assert coupon_amount(supply, 1 * USDC, rate_bps) == expected


def test_due_cycle_is_approved_then_paid() -> None:
    result = plan(due(), observation(total_supply=SUPPLY))
    approve, pay = result.transactions
    assert (approve.function.qualified_name, approve.sender, approve.arguments) == (
        "USDC.approve",
        SIGNER,
        (CORPORATE_ACTIONS, 12_500 * USDC),
    )
    written = cycle("1", payment_date=NOW - DAY)
    assert pay.function.qualified_name == "CorporateActions.payCoupon"
    assert pay.arguments == (1, written.period, 125, written.record_date, written.payment_date, 12_500 * USDC)


def test_payment_shows_the_rounding_rule() -> None:
    result = plan(due(), observation(total_supply=333_333_333_333_333_333_333_333))
    pay = [action for action in result.actions if action.verb is Verb.PAY_COUPON][0]
    assert pay.description == (
        "would pay 2026-Q2 at 125 bps (record date 2026-11-14, payment date 2026-11-30): "
        "333333.333333333333333333 JINBI x 1.000000 USDC x 125 bps / 10,000 = 4166.666666 USDC, "
        "rounded down to whole USDC base units"
    )


def test_cycle_is_due_at_its_payment_date() -> None:
    at_date = state(cycles=[cycle("1", payment_date=NOW)])
    assert plan(at_date, observation(total_supply=SUPPLY)).has_changes


def test_sufficient_allowance_needs_no_approval() -> None:
    result = plan(due(), observation(total_supply=SUPPLY, allowance=12_500 * USDC))
    assert [tx.function.qualified_name for tx in result.transactions] == ["CorporateActions.payCoupon"]


def test_short_allowance_is_raised_to_the_total() -> None:
    two_due = state(cycles=[cycle("1", payment_date=NOW - 2 * DAY), cycle("2", payment_date=NOW - DAY)])
    result = plan(two_due, observation(total_supply=SUPPLY, allowance=100 * USDC))
    assert [tx.function.qualified_name for tx in result.transactions] == [
        "USDC.approve",
        "CorporateActions.payCoupon",
        "CorporateActions.payCoupon",
    ]
    assert result.transactions[0].arguments == (CORPORATE_ACTIONS, 25_000 * USDC)
    assert [tx.arguments[0] for tx in result.transactions[1:]] == [1, 2]


def test_future_cycle_is_scheduled_not_a_change() -> None:
    future = state(cycles=[cycle("1", payment_date=NOW + DAY)])
    result = plan(future, observation(total_supply=SUPPLY))
    assert not result.has_changes
    (scheduled,) = result.scheduled
    assert (scheduled.cycle_id, scheduled.amount) == ("1", 12_500 * USDC)
    assert result.summary() == "No changes: the chain matches the YAML. 1 coupon cycle scheduled."


def test_written_amount_equal_to_computed_passes() -> None:
    result = plan(due(amount=12_500 * USDC), observation(total_supply=SUPPLY))
    assert result.transactions[-1].arguments[-1] == 12_500 * USDC


def test_written_amount_that_differs_is_rejected() -> None:
    with pytest.raises(PlanError) as raised:
        plan(due(amount=12_000 * USDC), observation(total_supply=SUPPLY))
    assert raised.value.message == (
        "state/test/coupons.yaml:5:60: coupon cycle 1: amount 12000.000000 USDC differs from the computed "
        "1000000 JINBI x 1.000000 USDC x 125 bps / 10,000 = 12500.000000 USDC, rounded down to whole USDC base units"
    )
    assert raised.value.hint == 'write amount: "12500.000000", or remove amount to let the plan compute it'


def test_scheduled_cycle_with_wrong_amount_is_rejected() -> None:
    future = state(cycles=[cycle("1", payment_date=NOW + DAY, amount=1 * USDC)])
    with pytest.raises(PlanError, match="differs from the computed"):
        plan(future, observation(total_supply=SUPPLY))


def test_due_cycle_without_supply_is_rejected() -> None:
    with pytest.raises(PlanError) as raised:
        plan(due(), observation(total_supply=0))
    assert raised.value.message == (
        "state/test/coupons.yaml:5:3: coupon cycle 1 is due since 2026-11-30, but the outstanding supply is 0 JINBI, "
        "so it would pay 0 USDC (0 JINBI x 1.000000 USDC x 125 bps / 10,000 = 0.000000 USDC, "
        "rounded down to whole USDC base units)"
    )


def test_treasury_without_funds_is_rejected() -> None:
    with pytest.raises(PlanError) as raised:
        plan(due(), observation(total_supply=SUPPLY, treasury_usdc_balance=500 * USDC))
    assert raised.value.message == (
        f"the treasury {SIGNER} holds 500.000000 USDC, but the due coupon cycles need 12500.000000 USDC"
    )
    assert raised.value.hint == "fund the treasury with at least 12000.000000 USDC more before applying"
