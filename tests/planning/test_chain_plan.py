"""Planning against a real anvil: the committed devnet state, convergence, the gas model and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from apply_support import BEFORE_FIRST_COUPON, SIGNER, send_plan
from planning_support import USDC

from reconciler import PROJECT_ROOT
from reconciler.chain.observe import Observation, observe
from reconciler.desired import DesiredState, load_state
from reconciler.desired.values import parse_date
from reconciler.errors import PlanError
from reconciler.model import AllocationStatus, CouponCycle, Investor, Partition, SanctionsEntry, State
from reconciler.planning.plan import Plan, PlanOptions, build_plan
from reconciler.planning.records import Verb
from reconciler.planning.simulate import simulate_plan

JINBI = PROJECT_ROOT / ".venv" / "bin" / "jinbi"


@pytest.fixture(scope="module")
def committed() -> DesiredState:
    return load_state(PROJECT_ROOT / "state", "devnet")


def plan_now(desired: DesiredState, chain: Any, *, pin_clock: bool = True) -> Plan:
    """Observe CHAIN and plan DESIRED; PIN_CLOCK puts the chain's time before the committed coupon dates."""
    observation: Observation = observe(chain.w3, desired.environment)
    if pin_clock:
        observation = replace(observation, block_timestamp=min(observation.block_timestamp, BEFORE_FIRST_COUPON))
    return build_plan(desired, observation, PlanOptions(signer=SIGNER))


def test_committed_state_against_fresh_deployment(chain: Any, committed: DesiredState) -> None:
    plan = plan_now(committed, chain)
    assert plan.verb_counts() == {
        Verb.BLOCK: 9,
        Verb.ADD_INVESTOR: 40,
        Verb.BOOK: 9,
        Verb.RECORD_SNAPSHOT: 1,
        Verb.RECORD_ATTESTATION: 1,
    }
    assert [(tx.function.qualified_name, len(tx.actions)) for tx in plan.transactions] == [
        ("ComplianceRegistry.blockAddresses", 9),
        ("ComplianceRegistry.setInvestors", 40),
        ("DvPSettlement.book", 9),
        ("TransferAgentBridge.recordSnapshots", 1),
        ("CustodyAttestations.recordAttestations", 1),
    ]
    assert [item.cycle_id for item in plan.scheduled] == ["1", "2"]
    assert plan.warnings == ()
    assert plan.summary() == (
        "Plan: 9 addresses to block, 40 investors to add, 9 allocations to book, 1 cap-table snapshot to record, "
        "1 custody attestation to record in 5 transactions. 2 coupon cycles scheduled."
    )


def test_applied_plan_converges(chain: Any, committed: DesiredState) -> None:
    first = plan_now(committed, chain)
    used = send_plan(chain, first)
    assert all(gas <= tx.gas_estimate for gas, tx in zip(used, first.transactions, strict=True))

    after = plan_now(committed, chain)
    assert not after.has_changes
    assert after.warnings == ()


def settle(chain: Any, allocation_id: str, investor: str, cost: int) -> None:
    """Have INVESTOR pay COST USDC for booking ALLOCATION_ID, funded by the treasury."""
    usdc, dvp = chain.contracts["usdc"], chain.contracts["dvp_settlement"]
    for call, sender in (
        (usdc.functions.transfer(investor, cost), SIGNER),
        (usdc.functions.approve(dvp.address, cost), investor),
        (dvp.functions.settle(allocation_id.encode().ljust(32, b"\0")), investor),
    ):
        receipt = chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
        assert receipt["status"] == 1


def test_second_plan_revokes_unblocks_cancels_and_pays(chain: Any, committed: DesiredState) -> None:
    send_plan(chain, plan_now(committed, chain))
    settle(chain, "ALLOC-0001", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 250_000 * USDC)

    # Revoke one investor, delist one blocked address, cancel one booking and add a past coupon cycle.
    model = committed.state
    revoked = "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0"
    delisted = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"
    edited = State(
        investors={**model.investors, revoked: replace(model.investors[revoked], kyc=False)},
        sanctions={**model.sanctions, delisted: replace(model.sanctions[delisted], delisted_on=parse_date("2026-09-30"))},
        allocations={
            **model.allocations,
            "ALLOC-0009": replace(model.allocations["ALLOC-0009"], status=AllocationStatus.CANCELLED),
        },
        coupon_cycles={
            **model.coupon_cycles,
            "9": CouponCycle("9", "2026-Q1", 125, parse_date("2026-03-15"), parse_date("2026-03-31")),
        },
    )
    desired = replace(committed, state=edited)

    second = plan_now(desired, chain)
    assert [(tx.function.qualified_name, len(tx.actions)) for tx in second.transactions] == [
        ("DvPSettlement.cancel", 1),
        ("ComplianceRegistry.setInvestors", 1),
        ("ComplianceRegistry.unblockAddresses", 1),
        ("USDC.approve", 1),
        ("CorporateActions.payCoupon", 1),
    ]
    # 250,000 settled tokens x 1 USDC face value x 125 bps = 3,125 USDC.
    assert second.transactions[-1].arguments[-1] == 3_125 * USDC
    used = send_plan(chain, second)
    assert all(gas <= tx.gas_estimate for gas, tx in zip(used, second.transactions, strict=True))

    third = plan_now(desired, chain)
    assert not third.has_changes
    assert [item.cycle_id for item in third.scheduled] == ["1", "2"]


def test_gas_model_bounds_full_batches(chain: Any, committed: DesiredState) -> None:
    # A full default-cap batch of each batched function: 198 new investors, 100 blocks, 45 bookings.
    addresses = [chain.w3.to_checksum_address(f"0x{0x5000_0000 + number:040x}") for number in range(198)]
    investors = {
        address: Investor(address, f"GAS-{index:04d}", True, True, "US") for index, address in enumerate(addresses)
    }
    sanctions = {
        blocked: SanctionsEntry(blocked, "OFAC-SDN", parse_date("2025-01-01"))
        for blocked in (chain.w3.to_checksum_address(f"0x{0x6000_0000 + number:040x}") for number in range(100))
    }
    allocations = {
        f"GAS-{index:04d}": replace(
            committed.state.allocations["ALLOC-0001"], id=f"GAS-{index:04d}", investor=address, partition=Partition.RULE_144A
        )
        for index, address in enumerate(addresses[:45])
    }
    desired = replace(committed, state=State(investors, sanctions, allocations), positions={})

    plan = plan_now(desired, chain)
    assert [(tx.function.qualified_name, len(tx.actions)) for tx in plan.transactions] == [
        ("ComplianceRegistry.blockAddresses", 100),
        ("ComplianceRegistry.setInvestors", 198),
        ("DvPSettlement.book", 45),
    ]
    used = send_plan(chain, plan)
    for gas, transaction in zip(used, plan.transactions, strict=True):
        assert gas <= transaction.gas_estimate <= 10_000_000, transaction.function.qualified_name


# --- the command line --------------------------------------------------------


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """The committed devnet state without its coupon cycles, so the host's date plays no part."""
    shutil.copytree(PROJECT_ROOT / "state" / "devnet", tmp_path / "devnet")
    (tmp_path / "devnet" / "coupons.yaml").unlink()
    return tmp_path


def jinbi_plan(chain: Any, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    return subprocess.run(
        [str(JINBI), "plan", "--env", "devnet", "--state-dir", str(state_dir), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_exit_codes(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    with_changes = jinbi_plan(chain, state_dir, "--detailed-exitcode", "--out", str(out))
    assert with_changes.returncode == 2
    assert with_changes.stderr == ""
    assert "\x1b" not in with_changes.stdout
    block = chain.w3.eth.block_number
    assert with_changes.stdout.splitlines()[1].endswith(
        f"simulated on an anvil fork at block {block}: 5 transactions succeeded and the end state matches the YAML."
    )
    assert with_changes.stdout.splitlines()[-1] == (
        "Plan: 9 addresses to block, 40 investors to add, 9 allocations to book, 1 cap-table snapshot to record, "
        "1 custody attestation to record in 5 transactions."
    )

    # The plan file is the one a JSON run prints, byte for byte.
    as_json = jinbi_plan(chain, state_dir, "--format", "json")
    assert as_json.returncode == 0
    assert as_json.stdout == out.read_text(encoding="utf-8")
    assert json.loads(as_json.stdout)["summary"]["has_changes"] is True

    wrong_signer = jinbi_plan(chain, state_dir, "--signer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    assert wrong_signer.returncode == 1
    assert wrong_signer.stdout == ""
    assert wrong_signer.stderr.splitlines()[0] == "error: the plan has 4 problems and sends nothing:"

    # Once the plan is sent, the same command finds nothing to do.
    desired = load_state(state_dir, "devnet")
    send_plan(chain, build_plan(desired, observe(chain.w3, desired.environment), PlanOptions(signer=SIGNER)))
    converged = jinbi_plan(chain, state_dir, "--detailed-exitcode", "--no-simulate")
    assert converged.returncode == 0
    assert converged.stdout.splitlines()[1].endswith("per transaction, not simulated.")
    assert converged.stdout.splitlines()[-1] == "No changes: the chain matches the YAML."


def test_interrupt_during_fork_stops_anvil(chain: Any, state_dir: Path) -> None:
    # SIGINT to jinbi alone, as a supervisor sends it, while the simulation's anvil starts.
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    command = [str(JINBI), "plan", "--env", "devnet", "--state-dir", str(state_dir)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    anvil = None
    deadline = time.monotonic() + 60
    while anvil is None and process.poll() is None and time.monotonic() < deadline:
        children = psutil.Process(process.pid).children()
        anvil = next((child for child in children if child.name() == "anvil"), None)
        time.sleep(0.005)
    assert anvil is not None, "jinbi plan ended before it started the simulation's anvil"

    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)

    assert process.returncode != 0
    try:
        anvil.wait(timeout=10)
    except psutil.TimeoutExpired:
        anvil.kill()
        pytest.fail("the simulation's anvil outlived jinbi plan")


# --- simulation on an anvil fork ---------------------------------------------


def test_simulation_succeeds_on_committed_state(chain: Any, committed: DesiredState) -> None:
    nonce = chain.w3.eth.get_transaction_count(SIGNER)
    simulated = simulate_plan(plan_now(committed, chain), committed, chain.url)
    assert simulated.simulation == (
        f"simulated on an anvil fork at block {simulated.block_number}: 5 transactions succeeded "
        "and the end state matches the YAML"
    )
    assert chain.w3.eth.get_transaction_count(SIGNER) == nonce  # nothing reached the chain itself


def test_simulation_decodes_a_revert(chain: Any, committed: DesiredState) -> None:
    # A booking for an address the registry does not know: DvPSettlement.book reverts.
    stranger = "0x000000000000000000000000000000000000dEaD"
    allocation = replace(committed.state.allocations["ALLOC-0001"], id="GHOST-1", investor=stranger)
    desired = replace(committed, state=State(allocations={"GHOST-1": allocation}))
    with pytest.raises(PlanError) as raised:
        simulate_plan(plan_now(desired, chain), desired, chain.url)
    block = chain.w3.eth.block_number
    assert raised.value.message == (
        f"simulation on an anvil fork at block {block}: transaction 1 of 1 (DvPSettlement.book) reverted with "
        f"InvestorCannotReceive(id='GHOST-1', partition='144A', investor={stranger}, reason=7)"
    )


def test_simulation_reports_gas_beyond_the_estimate(chain: Any, committed: DesiredState) -> None:
    plan = plan_now(committed, chain)
    starved = replace(plan.transactions[0], gas_estimate=60_000)
    with pytest.raises(PlanError, match=r"transaction 1 of 5 \(ComplianceRegistry.blockAddresses\) failed after using"):
        simulate_plan(replace(plan, transactions=(starved, *plan.transactions[1:])), committed, chain.url)


def test_simulation_checks_the_end_state(chain: Any, committed: DesiredState) -> None:
    plan = plan_now(committed, chain)
    partial = replace(plan, transactions=plan.transactions[:1])
    with pytest.raises(PlanError) as raised:
        simulate_plan(partial, committed, chain.url)
    assert raised.value.message.splitlines()[0] == "the plan has 51 problems and sends nothing:"
    assert "after every transaction, investor 0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0 is still None on chain" in (
        raised.value.message
    )
