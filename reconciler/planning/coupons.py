"""Coupon cycles -> the USDC approval and the payments, or the schedule.

A coupon pays `outstanding supply x face value x rate_bps / 10,000` in USDC
base units, rounded down (`reconciler.money.coupon_amount`), so the issuer
never pays more than the rate. The supply is the token's total supply at the
plan's block. An unpaid cycle is paid once the chain's time (the block's
timestamp, never the host's clock) has reached its payment date. Until then it
is listed as scheduled with the amount it would pay, and is not a change. A
paid cycle is a fact: an edit of it is a problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.desired.state import DesiredState
from reconciler.model import CouponCycle, Environment
from reconciler.money import coupon_amount, format_base_units
from reconciler.planning.calls import Function, Stage
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.records import Action, Problem, ScheduledCoupon, Verb, show_time, show_usdc

# NOTE: the supply is read at the plan's block, not at the record date: the
# contracts keep no history of balances, so a coupon planned after more
# settlements pays on the larger supply.


@dataclass(frozen=True)
class CouponInputs:
    """Chain values the coupon rules use, all read at the plan's block."""

    block_timestamp: int
    total_supply: int  # bond base units
    treasury_usdc_balance: int
    usdc_allowance: int  # of the treasury to CorporateActions


@dataclass(frozen=True)
class CouponOutcome:
    actions: tuple[Action, ...]
    scheduled: tuple[ScheduledCoupon, ...]
    problems: tuple[Problem, ...]


def rounding_rule(environment: Environment, supply: int, rate_bps: int, amount: int) -> str:
    """Show how AMOUNT follows from the supply, the face value and the rate, and how it was rounded."""
    decimals = environment.decimals
    return (
        f"{format_base_units(supply, decimals.security_token)} JINBI x "
        f"{show_usdc(environment.face_value_usdc, decimals.usdc)} x {rate_bps} bps / 10,000 = "
        f"{show_usdc(amount, decimals.usdc)}, rounded down to whole USDC base units"
    )


def coupon_actions(desired: DesiredState, inputs: CouponInputs, changes: Sequence[Change]) -> CouponOutcome:
    """Pay the due cycles of CHANGES, schedule the others, and reject edits of paid cycles."""
    environment = desired.environment
    payments: list[Action] = []
    scheduled: list[ScheduledCoupon] = []
    problems: list[Problem] = []

    for change in changes:
        if change.kind is not Kind.COUPON_CYCLE:
            continue
        if change.operation is Operation.CHANGE:
            problems.append(_paid_cycle_edit(change, environment))
            continue
        if change.operation is not Operation.ADD:
            continue  # REMOVE is drift, reported with the other kinds

        # Compute the amount and check one written in the YAML against it.
        cycle: CouponCycle = change.new
        amount = coupon_amount(
            inputs.total_supply,
            environment.face_value_usdc,
            cycle.rate_bps,
            bond_decimals=environment.decimals.security_token,
        )
        rule = rounding_rule(environment, inputs.total_supply, cycle.rate_bps, amount)
        if cycle.amount is not None and cycle.amount != amount:
            problems.append(_amount_mismatch(desired, cycle, amount, rule))
            continue

        # Pay it only once the chain's time has reached the payment date.
        if inputs.block_timestamp < cycle.payment_date:
            scheduled.append(
                ScheduledCoupon(
                    cycle.id, cycle.period, cycle.rate_bps, cycle.payment_date, amount, rule, change.position
                )
            )
        elif amount == 0:
            problems.append(
                Problem(
                    f"coupon cycle {cycle.id} is due since {show_time(cycle.payment_date)}, but the outstanding "
                    f"supply is 0 JINBI, so it would pay 0 USDC ({rule})",
                    "settle allocations before the payment date, or move the cycle's payment_date later",
                    change.position,
                )
            )
        else:
            payments.append(_payment(cycle, amount, rule, change))

    actions = _approval(environment, inputs, payments, problems) + payments
    return CouponOutcome(tuple(actions), tuple(scheduled), tuple(problems))


def _payment(cycle: CouponCycle, amount: int, rule: str, change: Change) -> Action:
    arguments = (int(cycle.id), cycle.period, cycle.rate_bps, cycle.record_date, cycle.payment_date, amount)
    return Action(
        verb=Verb.PAY_COUPON,
        stage=Stage.DEPENDENT,
        function=Function.PAY_COUPON,
        kind=Kind.COUPON_CYCLE,
        key=cycle.id,
        argument=arguments,
        gas=Function.PAY_COUPON.spec.item_gas,
        description=(
            f"would pay {cycle.period} at {cycle.rate_bps} bps (record date {show_time(cycle.record_date)}, "
            f"payment date {show_time(cycle.payment_date)}): {rule}"
        ),
        position=change.position,
        changes=(change,),
    )


def _approval(
    environment: Environment, inputs: CouponInputs, payments: list[Action], problems: list[Problem]
) -> list[Action]:
    """Return the approval the payments need from the treasury, if its allowance is short."""
    total = sum(action.argument[-1] for action in payments)
    if not total:
        return []
    usdc_decimals = environment.decimals.usdc
    if inputs.treasury_usdc_balance < total:
        problems.append(
            Problem(
                f"the treasury {environment.treasury} holds {show_usdc(inputs.treasury_usdc_balance, usdc_decimals)}, "
                f"but the due coupon cycles need {show_usdc(total, usdc_decimals)}",
                f"fund the treasury with at least {show_usdc(total - inputs.treasury_usdc_balance, usdc_decimals)} "
                "more before applying",
            )
        )
    if inputs.usdc_allowance >= total:
        return []
    corporate_actions = environment.contracts.corporate_actions
    return [
        Action(
            verb=Verb.APPROVE,
            stage=Stage.DEPENDENT,
            function=Function.APPROVE,
            kind=None,
            key=corporate_actions,
            argument=(corporate_actions, total),
            gas=Function.APPROVE.spec.item_gas,
            description=(
                f"would let CorporateActions {corporate_actions} draw {show_usdc(total, usdc_decimals)} from the "
                f"treasury {environment.treasury} (allowance now {show_usdc(inputs.usdc_allowance, usdc_decimals)})"
            ),
            position=None,
        )
    ]


def _amount_mismatch(desired: DesiredState, cycle: CouponCycle, amount: int, rule: str) -> Problem:
    assert cycle.amount is not None
    usdc_decimals = desired.environment.decimals.usdc
    position = desired.positions.get((Kind.COUPON_CYCLE.value, cycle.id, "amount"))
    written = format_base_units(amount, usdc_decimals, min_places=usdc_decimals)
    return Problem(
        f"coupon cycle {cycle.id}: amount {show_usdc(cycle.amount, usdc_decimals)} differs from the computed "
        f"{rule}",
        f'write amount: "{written}", or remove amount to let the plan compute it',
        position,
    )


def _paid_cycle_edit(change: Change, environment: Environment) -> Problem:
    usdc_decimals = environment.decimals.usdc
    old, new, written = str(change.old), str(change.new), str(change.old)
    if change.field in ("record_date", "payment_date"):
        old, new = show_time(change.old), show_time(change.new)
        written = f'"{old}"'
    elif change.field == "amount":
        old, new = show_usdc(change.old, usdc_decimals), show_usdc(change.new, usdc_decimals)
        written = f'"{format_base_units(change.old, usdc_decimals, min_places=usdc_decimals)}"'
    return Problem(
        f"coupon cycle {change.key} was paid on chain with {change.field} {old}, but the YAML has {new}; "
        "a paid cycle cannot be edited",
        f"restore {change.field}: {written}, and pay any correction as a new cycle under a new id",
        change.position,
    )
