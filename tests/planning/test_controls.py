"""Pause, role holders and court-ordered force transfers against a real anvil: add, change, no-op, drift, import.

The module seeds the session's chain once with the committed devnet state,
applied and settled, so that investors have tokens a force transfer can
move. Each test starts from that seeded chain and from a copy of
state/devnet that matches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from apply_support import BEFORE_FIRST_COUPON, SIGNER, send_plan

from reconciler import PROJECT_ROOT
from reconciler.chain.observe import Observation, observe
from reconciler.desired import DesiredState, load_state
from reconciler.devnet_ops import settle_open_bookings
from reconciler.errors import PlanError
from reconciler.importing import import_state
from reconciler.model import PAUSE_KEY, RoleStatus, role_key
from reconciler.money import format_base_units
from reconciler.planning.calls import Function
from reconciler.planning.plan import Plan, PlanOptions, build_plan, plan_document
from reconciler.planning.records import Verb
from reconciler.planning.render_markdown import render_markdown
from reconciler.planning.render_text import render_text

JINBI = PROJECT_ROOT / ".venv" / "bin" / "jinbi"
INVESTOR_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # holds 250,000 JINBI of 144A after the seeding
INVESTOR_2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OUTSIDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil's development account 3
BLOCKED = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"  # blocked by the committed sanctions.yaml
NOT_QIB = "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0"  # INV-0031: kyc, qib false
STRANGER = "0x1212121212121212121212121212121212121212"  # in no YAML file and not on chain
LEGAL_REFERENCE = "SDNY 1:26-cv-01234, order of 2026-11-30"
TOKEN = 10**18


@pytest.fixture(scope="module")
def seeded(devnet: Any) -> Iterator[Any]:
    """The session's chain with the committed devnet state applied and every booking settled."""
    desired = load_state(PROJECT_ROOT / "state", "devnet")
    send_plan(devnet, plan_at(desired, devnet))
    settle_open_bookings(devnet.local.port)
    devnet.seed_snapshot = devnet.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield devnet
    finally:
        devnet.revert()


@pytest.fixture
def chain(seeded: Any) -> Iterator[Any]:
    """The seeded chain, returned to its seeded state after the test."""
    try:
        yield seeded
    finally:
        assert seeded.w3.provider.make_request("evm_revert", [seeded.seed_snapshot])["result"] is True
        seeded.seed_snapshot = seeded.w3.provider.make_request("evm_snapshot", [])["result"]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A copy of the committed state/devnet, which the seeded chain matches."""
    target = tmp_path / "state"
    shutil.copytree(PROJECT_ROOT / "state" / "devnet", target / "devnet")
    return target


def plan_at(desired: DesiredState, chain: Any, *, signer: str = SIGNER) -> Plan:
    """Plan DESIRED at the chain's latest block, with the chain's time before the committed coupons."""
    senders = {(order.partition, order.sender) for order in desired.state.force_transfers.values()}
    observation: Observation = observe(chain.w3, desired.environment, balances_of=senders)
    observation = replace(observation, block_timestamp=min(observation.block_timestamp, BEFORE_FIRST_COUPON))
    return build_plan(desired, observation, PlanOptions(signer=signer))


def plan_of(state_dir: Path, chain: Any) -> Plan:
    return plan_at(load_state(state_dir, "devnet"), chain)


def write(state_dir: Path, name: str, text: str) -> None:
    kind = name.removesuffix(".yaml")
    schema = f"# yaml-language-server: $schema=../../schemas/{kind}.schema.json\n"
    (state_dir / "devnet" / name).write_text(schema + text, encoding="utf-8")


def set_role(state_dir: Path, contract: str, role: str, holder: str, status: str) -> None:
    """Add HOLDER: STATUS to CONTRACT's ROLE in roles.yaml, keeping the other holders."""
    path = state_dir / "devnet" / "roles.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"  {contract}:")
    for index in range(start + 1, len(lines)):
        if lines[index].startswith(f"    {role}: {{"):
            lines[index] = lines[index][:-1] + f', "{holder}": {status}}}'
            break
    else:
        raise AssertionError(f"{contract} {role} not in roles.yaml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def order_yaml(
    order_id: str = "ORDER-2026-001", amount: str = "1000", sender: str = INVESTOR_1, recipient: str = INVESTOR_2
) -> str:
    return (
        f"kind: ForceTransfers\norders:\n  {order_id}:\n    legal_reference: \"{LEGAL_REFERENCE}\"\n"
        f'    partition: "144A"\n    from: "{sender}"\n    to: "{recipient}"\n    amount: "{amount}"\n'
    )


def functions(plan: Plan) -> list[str]:
    return [transaction.function.name for transaction in plan.transactions]


def token(chain: Any) -> Any:
    return chain.contracts["security_token"]


def balance(chain: Any, holder: str) -> int:
    return int(token(chain).functions.balanceOfByPartition(b"144A".ljust(32, b"\0"), holder).call())


def jinbi(chain: Any, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    return subprocess.run(
        [str(JINBI), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=180, check=False
    )


def test_seeded_chain_matches_the_committed_state(chain: Any, state_dir: Path) -> None:
    plan = plan_of(state_dir, chain)

    assert plan.transactions == ()
    assert [warning for warning in plan.warnings if warning.code == "drift"] == []


# --- pause -------------------------------------------------------------------


def test_pause_is_sent_first_then_converges(chain: Any, state_dir: Path) -> None:
    write(state_dir, "pause.yaml", 'kind: Pause\npaused: true\nreason: "custodian incident 2026-11"\n')
    set_role(state_dir, "compliance_registry", "COMPLIANCE_OFFICER_ROLE", OUTSIDER, "granted")

    plan = plan_of(state_dir, chain)

    assert functions(plan) == ["PAUSE", "GRANT_REGISTRY_ROLE"]
    assert plan.actions[0].description == (
        f"would pause every transfer and issuance of the token {token(chain).address}, "
        "reason: custodian incident 2026-11"
    )
    send_plan(chain, plan)
    assert token(chain).functions.paused().call() is True
    assert plan_of(state_dir, chain).transactions == ()


def test_unpause_sent_matching_pause_unchanged(chain: Any, state_dir: Path) -> None:
    token(chain).functions.pause().transact({"from": SIGNER})
    write(state_dir, "pause.yaml", 'kind: Pause\npaused: true\nreason: "investigation"\n')
    assert plan_of(state_dir, chain).transactions == ()

    write(state_dir, "pause.yaml", 'kind: Pause\npaused: false\nreason: "reviewed and cleared"\n')
    plan = plan_of(state_dir, chain)

    assert functions(plan) == ["UNPAUSE"]
    assert plan.actions[0].stage.label == "permissive"
    assert plan.actions[0].description.endswith("reason: reviewed and cleared")


def test_pause_without_pause_file_is_drift_not_action(chain: Any, state_dir: Path) -> None:
    (state_dir / "devnet" / "pause.yaml").unlink()
    assert plan_of(state_dir, chain).warnings == ()
    token(chain).functions.pause().transact({"from": SIGNER})

    plan = plan_of(state_dir, chain)

    assert plan.transactions == ()
    assert [(warning.code, warning.key, warning.message) for warning in plan.warnings] == [
        ("drift", PAUSE_KEY, "pause state security_token is paused on chain but not in the YAML: "
         "the plan leaves it as it is")
    ]


# --- roles -------------------------------------------------------------------


def test_grant_comes_before_the_calls_that_need_it(chain: Any, state_dir: Path) -> None:
    set_role(state_dir, "transfer_agent_bridge", "TRANSFER_AGENT_ROLE", OUTSIDER, "granted")
    desired = load_state(state_dir, "devnet")
    holders = observe(chain.w3, desired.environment).roles["transfer_agent_bridge"]["TRANSFER_AGENT_ROLE"]
    assert OUTSIDER not in holders

    plan = plan_at(desired, chain)

    assert functions(plan) == ["GRANT_TRANSFER_AGENT_ROLE"]
    assert plan.actions[0].description == (
        f"would grant TRANSFER_AGENT_ROLE on TransferAgentBridge {desired.environment.contracts.transfer_agent_bridge} "
        f"to {OUTSIDER}"
    )
    send_plan(chain, plan)
    assert plan_at(desired, chain).transactions == ()


def test_revocation_is_explicit_and_sent_after_other_calls(chain: Any, state_dir: Path) -> None:
    registry = chain.contracts["compliance_registry"]
    officer = bytes(chain.w3.keccak(text="COMPLIANCE_OFFICER_ROLE"))
    registry.functions.grantRole(officer, OUTSIDER).transact({"from": SIGNER})
    set_role(state_dir, "compliance_registry", "COMPLIANCE_OFFICER_ROLE", OUTSIDER, "revoked")
    write(state_dir, "pause.yaml", 'kind: Pause\npaused: true\nreason: "incident"\n')

    plan = plan_of(state_dir, chain)

    assert functions(plan) == ["PAUSE", "REVOKE_REGISTRY_ROLE"]
    assert plan.actions[1].verb is Verb.REVOKE_ROLE
    send_plan(chain, plan)
    assert not registry.functions.hasRole(officer, OUTSIDER).call()
    assert plan_of(state_dir, chain).transactions == ()


def test_holder_missing_from_yaml_is_drift_never_revoked(chain: Any, state_dir: Path) -> None:
    registry = chain.contracts["compliance_registry"]
    officer = bytes(chain.w3.keccak(text="COMPLIANCE_OFFICER_ROLE"))
    registry.functions.grantRole(officer, OUTSIDER).transact({"from": SIGNER})

    plan = plan_of(state_dir, chain)

    assert plan.transactions == ()
    assert [(warning.code, warning.key) for warning in plan.warnings] == [
        ("drift", role_key("compliance_registry", "COMPLIANCE_OFFICER_ROLE", OUTSIDER))
    ]
    assert "holds the role on chain but not in" in plan.warnings[0].message


def set_admins(state_dir: Path, contract: str, holders: str) -> Path:
    """Replace CONTRACT's DEFAULT_ADMIN_ROLE line in roles.yaml, which grants the signer, with HOLDERS."""
    path = state_dir / "devnet" / "roles.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    admin = lines.index(f"  {contract}:") + 1
    assert lines[admin] == f'    DEFAULT_ADMIN_ROLE: {{"{SIGNER}": granted}}'
    lines[admin] = f"    DEFAULT_ADMIN_ROLE: {holders}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_removing_the_last_admin_is_refused(chain: Any, state_dir: Path) -> None:
    path = set_admins(state_dir, "dvp_settlement", f'{{"{SIGNER}": revoked}}')

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert raised.value.message.endswith(
        f"the plan would revoke DEFAULT_ADMIN_ROLE on DvPSettlement from {SIGNER}, which leaves the contract "
        "without any admin: nobody could grant or revoke its roles again, and the contract itself refuses it"
    )
    assert raised.value.message.startswith(f"{path}:")
    assert raised.value.hint == (
        "write granted for at least one DEFAULT_ADMIN_ROLE holder of dvp_settlement that is an account or a "
        "Safe, not a contract of the suite or a price feed (a new admin is granted before any revocation is sent)"
    )


@pytest.mark.parametrize("holder", ["contract", "feed"])
def test_admin_moved_to_contract_refused(chain: Any, state_dir: Path, holder: str) -> None:
    # Neither a contract of the suite nor a price feed ever calls grantRole, so an admin role handed to it is lost.
    environment = load_state(state_dir, "devnet").environment
    address = environment.contracts.compliance_registry if holder == "contract" else environment.price_feeds["XAU/USD"].address
    set_admins(state_dir, "compliance_registry", f'{{"{SIGNER}": revoked, "{address}": granted}}')

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert raised.value.message.endswith(
        f"the plan would revoke DEFAULT_ADMIN_ROLE on ComplianceRegistry from {SIGNER}, which leaves as admin only "
        f"{address}, which cannot send transactions: nobody could grant or revoke its roles again"
    )


def test_signer_role_revoked_too_early_rejected(chain: Any, state_dir: Path) -> None:
    path = state_dir / "devnet" / "roles.yaml"
    text = path.read_text(encoding="utf-8").replace(
        f'CONTROLLER_ROLE: {{"{SIGNER}": granted}}', f'CONTROLLER_ROLE: {{"{SIGNER}": revoked}}'
    )
    path.write_text(text, encoding="utf-8")
    write(state_dir, "force-transfers.yaml", order_yaml())

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert "the plan revokes CONTROLLER_ROLE on security_token from its signer" in raised.value.message
    assert "before CompliantSecurityToken.forceTransfer for ORDER-2026-001, which needs that role" in raised.value.message
    assert raised.value.hint.startswith(f"keep CONTROLLER_ROLE granted to {SIGNER} in this change")


# --- force transfers ---------------------------------------------------------


def test_force_transfer_is_last_and_flagged(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    set_role(state_dir, "compliance_registry", "COMPLIANCE_OFFICER_ROLE", OUTSIDER, "granted")

    plan = plan_of(state_dir, chain)

    assert functions(plan) == ["GRANT_REGISTRY_ROLE", "FORCE_TRANSFER"]
    assert list(Function)[-1] is Function.FORCE_TRANSFER
    assert plan.force_transfer_orders == ("ORDER-2026-001",)
    assert plan_document(plan)["summary"]["force_transfers"] == ["ORDER-2026-001"]
    banner = (
        "WARNING: this plan contains 1 court-ordered force transfer (ORDER-2026-001): it moves tokens without "
        "the holder's consent and cannot be undone. `jinbi apply` sends a force transfer only with --allow-force-transfer."
    )
    assert banner in render_text(plan).plain.splitlines()
    assert "&#91;&#33;WARNING&#93;" not in render_markdown(plan)[0]
    assert "> [!WARNING]\n> **WARNING: this plan contains 1 court" in render_markdown(plan)[0].replace("&#58;", ":")


def test_order_larger_than_the_balance_is_refused(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml(amount="250000.5"))

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert raised.value.message.endswith(
        f"force-transfer order ORDER-2026-001 would move 250000.5 JINBI of 144A from {INVESTOR_1}, "
        "which holds 250000 JINBI of 144A"
    )


def chained_orders(second_amount: int) -> str:
    """Return two orders: 1000 JINBI from INVESTOR_1 to INVESTOR_2, then SECOND_AMOUNT base units back."""
    second = order_yaml("ORDER-2026-012", amount=format_base_units(second_amount, 18), sender=INVESTOR_2, recipient=INVESTOR_1)
    return order_yaml("ORDER-2026-011") + second.split("orders:\n", 1)[1]


def test_chained_orders_count_earlier_transfers(chain: Any, state_dir: Path) -> None:
    balance_before = balance(chain, INVESTOR_2)
    write(state_dir, "force-transfers.yaml", chained_orders(balance_before + 1000 * TOKEN))

    plan = plan_of(state_dir, chain)
    send_plan(chain, plan)

    assert [action.key for action in plan.actions] == ["ORDER-2026-011", "ORDER-2026-012"]
    assert balance(chain, INVESTOR_2) == 0


def test_chained_orders_above_balance_refused(chain: Any, state_dir: Path) -> None:
    balance_before = balance(chain, INVESTOR_2)
    write(state_dir, "force-transfers.yaml", chained_orders(balance_before + 1000 * TOKEN + 1))

    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert raised.value.message.endswith(
        f"force-transfer order ORDER-2026-012 would move {format_base_units(balance_before + 1000 * TOKEN + 1, 18)} JINBI "
        f"of 144A from {INVESTOR_2}, which holds {format_base_units(balance_before + 1000 * TOKEN, 18)} JINBI of 144A "
        "with what earlier orders of the plan move to it"
    )


def test_orders_sent_in_file_order(chain: Any, state_dir: Path) -> None:
    # "ORD-10" sorts before "ORD-9" as text, but the file lists ORD-9 first and ORD-10 spends what it delivers.
    balance_before = balance(chain, INVESTOR_2)
    first = order_yaml("ORD-9")
    second = order_yaml(
        "ORD-10", amount=format_base_units(balance_before + 1000 * TOKEN, 18), sender=INVESTOR_2, recipient=INVESTOR_1
    )
    write(state_dir, "force-transfers.yaml", first + second.split("orders:\n", 1)[1])

    plan = plan_of(state_dir, chain)

    assert [action.key for action in plan.actions] == ["ORD-9", "ORD-10"]


def test_executed_order_unchanged_edit_rejected(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    send_plan(chain, plan_of(state_dir, chain))
    assert balance(chain, INVESTOR_1) == 249_000 * TOKEN
    assert plan_of(state_dir, chain).transactions == ()

    write(state_dir, "force-transfers.yaml", order_yaml(amount="2000"))
    with pytest.raises(PlanError) as raised:
        plan_of(state_dir, chain)

    assert raised.value.message.endswith(
        "force-transfer order ORDER-2026-001 was executed on chain with amount 1000 JINBI, but the YAML has "
        "2000 JINBI; an executed order is a fact and cannot be edited"
    )
    assert raised.value.hint == 'restore amount: "1000", and write any further court order under a new id'


def test_executed_order_missing_from_yaml_is_drift(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    send_plan(chain, plan_of(state_dir, chain))
    (state_dir / "devnet" / "force-transfers.yaml").unlink()

    plan = plan_of(state_dir, chain)

    assert plan.transactions == ()
    assert [(warning.code, warning.key) for warning in plan.warnings] == [("drift", "ORDER-2026-001")]


@pytest.mark.parametrize(
    ("recipient", "finding"),
    [
        pytest.param(BLOCKED, f"moves tokens to {BLOCKED}, which is blocked (OFAC-SDN)", id="blocked"),
        pytest.param(STRANGER, f"moves tokens to {STRANGER}, which is not a KYC'd investor in the compliance registry",
                     id="not-investor"),
        pytest.param(NOT_QIB, f"moves 144A tokens to {NOT_QIB}, which is not a qualified institutional buyer (qib: false)",
                     id="not-qib"),
    ],
)  # fmt: skip
def test_noncompliant_recipient_is_warned(
    chain: Any, state_dir: Path, recipient: str, finding: str
) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml(recipient=recipient))

    plan = plan_of(state_dir, chain)

    message = f"force-transfer order ORDER-2026-001 {finding}: check that the court order names this account and overrides compliance"
    assert functions(plan) == ["FORCE_TRANSFER"]
    assert ("force-transfer-compliance", "ORDER-2026-001", message) in [
        (warning.code, warning.key, warning.message) for warning in plan.warnings
    ]
    assert f"  ! force-transfer-compliance: {message}" in render_text(plan).plain.splitlines()
    assert {"code": "force-transfer-compliance", "kind": "force_transfers", "key": "ORDER-2026-001",
            "message": message} in plan_document(plan)["warnings"]  # fmt: skip


def test_compliant_order_has_no_warning(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())

    assert plan_of(state_dir, chain).warnings == ()


def test_repeated_order_is_warned(chain: Any, state_dir: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    send_plan(chain, plan_of(state_dir, chain))
    repeat = order_yaml(order_id="ORDER-2026-002").replace("kind: ForceTransfers\norders:\n", "")
    write(state_dir, "force-transfers.yaml", order_yaml() + repeat)

    plan = plan_of(state_dir, chain)

    assert functions(plan) == ["FORCE_TRANSFER"]
    (warning,) = plan.warnings
    assert (warning.code, warning.key) == ("force-transfer-repeat", "ORDER-2026-002")
    assert warning.message.startswith("force-transfer order ORDER-2026-002 repeats order ORDER-2026-001, executed on chain on ")
    assert warning.message.endswith(
        "with the same legal reference, partition, accounts and amount (1000 JINBI): "
        "check that the court ordered a second transfer"
    )


# --- import ------------------------------------------------------------------


def test_import_round_trip(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    write(state_dir, "pause.yaml", 'kind: Pause\npaused: true\nreason: "court hearing"\n')
    set_role(state_dir, "custody_attestations", "CUSTODIAN_ROLE", OUTSIDER, "granted")
    send_plan(chain, plan_of(state_dir, chain))

    out = tmp_path / "imported" / "devnet"
    out.mkdir(parents=True)
    shutil.copy(state_dir / "devnet" / "environment.yaml", out / "environment.yaml")
    report = import_state(state_dir, "devnet", out_dir=out, w3=chain.w3)

    assert report.diagnostics == ()
    imported = load_state(out.parent, "devnet")
    committed = load_state(state_dir, "devnet")
    assert imported.state.force_transfers == committed.state.force_transfers
    assert imported.state.pause == committed.state.pause  # the reason is kept from the YAML
    assert imported.state.roles == committed.state.roles
    assert plan_at(imported, chain).transactions == ()
    assert all(each.status is RoleStatus.GRANTED for each in imported.state.roles.values())


def test_import_leaves_out_rejected_order(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    # A right-to-left override in the legal reference: the YAML rules reject bidi characters.
    call = token(chain).functions.forceTransfer(
        b"ORDER-2026-007".ljust(32, b"\0"), b"144A".ljust(32, b"\0"), INVESTOR_1, INVESTOR_2, TOKEN, "Case \u202e7002"
    )
    assert chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": SIGNER}))["status"] == 1
    out = tmp_path / "imported" / "devnet"
    out.mkdir(parents=True)
    shutil.copy(state_dir / "devnet" / "environment.yaml", out / "environment.yaml")

    report = import_state(state_dir, "devnet", out_dir=out, w3=chain.w3)

    assert report.diagnostics == ()
    assert [record.key for record in report.left_out] == ["ORDER-2026-007"]
    assert report.left_out[0].describe().endswith(
        "Do not write it again under a new id: that would move the tokens a second time"
    )
    assert load_state(out.parent, "devnet").state.force_transfers == {}


# --- apply -------------------------------------------------------------------


def test_apply_refuses_force_transfer_without_flag(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    args = ("apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", "--no-git-notes", "--no-simulate")

    refused = jinbi(chain, tmp_path, *args)

    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.splitlines()[0] == (
        "error: the plan contains 1 court-ordered force transfer (ORDER-2026-001), and apply sends force transfers "
        "only with --allow-force-transfer: nothing was sent"
    )
    assert balance(chain, INVESTOR_1) == 250_000 * TOKEN


def test_force_transfer_is_applied_once_when_apply_reruns(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    write(state_dir, "force-transfers.yaml", order_yaml())
    args = (
        "apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", "--no-git-notes",
        "--allow-force-transfer", "--no-simulate",
    )  # fmt: skip

    first = jinbi(chain, tmp_path, *args)
    second = jinbi(chain, tmp_path, *args)

    assert first.returncode == 0, first.stderr
    assert "CompliantSecurityToken.forceTransfer" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "forceTransfer" not in second.stdout
    assert balance(chain, INVESTOR_1) == 249_000 * TOKEN
    assert balance(chain, INVESTOR_2) == 100_000 * TOKEN + 1_000 * TOKEN
    assert token(chain).functions.forceTransferCount().call() == 1


def anvil(chain: Any, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))["result"]


def crash_with_force_transfer_pending(chain: Any, state_dir: Path, cwd: Path) -> None:
    """Start an apply of one force-transfer order, kill it once the order is pending, and let the node drop it."""
    write(state_dir, "force-transfers.yaml", order_yaml())
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    args = (
        "apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", "--no-git-notes",
        "--allow-force-transfer", "--no-simulate",
    )  # fmt: skip
    anvil(chain, "evm_setAutomine", False)
    try:
        first = subprocess.Popen([str(JINBI), *args], cwd=cwd, env=environment, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while int(anvil(chain, "txpool_status")["pending"], 16) < 1:
                assert time.monotonic() < deadline, "the force transfer never reached the txpool"
                time.sleep(0.05)
        finally:
            first.kill()
            first.wait()
        anvil(chain, "anvil_dropAllTransactions")
    finally:
        anvil(chain, "evm_setAutomine", True)
    (state_dir / "devnet" / "force-transfers.yaml").unlink()


def test_resumed_force_transfer_is_gated(chain: Any, state_dir: Path, tmp_path: Path) -> None:
    crash_with_force_transfer_pending(chain, state_dir, tmp_path)
    args = ("apply", "--env", "devnet", "--state-dir", str(state_dir), "--no-git-notes", "--no-simulate")

    without_flag = jinbi(chain, tmp_path, *args, "--auto-approve")
    declined = subprocess.run(
        [str(JINBI), *args, "--allow-force-transfer"], cwd=tmp_path, input="n\n", capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "JINBI_PRIVATE_KEY"}, "JINBI_RPC_URL": chain.url},
        timeout=180, check=False,
    )  # fmt: skip

    assert without_flag.returncode == 1, without_flag.stdout
    assert "  transaction 1, CompliantSecurityToken.forceTransfer:\n    COURT-ORDERED FORCE TRANSFER: would move 1000 JINBI" in (
        without_flag.stdout
    )
    assert "\nerror: the interrupted apply of plan sha256:" in without_flag.stderr
    assert "journaled 1 court-ordered force transfer (ORDER-2026-001) that may not have reached the chain" in (
        without_flag.stderr
    )
    assert declined.returncode == 1, declined.stdout
    assert "Resend 1 journaled transaction to devnet? [y/N]" in declined.stdout + declined.stderr
    assert "error: apply declined: nothing was sent" in declined.stderr
    assert token(chain).functions.forceTransferCount().call() == 0
    assert balance(chain, INVESTOR_1) == 250_000 * TOKEN
