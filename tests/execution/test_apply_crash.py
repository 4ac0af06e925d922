"""SIGKILL `jinbi apply PLAN_FILE` at every journal boundary of a 21-action plan, rerun it, check each effect once.

The chain and plan file come from target_world.py: 21 actions of all eight
kinds (blocks, an unblock, new and changed investors, a cancellation,
bookings, the USDC approval and a coupon payment) in 7 transactions. Each
case reverts the chain to the world's snapshot and runs `jinbi apply
PLAN_FILE --auto-approve`, which kills itself with SIGKILL right before or
right after one journal write (cli_child.py), then runs the same command
again to the end.

Three more cases kill the installed `jinbi` executable from outside: the
JSON-RPC proxy sends SIGKILL when a chosen signed transaction arrives, before
or after anvil accepted it, and the rerun uses the executable too.

A reference run without a kill records the journal writes. The cases cover
every distinct crash state: before the first write, after each write, and
between each broadcast and the write that records it. A kill right before
any other write leaves the same journal and chain as the kill right after
the write before it, because nothing reaches the chain between the two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from cli_support import texts_with_key, written_texts
from target_world import TRANSACTIONS, World, assert_converged_once

from support.rpc_proxy import MethodFaults, Phase, fault_proxy

APPLY_OPTIONS = ("--auto-approve",)


@dataclass(frozen=True)
class KillPoint:
    """Kill the apply right BEFORE or AFTER its Nth journal write, which records STATE of transaction INDEX."""

    write: int
    when: str
    state: str
    index: int

    @property
    def name(self) -> str:
        what = "nothing-journaled" if self.write == 1 and self.when == "before" else f"{self.state}-{self.index}"
        return f"{self.when}-write-{self.write}-{what}"


def expected_writes(count: int) -> list[tuple[str, int]]:
    """Return the journal writes of an uninterrupted apply of COUNT transactions on an automining chain."""
    sending = [(state, index) for index in range(count) for state in ("signed", "sent")]
    return sending + [("mined", index) for index in range(count)]


def kill_points(count: int) -> list[KillPoint]:
    writes = expected_writes(count)
    points = [KillPoint(1, "before", *writes[0])]
    for number, (state, index) in enumerate(writes, start=1):
        if state == "sent":
            # Between the broadcast and the write that records it: the node has the transaction, the journal does not.
            points.append(KillPoint(number, "before", state, index))
        points.append(KillPoint(number, "after", state, index))
    return points


KILL_POINTS = kill_points(TRANSACTIONS)


def test_plan_has_every_action_kind(target_world: World) -> None:
    counts = target_world.plan["summary"]["counts"]
    assert counts == {
        "block": 5, "cancel": 1, "update_investor": 4, "add_investor": 5, "unblock": 1, "book": 3,
        "approve": 1, "pay_coupon": 1,
    }  # fmt: skip
    assert sum(counts.values()) == 21
    assert [item["function"] for item in target_world.plan["transactions"]] == [
        "ComplianceRegistry.blockAddresses",
        "DvPSettlement.cancel",
        "ComplianceRegistry.setInvestors",
        "ComplianceRegistry.unblockAddresses",
        "DvPSettlement.book",
        "USDC.approve",
        "CorporateActions.payCoupon",
    ]


def test_kill_points_cover_each_transaction_state() -> None:
    covered = {(point.index, point.state, point.when) for point in KILL_POINTS}
    for index in range(TRANSACTIONS):
        assert (index, "signed", "after") in covered  # journaled, not sent
        assert (index, "sent", "before") in covered  # sent, not journaled as sent
        assert (index, "sent", "after") in covered
        assert (index, "mined", "after") in covered
    assert len(KILL_POINTS) == 1 + 4 * TRANSACTIONS


def test_uninterrupted_apply_writes_expected_journal(target_world: World) -> None:
    folder = target_world.new_case("reference")
    record = folder / "writes.jsonl"

    applied = target_world.workspace.forked(*target_world.apply_args(*APPLY_OPTIONS), cwd=folder, record=record)

    assert applied.returncode == 0, applied.describe()
    changed = []
    previous: dict[str, Any] = {}
    for line in record.read_text().splitlines():
        records = json.loads(line)["records"]
        (index,) = [key for key, value in records.items() if previous.get(key) != value]
        changed.append((records[index][0], int(index)))
        previous = records
    assert changed == expected_writes(TRANSACTIONS)
    assert_converged_once(target_world)


@pytest.mark.parametrize("point", KILL_POINTS, ids=[point.name for point in KILL_POINTS])
def test_rerun_after_kill_converges_once(target_world: World, point: KillPoint) -> None:
    folder = target_world.new_case(point.name)
    arguments = target_world.apply_args(*APPLY_OPTIONS)

    killed = target_world.workspace.forked(*arguments, cwd=folder, kill_at_save=point.write, kill_when=point.when)
    assert killed.returncode == -9, killed.describe()
    rerun = target_world.workspace.forked(*arguments, cwd=folder)

    assert rerun.returncode == 0, rerun.describe()
    assert "Apply complete: the chain matches the YAML" in rerun.stdout
    assert_converged_once(target_world)
    assert texts_with_key(written_texts(folder)) == []


EXTERNAL_KILLS = [(0, Phase.ANSWERED), (3, Phase.RECEIVED), (6, Phase.ANSWERED)]


@pytest.mark.parametrize(
    ("index", "phase"), EXTERNAL_KILLS, ids=[f"send-{index}-{phase.value}" for index, phase in EXTERNAL_KILLS]
)
def test_executable_killed_at_send_converges_once(target_world: World, index: int, phase: Phase) -> None:
    folder = target_world.new_case(f"executable-send-{index}-{phase.value}")
    workspace = target_world.workspace
    victim: list[subprocess.Popen[str]] = []
    sent: list[str] = []

    def kill_at_send(number: int, method: str, at: Phase, body: bytes) -> bool:
        """SIGKILL the apply when signed transaction INDEX is at PHASE, and drop its connection."""
        if method != "eth_sendRawTransaction" or at is not phase:
            return False
        raw = json.loads(body)["params"][0]
        if raw not in sent:
            sent.append(raw)
        if sent.index(raw) != index:
            return False
        os.kill(victim[0].pid, signal.SIGKILL)
        victim[0].wait(timeout=10)
        return True

    faults = MethodFaults(hook=kill_at_send)
    with fault_proxy(target_world.chain.url, faults) as proxy:
        victim.append(workspace.start_jinbi(*target_world.apply_args(*APPLY_OPTIONS), cwd=folder, rpc_url=proxy.url))
        killed = workspace.finish(victim[0])
    rerun = workspace.jinbi(*target_world.apply_args(*APPLY_OPTIONS), cwd=folder)

    assert faults.hook_errors == []
    assert killed.returncode == -signal.SIGKILL, killed.describe()
    assert len(sent) == index + 1
    assert rerun.returncode == 0, rerun.describe()
    assert "Apply complete: the chain matches the YAML" in rerun.stdout
    assert_converged_once(target_world)
    assert texts_with_key(written_texts(folder)) == []
