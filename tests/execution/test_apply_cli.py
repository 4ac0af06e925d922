"""`jinbi apply` as the merge job runs it: its exit codes, messages and files.

The chain and plan file come from target_world.py (21 actions in 7
transactions). Each test reverts the chain to the world's snapshot first.
The installed `jinbi` executable runs where the process matters: a second
apply while the first holds the lock, input on stdin, `devnet up` and
`down`. The other commands run the same entry point forked from a preloaded
forkserver (cli_support.py), which saves a second per command.
Cases: mining paused while apply waits, and a second apply meanwhile; a
transaction that reverts because another process took its booking id; a
stale plan; an edited plan file; a plan file of another environment; the
same plan applied twice; no confirmation without --auto-approve. The last
tests scan every output and file for the signing key, rerun a fresh apply
after a crash, and apply a plan file one of whose changes someone else made
first.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, Completed, converge, edit_yaml, made_up_address, texts_with_key, written_texts
from execution_support import set_automine, txpool_hashes
from target_world import BOOKING_BOOKED, TRANSACTIONS, World, assert_converged_once
from web3 import Web3

from reconciler import PROJECT_ROOT
from reconciler.devnet import dev_account, free_port
from support.rpc_proxy import MethodFaults, Phase, fault_proxy

UNCHANGED_INVESTOR = "0x09Fc49aAC8f0182d421067f5cbB407c69542E903"  # INV-0035: kyc, no qib, IL; the plan leaves it


def nonce(world: World) -> int:
    return int(world.chain.w3.eth.get_transaction_count(dev_account().address))


def wait_for_pending(w3: Web3, sender: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(txpool_hashes(w3, sender)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} transactions reached the txpool in {timeout:g} s"
        time.sleep(0.05)


def planned_booking(world: World, booking_id: str) -> tuple[bytes, bytes, str, int, int]:
    """Return the booking request for BOOKING_ID as the plan's book call carries it."""
    (book,) = [item for item in world.plan["transactions"] if item["function"] == "DvPSettlement.book"]
    for identifier, partition, investor, amount, price in book["call"]["arguments"][0]["value"]:
        if bytes.fromhex(identifier[2:]).rstrip(b"\0").decode() == booking_id:
            return bytes.fromhex(identifier[2:]), bytes.fromhex(partition[2:]), investor, int(amount), int(price)
    raise AssertionError(f"the plan books no {booking_id}")


def assert_refused(result: Completed, message: str, hint: str) -> None:
    """Check exit code 1, the error and hint lines on stderr, and no output on stdout."""
    assert result.returncode == 1, result.describe()
    assert f"error: {message}\nhint: {hint}\n" in result.stderr, result.stderr
    assert result.stdout == ""


# --- waiting, locking, reverting ---------------------------------------------


def test_paused_mining_waits_and_second_apply_is_locked(target_world: World) -> None:
    folder = target_world.new_case("paused-mining")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    set_automine(w3, False)
    try:
        first = workspace.start_jinbi(*target_world.apply_args("--auto-approve"), cwd=folder)
        wait_for_pending(w3, dev_account().address, TRANSACTIONS)

        # The first apply waits for receipts and holds the lock meanwhile.
        second = workspace.jinbi(*target_world.apply_args("--auto-approve"), cwd=folder)
        assert second.returncode == 1, second.describe()
        assert "error: environment devnet is locked by another apply: " in second.stderr
        assert f" pid {first.pid} since " in second.stderr
        assert "hint: wait for that apply to finish, or run `jinbi unlock --env devnet` if it is no longer running\n" in (
            second.stderr
        )
        assert first.poll() is None
    finally:
        set_automine(w3, True)  # mines what is pending

    finished = workspace.finish(first)
    assert finished.returncode == 0, finished.describe()
    assert "7 transactions: 7 confirmed" in finished.stdout
    assert "Apply complete: the chain matches the YAML" in finished.stdout
    assert_converged_once(target_world)


def test_reverted_transaction_fails_clearly(target_world: World) -> None:
    folder = target_world.new_case("revert")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    dvp = target_world.contract("dvp_settlement", "DvPSettlement")
    booked_by_other: list[str] = []

    def book_first(number: int, method: str, phase: Phase, body: bytes) -> bool:
        """Once the plan has passed its staleness check, another process with the same key books ALLOC-0014."""
        if method == "eth_getTransactionCount" and phase is Phase.RECEIVED and not booked_by_other:
            booking = planned_booking(target_world, "ALLOC-0014")
            tx_hash = dvp.functions.book([booking]).transact({"from": dev_account().address})
            assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
            booked_by_other.append(tx_hash.to_0x_hex())
        return False

    faults = MethodFaults(hook=book_first)
    with fault_proxy(target_world.chain.url, faults) as proxy:
        result = workspace.forked(*target_world.apply_args("--auto-approve"), cwd=folder, rpc_url=proxy.url)

    assert faults.hook_errors == []
    assert booked_by_other
    assert result.returncode == 1, result.describe()
    assert "#4 failed: DvPSettlement.book (3 items): reverted with BookingIdTaken(" in result.stdout
    assert "6 confirmed, 1 failed" in result.stdout
    assert "error: 1 of 7 transactions were not confirmed: #4 failed: DvPSettlement.book (3 items): " in result.stderr
    assert "hint: the chain no longer matches the plan: run `jinbi plan` again to see what is left" in result.stderr
    # The batch reverted whole; every other transaction took effect once.
    statuses = {item[0].rstrip(b"\0").decode(): item[5] for item in dvp.functions.bookingsPage(0, 100).call()}
    assert statuses.get("ALLOC-0014") == BOOKING_BOOKED
    assert "ALLOC-0012" not in statuses
    assert "ALLOC-0013" not in statuses
    assert target_world.contract("corporate_actions", "CorporateActions").functions.cycleCount().call() == 1

    # A fresh plan books what is left, and the chain converges.
    recovered = workspace.forked(
        "apply", "--env", ENV, "--state-dir", str(workspace.state_dir), "--auto-approve", "--no-simulate", cwd=folder
    )
    assert recovered.returncode == 0, recovered.describe()
    assert "Plan: 2 allocations to book in 1 transaction." in recovered.stdout
    assert_converged_once(target_world, other_transactions=2)  # the other process's booking and the recovery's


# --- plan files that apply rejects -------------------------------------------


def test_stale_plan_names_changed_value(target_world: World) -> None:
    folder = target_world.new_case("stale")
    registry = target_world.contract("compliance_registry", "ComplianceRegistry")
    registry.functions.setInvestor(UNCHANGED_INVESTOR, True, True, b"IL", 0).transact({"from": dev_account().address})
    before = nonce(target_world)

    result = target_world.workspace.forked(*target_world.apply_args("--auto-approve"), cwd=folder)

    block = target_world.plan["block"]["number"]
    assert_refused(
        result,
        f"the plan is stale: 1 value read at block {block} changed since, by someone other than this plan:\n"
        f"  investors/{UNCHANGED_INVESTOR}/qib: the plan read false, the chain now has true",
        "plan again from the chain as it is now, and have the new plan reviewed",
    )
    assert nonce(target_world) == before


def test_edited_plan_file_is_rejected(target_world: World) -> None:
    folder = target_world.new_case("edited")
    document = json.loads(target_world.plan_file.read_text())
    payment = document["transactions"][-1]
    payment["data"] = payment["data"][:-2] + ("01" if payment["data"][-2:] != "01" else "02")
    edited = folder / "plan.json"
    edited.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    before = nonce(target_world)

    result = target_world.workspace.forked(
        "apply", "--env", ENV, "--state-dir", str(target_world.workspace.state_dir), str(edited), "--auto-approve",
        cwd=folder,
    )  # fmt: skip

    assert_refused(
        result,
        f"plan file {edited} was changed after planning: its content does not match its digest {document['digest']}",
        "apply only the plan file that `jinbi plan --out` wrote and reviewers approved",
    )
    assert nonce(target_world) == before


def test_plan_of_other_environment_is_rejected(target_world: World) -> None:
    folder = target_world.new_case("other-environment")
    workspace = target_world.workspace
    state_dir = folder / "state"
    shutil.copytree(workspace.env_dir, state_dir / "staging")
    environment_file = state_dir / "staging" / "environment.yaml"
    environment_file.write_text(environment_file.read_text().replace("\nname: devnet\n", "\nname: staging\n"))
    shutil.copytree(workspace.env_dir, state_dir / ENV)
    plan_file = folder / "staging-plan.json"
    planned = workspace.forked(
        "plan", "--env", "staging", "--state-dir", str(state_dir), "--no-simulate", "--out", str(plan_file), cwd=folder
    )
    assert planned.returncode == 0, planned.describe()
    before = nonce(target_world)

    result = workspace.forked(
        "apply", "--env", ENV, "--state-dir", str(state_dir), str(plan_file), "--auto-approve", cwd=folder
    )

    assert_refused(
        result,
        f"plan file {plan_file} is for environment staging (chain id 31337), not devnet (chain id 31337)",
        "pass --env staging, or plan devnet again",
    )
    assert nonce(target_world) == before


def test_same_plan_twice_sends_once(target_world: World) -> None:
    folder = target_world.new_case("twice")
    workspace = target_world.workspace
    first = workspace.forked(*target_world.apply_args("--auto-approve"), cwd=folder)
    assert first.returncode == 0, first.describe()

    # Another working folder: the second apply has no journal that records what the first one sent.
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    second = workspace.forked(*target_world.apply_args("--auto-approve"), cwd=elsewhere)

    assert second.returncode == 0, second.describe()
    assert "Every change of this plan is on chain now: nothing more to send.\n" in second.stdout
    assert "Apply complete: the chain matches the YAML" in second.stdout
    assert not (elsewhere / ".jinbi" / "journal").exists()
    assert_converged_once(target_world)


def test_without_auto_approve_and_stdin_aborts(target_world: World) -> None:
    folder = target_world.new_case("no-approval")
    workspace = target_world.workspace
    before = nonce(target_world)
    fresh = ("apply", "--env", ENV, "--state-dir", str(workspace.state_dir), "--no-simulate")

    with_plan_file = workspace.jinbi(*target_world.apply_args(), cwd=folder)
    planned_afresh = workspace.jinbi(*fresh, cwd=folder)
    declined = workspace.jinbi(*fresh, cwd=folder, stdin="n\n")

    for result in (with_plan_file, planned_afresh):
        assert result.returncode == 1, result.describe()
        assert "Send 7 transactions to devnet? [y/N]:" in result.stderr
        assert result.stderr.endswith("error: aborted\n")
    assert "Plan: 5 addresses to block, 1 booking to cancel" in with_plan_file.stdout
    assert declined.returncode == 1, declined.describe()
    assert declined.stderr.endswith("error: apply declined: nothing was sent\n")
    assert nonce(target_world) == before
    assert not (folder / ".jinbi" / "journal").exists()


# --- the key -------------------------------------------------------------------


def test_devnet_commands_carry_no_key(target_world: World, tmp_path: Path) -> None:
    workspace = target_world.workspace
    port = str(free_port())
    state_dir = str(tmp_path / "state")
    shutil.copytree(workspace.env_dir, tmp_path / "state" / ENV)
    results: list[Completed] = []
    try:
        results.append(workspace.jinbi("devnet", "up", "--port", port, "--state-dir", state_dir, cwd=tmp_path))
        results.append(workspace.forked("devnet", "status", "--port", port, cwd=tmp_path))
        results.append(workspace.forked("devnet", "settle", "--port", port, cwd=tmp_path))
        results.append(workspace.forked("devnet", "warp", "--port", port, "--to", "2026-12-31", cwd=tmp_path))
    finally:
        results.append(workspace.jinbi("devnet", "down", "--port", port, cwd=tmp_path))

    assert [result.returncode for result in results] == [0] * len(results), [r.describe() for r in results]
    runtime = PROJECT_ROOT / ".jinbi" / f"devnet-{port}"
    texts = [(f"output {number}", result.stdout + result.stderr) for number, result in enumerate(results)]
    texts += written_texts(tmp_path) + written_texts(runtime)
    shutil.rmtree(runtime)  # the anvil log and lock file of this port, which `devnet down` leaves
    assert any(label.endswith("environment.yaml") for label, _ in texts)
    assert any(label.endswith("anvil.log") for label, _ in texts)
    assert texts_with_key(texts) == []


def test_outputs_and_files_carry_no_key(target_world: World) -> None:
    folder = target_world.new_case("other-commands")
    workspace = target_world.workspace
    common = ("--env", ENV, "--state-dir", str(workspace.state_dir))
    for arguments in (
        ("validate", *common),
        ("plan", *common, "--no-simulate", "--format", "markdown"),
        ("import", *common, "--out-dir", str(folder / "imported")),
    ):
        result = workspace.forked(*arguments, cwd=folder)
        assert result.returncode == 0, result.describe()

    texts: list[tuple[str, Any]] = [*workspace.outputs, *written_texts(workspace.root)]
    labels = [label for label, _ in texts]
    assert any(label.endswith("plan.json") for label in labels)
    assert any("/.jinbi/journal/" in label for label in labels)
    assert texts_with_key(texts) == []


def test_fresh_plan_rerun_waits_for_crashed_run(target_world: World) -> None:
    folder = target_world.new_case("fresh-plan-crash")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    fresh_apply = ("apply", "--env", "devnet", "--state-dir", str(workspace.state_dir), "--auto-approve", "--no-simulate")
    newcomer = made_up_address("fresh-plan-crash/newcomer")
    investors_file = workspace.env_dir / "investors.yaml"
    original_investors = investors_file.read_text()
    set_automine(w3, False)
    try:
        # The first apply plans afresh, sends everything, and dies while its transactions are pending.
        first = workspace.start_jinbi(*fresh_apply, cwd=folder)
        wait_for_pending(w3, dev_account().address, TRANSACTIONS)
        first.kill()
        assert workspace.finish(first).returncode == -9

        # The YAML changes meanwhile, so a fresh plan differs from the crashed one and would repeat its changes.
        edit_yaml(investors_file, lambda document: document["investors"].update(
            {newcomer: {"ref": "INV-NEW-1", "kyc": True, "qib": True, "jurisdiction": "US"}}
        ))
        rerun = workspace.start_jinbi(*fresh_apply, cwd=folder)
        time.sleep(3)  # the rerun now waits for the crashed run's receipts
    finally:
        set_automine(w3, True)  # mines what is pending
    finished = workspace.finish(rerun)
    investors_file.write_text(original_investors)

    assert finished.returncode == 0, finished.describe()
    assert "Resuming the interrupted apply of plan sha256:" in finished.stdout
    assert f"{TRANSACTIONS} transactions: {TRANSACTIONS} confirmed" in finished.stdout
    assert "1 transaction: 1 confirmed" in finished.stdout, finished.stdout
    assert w3.eth.get_transaction_count(dev_account().address) == target_world.nonce_before + TRANSACTIONS + 1


# --- a change of the plan that someone else made first -----------------------

NEW_SNAPSHOT = ("2027-Q1", "QmSWc9JeZndVuJjSNSpxHcwiWrKLo4c5MYY1i2n4p1UWju")
NEW_ATTESTATION = ("monthly-custody-202612", "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe")


def record_snapshot_first(world: World, document: dict[str, Any], state_dir: Path, folder: Path) -> str:
    """Send the plan's own recordSnapshots call from the plan's signer, outside `jinbi apply`; return the stale line."""
    (call,) = [item for item in document["transactions"] if item["function"] == "TransferAgentBridge.recordSnapshots"]
    w3 = world.chain.w3
    tx_hash = w3.eth.send_transaction({"from": dev_account().address, "to": call["to"], "data": call["data"]})
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    period, cid = NEW_SNAPSHOT
    return f"cap_table_snapshots/{period}/cid: the plan read absent, the chain now has {cid}"


def pause_first(world: World, document: dict[str, Any], state_dir: Path, folder: Path) -> str:
    """Pause the token with `jinbi pause`, as the on-call engineer would; return the stale line."""
    paused = world.workspace.forked(
        "pause", "--env", ENV, "--state-dir", str(state_dir), "--reason", "custodian incident", cwd=folder
    )
    assert paused.returncode == 0, paused.describe()
    return "security_token/paused: the plan read false, the chain now has true"


@pytest.mark.parametrize("change_first", [record_snapshot_first, pause_first], ids=["snapshot", "pause"])
def test_plan_change_made_by_other_is_stale(target_world: World, change_first: Any) -> None:
    folder = target_world.new_case(f"made-by-other-{change_first.__name__}")
    workspace, w3 = target_world.workspace, target_world.chain.w3
    state_dir = folder / "state"
    shutil.copytree(workspace.env_dir, state_dir / ENV)
    assert converge(w3, state_dir) == TRANSACTIONS

    # A reviewed plan that pauses the token and records a snapshot and an attestation.
    period, cid = NEW_SNAPSHOT
    label, attestation_cid = NEW_ATTESTATION
    edit_yaml(state_dir / ENV / "pause.yaml", lambda document: document.update(paused=True, reason="custody review"))
    edit_yaml(state_dir / ENV / "cap-tables.yaml", lambda document: document["snapshots"].update({period: {"cid": cid}}))
    edit_yaml(state_dir / ENV / "attestations.yaml", lambda document: document["attestations"].update(
        {label: {"scope": "monthly-custody", "cid": attestation_cid}}
    ))  # fmt: skip
    plan_file = folder / "plan.json"
    planned = workspace.forked("plan", "--env", ENV, "--state-dir", str(state_dir), "--out", str(plan_file), cwd=folder)
    assert planned.returncode == 0, planned.describe()
    document = json.loads(plan_file.read_text())
    assert [item["function"] for item in document["transactions"]] == [
        "CompliantSecurityToken.pause",
        "TransferAgentBridge.recordSnapshots",
        "CustodyAttestations.recordAttestations",
    ]

    # Someone else makes one of its changes, with the plan's signer, before the plan is applied.
    stale_line = change_first(target_world, document, state_dir, folder)
    before = nonce(target_world)

    result = workspace.forked(
        "apply", "--env", ENV, "--state-dir", str(state_dir), str(plan_file), "--auto-approve", cwd=folder
    )

    assert result.returncode == 1, result.describe()
    assert result.stdout == ""
    assert "error: the plan is stale: " in result.stderr
    assert f"read at block {document['block']['number']} changed since, by someone other than this plan:\n" in (
        result.stderr
    )
    assert f"  {stale_line}\n" in result.stderr
    assert "hint: plan again from the chain as it is now, and have the new plan reviewed\n" in result.stderr
    assert nonce(target_world) == before
    assert not (folder / ".jinbi" / "journal" / ENV / f"{document['digest'].replace(':', '-')}.json").exists()
