"""Whether a reviewed plan file still holds: the values it read, or the values its own transactions leave.

A plan file records every value it read (`reads.values`) and, when it was
simulated, every value its transactions change, as it was after the
simulated run (`reads.sets`, None for a removed key). `jinbi apply PLAN_FILE`
runs only if each value on chain now is one the plan can explain:

- the value read, when nothing changed it;
- the value after the simulated run, when the journal of this plan's digest
  has a record, so an earlier apply of this plan may have sent the
  transaction that writes it;
- any value of a field that the chain stamps with the block's time
  (`booked_at`, `closed_at`, `paid_at`, `recorded_at`, `attested_at`,
  `executed_at`) and that the plan sets, under the same journal condition,
  because the real block is not the simulated one;
- any value of an aggregate (a collection count, the treasury's USDC balance
  or allowance, the holders of a role) that two or more of the plan's
  transactions write, under the same journal condition. An interrupted apply
  leaves such a value between two of them, and the simulation records only
  the value after the last.

Without a journal record, someone else wrote each value that differs from
the one read, even a value equal to the plan's own result. Sending the plan
would repeat that change, and the contract reverts a reused id or a second
pause. The exception is a plan whose every change is on chain already
(`already_applied`): apply sends nothing then, so the values after the
simulated run are accepted, and a plan applied again from a working folder
without its journal ends with "nothing more to send" instead of a stale error.

Every other difference was made by someone else, and the plan is stale.
NOTE: the journal condition is per plan, not per transaction, so once any
transaction of the plan is journaled, someone else's write of a value that
a later transaction of the plan sets is taken for this plan's own.
NOTE: aggregates are covered by the items they count, except the treasury's
balance and allowance. With two or more of their writers in the plan, another
signer's change to them is not detected here, and shows only as a failed
payment or in the verification after sending. Callers: `reconciler.execution.run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.chain.observe import Observation
from reconciler.errors import PlanError
from reconciler.model import MANAGED_ROLES
from reconciler.planning.calls import Function

# How many changed values a stale-plan error lists before it counts the rest.
STALE_VALUES_SHOWN = 10

# Fields the contracts set to the block's timestamp.
CHAIN_TIME_FIELDS = ("booked_at", "closed_at", "paid_at", "executed_at", "recorded_at", "attested_at")

# Aggregate read keys, by the functions whose transactions change them.
AGGREGATE_WRITERS: Mapping[str, frozenset[Function]] = {
    "counts/investors": frozenset({Function.SET_INVESTORS}),
    "counts/blocked": frozenset({Function.BLOCK_ADDRESSES, Function.UNBLOCK_ADDRESSES}),
    "counts/bookings": frozenset({Function.BOOK}),
    "counts/cycles": frozenset({Function.PAY_COUPON}),
    "counts/snapshots": frozenset({Function.RECORD_SNAPSHOTS}),
    "counts/attestations": frozenset({Function.RECORD_ATTESTATIONS}),
    "treasury/usdc_balance": frozenset({Function.PAY_COUPON}),
    "treasury/usdc_allowance/corporate_actions": frozenset({Function.APPROVE, Function.PAY_COUPON}),
    "counts/force_transfers": frozenset({Function.FORCE_TRANSFER}),
    # The holders of a role are read as one value, which each grant or revocation on its contract changes.
    **{
        f"roles/{contract}/{role}": frozenset(
            function for function in Function if function.spec.name in ("grantRole", "revokeRole")
            and function.spec.contract == contract
        )
        for contract, roles in MANAGED_ROLES.items()
        for role in roles
    },
}


def check_plan_holds(document: Mapping[str, Any], observation: Observation, signer: str, *, journaled: bool) -> None:
    """Raise PlanError unless the plan's chain and signer match, and every value on chain is one the plan explains.

    JOURNALED is true when the journal of the plan's digest has a record,
    because an earlier apply of this plan may then have sent transactions.
    """
    if observation.chain_id != document["chain_id"]:
        raise PlanError(
            f"the plan is for chain id {document['chain_id']}, but the RPC node serves chain id {observation.chain_id}",
            hint="point the environment's RPC variable at the chain the plan was made for",
        )
    if signer.lower() != str(document["signer"]).lower():
        raise PlanError(
            f"the plan was made for signer {document['signer']}, but the configured key is of {signer}",
            hint="apply with the key the plan names, or plan again with this signer",
        )
    reads = document["reads"]
    if journaled:
        stale = stale_values(reads["values"], reads["sets"], observation.reads, loose_aggregates(document))
    elif already_applied(document, observation):
        stale = stale_values(reads["values"], reads["sets"], observation.reads)
    else:
        # Nothing of this plan was sent, so only the values it read explain the chain.
        stale = stale_values(reads["values"], {}, observation.reads)
    if stale:
        shown = "\n".join(f"  {line}" for line in stale[:STALE_VALUES_SHOWN])
        more = len(stale) - STALE_VALUES_SHOWN
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise PlanError(
            f"the plan is stale: {len(stale)} {'value' if len(stale) == 1 else 'values'} read at block "
            f"{document['block']['number']} changed since, by someone other than this plan:\n{shown}{tail}",
            hint="plan again from the chain as it is now, and have the new plan reviewed",
        )


def stale_values(
    read: Mapping[str, str],
    sets: Mapping[str, str | None],
    current: Mapping[str, str],
    loose: frozenset[str] = frozenset(),
) -> list[str]:
    """List, sorted by key, each value on chain that the plan cannot explain (see the module docstring).

    LOOSE contains the aggregate keys that may have any value.
    """
    lines = []
    for key in sorted(set(read) | set(current)):
        now = current.get(key)
        if now == read.get(key) or key in loose:
            continue
        if key in sets and (now == sets[key] or (_is_chain_time(key) and now is not None and sets[key] is not None)):
            continue
        before = read.get(key, "absent")
        lines.append(f"{key}: the plan read {before}, the chain now has {'absent' if now is None else now}")
    return lines


def loose_aggregates(document: Mapping[str, Any]) -> frozenset[str]:
    """Return the aggregate keys that two or more of the plan's transactions write."""
    functions = [transaction["function"] for transaction in document["transactions"]]
    return frozenset(
        key
        for key, writers in AGGREGATE_WRITERS.items()
        if sum(1 for name in functions if name in {writer.qualified_name for writer in writers}) >= 2
    )


def already_applied(document: Mapping[str, Any], observation: Observation) -> bool:
    """Tell whether every value the plan changes has its value after the simulated run (any time for chain times)."""
    sets = document["reads"]["sets"]
    return bool(sets) and all(_has_final_value(key, value, observation.reads.get(key)) for key, value in sets.items())


def _has_final_value(key: str, final: str | None, now: str | None) -> bool:
    if _is_chain_time(key) and final is not None:
        return now is not None
    return now == final


def _is_chain_time(key: str) -> bool:
    return key.rpartition("/")[2] in CHAIN_TIME_FIELDS
