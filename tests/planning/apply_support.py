"""Helpers of the planning tests that run against anvil: plan at the chain's latest block, send a plan.

`send_plan` sends a plan's transactions with eth_sendTransaction from anvil's
unlocked development accounts, in plan order, as `jinbi apply` does with its signer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.chain.observe import observe
from reconciler.desired import DesiredState
from reconciler.desired.values import parse_date
from reconciler.planning.plan import Plan, PlanOptions, build_plan

SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first development account
BEFORE_FIRST_COUPON = parse_date("2026-12-01")


def plan_now(desired: DesiredState, chain: Any, *, allow_mass_change: bool = False, gas_cap: int | None = None) -> Plan:
    """Observe CHAIN and plan DESIRED, with the chain's clock read as at most 2026-12-01.

    Tests that ran earlier on the same chain may have moved its clock, and the
    cap keeps the committed coupon cycles scheduled, not due.
    """
    observation = observe(chain.w3, desired.environment)
    observation = replace(observation, block_timestamp=min(observation.block_timestamp, BEFORE_FIRST_COUPON))
    options = PlanOptions(signer=SIGNER, allow_mass_change=allow_mass_change)
    if gas_cap is not None:
        options = replace(options, gas_cap=gas_cap)
    return build_plan(desired, observation, options)


def send_plan(chain: Any, plan: Plan) -> list[int]:
    """Send every transaction of PLAN in order and return the gas each used; each must succeed."""
    used = []
    for transaction in plan.transactions:
        tx_hash = chain.w3.eth.send_transaction(
            {"from": transaction.sender, "to": transaction.to, "data": transaction.data, "gas": transaction.gas_estimate}
        )
        receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, transaction.function.qualified_name
        used.append(receipt["gasUsed"])
    return used
