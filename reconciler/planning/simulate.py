"""Run a plan on an anvil fork of the target chain at the plan's block, before it is shown.

`simulate_plan` starts a private anvil on a free 127.0.0.1 port, points it at
the target chain with `anvil_reset` (so the RPC URL, which may contain an API
key, never appears on a command line), checks that the fork's block is the
planned one, impersonates each sender and sends every transaction in order
with the gas model's estimate as its gas limit. A revert is reported with its
decoded custom error. Once everything is sent, the fork is observed again and
diffed against the YAML: only drift and scheduled coupons may remain. The
anvil is stopped in every case.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from reconciler.chain.errors import decode_revert, revert_data
from reconciler.chain.observe import observe
from reconciler.desired.state import DesiredState
from reconciler.devnet import connect, spawn_anvil_on_free_port, stop_process
from reconciler.errors import DevnetError
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.diff import diff
from reconciler.planning.plan import Plan, plan_error
from reconciler.planning.records import Problem
from reconciler.planning.transactions import Transaction

log = logging.getLogger(__name__)

NOTHING_TO_SIMULATE = "nothing to simulate"
FORK_START_TIMEOUT_SECONDS = 30.0
# Ether given to each impersonated sender on the fork, so that gas costs never stop the simulation.
SENDER_BALANCE_WEI = 10**24


def simulate_plan(plan: Plan, desired: DesiredState, rpc_url: str) -> Plan:
    """Return PLAN with its `simulation` set, after running it on a fork of the chain at RPC_URL.

    Raises PlanError when a transaction reverts or runs out of gas, when the
    fork's block differs from the planned one, or when the end state differs
    from the desired state. Raises DevnetError when anvil cannot start.
    """
    if not plan.transactions:
        return replace(plan, simulation=NOTHING_TO_SIMULATE)

    with _fork(plan, rpc_url) as w3:
        # Every sender acts through anvil's impersonation: no key is needed.
        for sender in sorted({transaction.sender for transaction in plan.transactions}):
            w3.provider.make_request("anvil_impersonateAccount", [sender])  # type: ignore[arg-type]
            w3.provider.make_request("anvil_setBalance", [sender, hex(SENDER_BALANCE_WEI)])  # type: ignore[arg-type]

        # Send in plan order; the first failure stops the simulation.
        for number, transaction in enumerate(plan.transactions, start=1):
            _send(w3, plan, number, transaction)

        # The end state must be the desired one, but for drift and coupons not yet due.
        observed = observe(w3, desired.environment)
        remaining = [change for change in diff(desired, observed.state) if _must_be_gone(change, plan)]
        if remaining:
            raise plan_error([_remaining_problem(plan, change) for change in remaining])

    count = len(plan.transactions)
    summary = (
        f"simulated on an anvil fork at block {plan.block_number}: {count} "
        f"{'transaction' if count == 1 else 'transactions'} succeeded and the end state matches the YAML"
    )
    log.info("%s", summary)
    sets: dict[str, str | None] = {
        key: value for key, value in observed.reads.items() if plan.reads.get(key) != value
    }
    sets.update({key: None for key in plan.reads if key not in observed.reads})
    return replace(plan, simulation=summary, sets=sets)


@contextmanager
def _fork(plan: Plan, rpc_url: str) -> Iterator[Web3]:
    """Start anvil on a free port, fork the chain at the plan's block, and stop anvil afterwards."""
    process, port = spawn_anvil_on_free_port(["--chain-id", str(plan.chain_id)], FORK_START_TIMEOUT_SECONDS)
    try:
        w3 = connect(port)
        _wait_for(w3, process)
        reply = w3.provider.make_request(
            "anvil_reset",  # type: ignore[arg-type]
            [{"forking": {"jsonRpcUrl": rpc_url, "blockNumber": plan.block_number}}],
        )
        if "error" in reply:
            raise DevnetError(
                f"anvil could not fork the chain at block {plan.block_number}: {reply['error'].get('message', '')}",
                hint="the node must serve the state of that block; an archive node serves every block",
            )
        forked_hash = w3.eth.get_block(plan.block_number)["hash"].to_0x_hex()
        if forked_hash.lower() != plan.block_hash.lower():
            raise plan_error(
                [
                    Problem(
                        f"block {plan.block_number} has hash {forked_hash} on the fork, but the plan read "
                        f"{plan.block_hash}: the chain reorganised while planning",
                        "plan again",
                    )
                ]
            )
        log.debug("forked the chain at block %s on anvil port %s (pid %s)", plan.block_number, port, process.pid)
        yield w3
    finally:
        stop_process(process.pid)


def _wait_for(w3: Web3, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + FORK_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevnetError(
                f"anvil for the simulation exited with code {process.returncode} before it responded",
                hint="run node_modules/.bin/anvil by hand to see its error, or plan with --no-simulate",
            )
        try:
            w3.eth.chain_id
            return
        except (OSError, Web3Exception):
            time.sleep(0.05)
    raise DevnetError(f"anvil for the simulation did not respond within {FORK_START_TIMEOUT_SECONDS:.0f} s")


def _send(w3: Web3, plan: Plan, number: int, transaction: Transaction) -> None:
    label = f"transaction {number} of {len(plan.transactions)} ({transaction.function.qualified_name})"
    request: dict[str, Any] = {
        "from": transaction.sender,
        "to": transaction.to,
        "data": transaction.data,
        "gas": transaction.gas_estimate,
    }

    # A call on the current fork state first, without the gas limit so that only
    # a revert fails it: its revert data names the custom error.
    try:
        w3.eth.call({key: value for key, value in request.items() if key != "gas"})  # type: ignore[arg-type]
    except ContractLogicError as error:
        data = revert_data(error)
        reason = str(decode_revert(data)) if data else str(error)
        raise plan_error(
            [
                Problem(
                    f"simulation on an anvil fork at block {plan.block_number}: {label} reverted with {reason}",
                    "the contracts reject this plan as it stands: correct the YAML values the error names, "
                    "then plan again",
                )
            ]
        ) from None

    # Each simulated block gets a time fixed by the plan, so the times the
    # contracts record (booked_at, paid_at) and thus the plan file are the same on every run.
    w3.provider.make_request("evm_setNextBlockTimestamp", [plan.block_timestamp + number])  # type: ignore[arg-type]
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(request))  # type: ignore[arg-type]
    if receipt["status"] != 1:
        raise plan_error(
            [
                Problem(
                    f"simulation on an anvil fork at block {plan.block_number}: {label} failed after using "
                    f"{receipt['gasUsed']:,} of its {transaction.gas_estimate:,} gas estimate",
                    "the gas model's estimate may be too low for this call: report it, and plan with a larger "
                    "--gas-cap meanwhile",
                )
            ]
        )
    log.debug("simulated %s: %s gas of %s estimated", label, receipt["gasUsed"], transaction.gas_estimate)


def _must_be_gone(change: Change, plan: Plan) -> bool:
    """Return whether CHANGE should have been reconciled: drift, coupons and delistings not yet due stay."""
    if change.operation is Operation.REMOVE:
        return False
    delistings = {warning.key for warning in plan.warnings if warning.code == "delisting-scheduled"}
    if change.kind is Kind.SANCTIONS_ENTRY and change.key in delistings:
        return False
    scheduled = {item.cycle_id for item in plan.scheduled}
    return not (change.kind is Kind.COUPON_CYCLE and change.key in scheduled)


def _remaining_problem(plan: Plan, change: Change) -> Problem:
    what = f"{change.kind.noun} {change.key}" + (f" {change.field}" if change.field else "")
    return Problem(
        f"simulation on an anvil fork at block {plan.block_number}: after every transaction, {what} "
        f"is still {change.old!r} on chain, not {change.new!r} as the YAML has it",
        "the plan does not reach the desired state: report this as a planner bug, with the plan file",
        change.position,
    )
