"""Which on-chain values a plan file explains: read, set by the plan, stamped by the chain, or between two of its writes.

The values after the simulated run explain the chain only when the plan's journal has records, or when every change of
the plan is on chain already.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.execution.staleness import already_applied, check_plan_holds, loose_aggregates, stale_values

INVESTOR = "investors/0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BLOCKED = "sanctions/0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3/blocked"
READ = {f"{INVESTOR}/kyc": "true", "counts/blocked": "9", BLOCKED: "true", "allocations/A-1/closed_at": "0"}
SETS: dict[str, str | None] = {
    "counts/blocked": "13",
    BLOCKED: None,  # unblocked by the plan
    "allocations/A-2/booked_at": "1798675200",
    "allocations/A-2/status": "booked",
    "allocations/A-1/closed_at": "1798675200",
}


@pytest.mark.parametrize(
    ("key", "now"),
    [
        pytest.param("counts/blocked", "9", id="read"),
        pytest.param("counts/blocked", "13", id="set"),
        pytest.param(BLOCKED, None, id="removed-by-plan"),
        pytest.param("allocations/A-2/booked_at", "1798675231", id="booking-time-of-real-block"),
        pytest.param("allocations/A-1/closed_at", "1798675240", id="cancel-time-of-real-block"),
    ],
)
def test_plan_explains_value(key: str, now: str | None) -> None:
    current = {**READ, **{k: v for k, v in SETS.items() if v is not None and k != key}}
    current.pop(key, None)
    if now is not None:
        current[key] = now

    assert [line for line in stale_values(READ, SETS, current) if line.startswith(key)] == []


def test_changed_unplanned_value_is_stale() -> None:
    current = {**READ, f"{INVESTOR}/kyc": "false"}

    assert stale_values(READ, SETS, current) == [f"{INVESTOR}/kyc: the plan read true, the chain now has false"]


def test_intermediate_aggregate_needs_two_writers() -> None:
    current = {**READ, "counts/blocked": "14"}  # after the blocks, before the unblock

    assert stale_values(READ, SETS, current) == ["counts/blocked: the plan read 9, the chain now has 14"]
    assert stale_values(READ, SETS, current, frozenset({"counts/blocked"})) == []


def test_unplanned_chain_time_is_stale() -> None:
    current = {**READ, "allocations/A-3/booked_at": "5"}

    lines = stale_values(READ, {"allocations/A-2/booked_at": "1798675200"}, current)

    assert lines == ["allocations/A-3/booked_at: the plan read absent, the chain now has 5"]


def plan_document(functions: list[str], sets: dict[str, str | None]) -> dict[str, Any]:
    return {"transactions": [{"function": name} for name in functions], "reads": {"sets": sets}}


def test_loose_aggregates_by_writers() -> None:
    document = plan_document(
        ["ComplianceRegistry.blockAddresses", "ComplianceRegistry.setInvestors", "ComplianceRegistry.unblockAddresses",
         "USDC.approve", "CorporateActions.payCoupon"],
        {},
    )  # fmt: skip

    assert loose_aggregates(document) == {"counts/blocked", "treasury/usdc_allowance/corporate_actions"}


def test_split_batches_loosen_their_count() -> None:
    document = plan_document(["ComplianceRegistry.setInvestors"] * 2, {})

    assert loose_aggregates(document) == {"counts/investors"}


def test_already_applied_accepts_real_block_times() -> None:
    applied = {**READ, "counts/blocked": "13", "allocations/A-2/booked_at": "1798675299", "allocations/A-2/status": "booked",
               "allocations/A-1/closed_at": "1798675300"}  # fmt: skip
    del applied[BLOCKED]
    observation: Any = type("Observation", (), {"reads": applied})()

    assert already_applied(plan_document([], SETS), observation)
    observation.reads = {**applied, BLOCKED: "true"}
    assert not already_applied(plan_document([], SETS), observation)


SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def plan_file_document(sets: dict[str, str | None]) -> dict[str, Any]:
    return {
        "chain_id": 31337, "signer": SIGNER, "block": {"number": 7}, "transactions": [],
        "reads": {"values": READ, "sets": sets},
    }  # fmt: skip


def chain_reads(reads: dict[str, str]) -> Any:
    return type("Observation", (), {"chain_id": 31337, "reads": reads})()


def test_set_value_without_journal_is_stale() -> None:
    partly_applied = {**READ, "counts/blocked": "13"}  # one change made, the others not

    with pytest.raises(PlanError) as raised:
        check_plan_holds(plan_file_document(SETS), chain_reads(partly_applied), SIGNER, journaled=False)

    assert str(raised.value).endswith("\n  counts/blocked: the plan read 9, the chain now has 13")
    check_plan_holds(plan_file_document(SETS), chain_reads(partly_applied), SIGNER, journaled=True)


def test_fully_applied_plan_holds_without_journal() -> None:
    applied = {**READ, "counts/blocked": "13", "allocations/A-2/booked_at": "1798675299", "allocations/A-2/status": "booked",
               "allocations/A-1/closed_at": "1798675300"}  # fmt: skip
    del applied[BLOCKED]

    check_plan_holds(plan_file_document(SETS), chain_reads(applied), SIGNER, journaled=False)
