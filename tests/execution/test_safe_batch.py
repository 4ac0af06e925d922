"""`jinbi plan --signer SAFE --safe-batch FILE`: the plan's transactions as a Safe Transaction Builder batch file.

A made-up address plays the Safe: it gets the compliance officer, issuer,
transfer agent and custodian roles, the plan names it as signer, and anvil's impersonation sends the
batch from it at the end, as the Safe's multisend would. The committed
devnet state's coupon dates move to 2030, so the plan needs no USDC
approval, which only the treasury could send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, Workspace, edit_yaml, made_up_address, make_workspace
from web3 import Web3

from reconciler.chain import artifacts
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.planning.plan import PlanOptions, build_plan, json_value
from reconciler.planning.safe_batch import batch_checksum, checksum_of_serialized, safe_batch_json

SAFE = made_up_address("safe")
ROLES = {
    "compliance_registry": ("ComplianceRegistry", "COMPLIANCE_OFFICER_ROLE"),
    "dvp_settlement": ("DvPSettlement", "ISSUER_ROLE"),
    "corporate_actions": ("CorporateActions", "ISSUER_ROLE"),
    "transfer_agent_bridge": ("TransferAgentBridge", "TRANSFER_AGENT_ROLE"),
    "custody_attestations": ("CustodyAttestations", "CUSTODIAN_ROLE"),
}
# The artifact whose ABI decodes each contract's calls, by its key in the environment file.
ARTIFACTS = {
    "compliance_registry": "ComplianceRegistry",
    "dvp_settlement": "DvPSettlement",
    "corporate_actions": "CorporateActions",
    "transfer_agent_bridge": "TransferAgentBridge",
    "custody_attestations": "CustodyAttestations",
    "usdc": "MockUSDC",
}


def positional(value: Any) -> Any:
    """Turn the named fields of decoded tuples (web3 returns them as dicts, in ABI order) into plain sequences."""
    if isinstance(value, dict):
        return [positional(item) for item in value.values()]
    if isinstance(value, (list, tuple)):
        return [positional(item) for item in value]
    return value


def later_coupons(document: dict[str, Any]) -> None:
    document["cycles"] = {
        "1": {"period": "2030-Q4", "rate_bps": 125, "record_date": "2030-12-15", "payment_date": "2030-12-31"}
    }


@pytest.fixture
def safe_workspace(chain: Any, tmp_path: Path) -> Workspace:
    workspace = make_workspace(tmp_path, chain.deployment, chain.url)
    edit_yaml(workspace.env_dir / "coupons.yaml", later_coupons)
    admin = chain.signer
    for key, (artifact, role) in ROLES.items():
        contract = chain.w3.eth.contract(address=getattr(chain.deployment, key), abi=artifacts.load(artifact).abi)
        role_id = getattr(contract.functions, role)().call()
        chain.w3.eth.wait_for_transaction_receipt(contract.functions.grantRole(role_id, SAFE).transact({"from": admin}))
    return workspace


def plan_for_safe(workspace: Workspace, *options: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Run `jinbi plan --signer SAFE --safe-batch` and return the plan file, the batch file and its bytes."""
    plan_file, batch_file = workspace.root / "plan.json", workspace.root / "safe-batch.json"
    result = workspace.forked(
        "plan", "--env", ENV, "--state-dir", str(workspace.state_dir), "--signer", SAFE,
        "--safe-batch", str(batch_file), "--out", str(plan_file), *options,
    )  # fmt: skip
    assert result.returncode == 0, result.describe()
    raw = batch_file.read_bytes()
    return json.loads(plan_file.read_text()), json.loads(raw), raw


def test_batch_file_fields(safe_workspace: Workspace) -> None:
    plan, batch, _ = plan_for_safe(safe_workspace)

    assert list(batch) == ["version", "chainId", "createdAt", "meta", "transactions"]
    assert batch["version"] == "1.0"
    assert batch["chainId"] == "31337"
    assert batch["createdAt"] == plan["block"]["timestamp"] * 1000
    assert list(batch["meta"]) == ["name", "description", "createdFromSafeAddress", "checksum"]
    assert batch["meta"]["name"] == "JINBI devnet: 5 transactions"
    assert batch["meta"]["description"].startswith(plan["summary"]["text"] + " Planned at block ")
    assert f"plan {plan['digest']}" in batch["meta"]["description"]
    assert batch["meta"]["createdFromSafeAddress"] == SAFE
    assert batch["meta"]["checksum"] == batch_checksum(batch)
    assert [set(item) for item in batch["transactions"]] == [{"to", "value", "data"}] * 5


def test_batch_calldata_decodes_to_planned_calls(safe_workspace: Workspace) -> None:
    plan, batch, _ = plan_for_safe(safe_workspace)

    assert len(batch["transactions"]) == len(plan["transactions"]) == 5
    for item, planned in zip(batch["transactions"], plan["transactions"], strict=True):
        assert item["to"] == planned["to"]
        assert item["value"] == "0"
        assert planned["from"] == SAFE
        contract = Web3().eth.contract(abi=artifacts.load(ARTIFACTS[planned["contract"]]).abi)
        function, arguments = contract.decode_function_input(item["data"])
        assert function.signature == planned["call"]["signature"]
        assert [json_value(positional(arguments[argument["name"]])) for argument in planned["call"]["arguments"]] == [
            argument["value"] for argument in planned["call"]["arguments"]
        ]


def test_batch_file_is_byte_identical(safe_workspace: Workspace, chain: Any) -> None:
    _, _, first = plan_for_safe(safe_workspace, "--no-simulate")
    _, _, second = plan_for_safe(safe_workspace, "--no-simulate")

    assert first == second
    # The same plan built in this process gives the same bytes: the file depends on the plan only.
    desired = load_state(safe_workspace.state_dir, ENV)
    plan = build_plan(desired, observe(chain.w3, desired.environment), PlanOptions(signer=SAFE))
    assert safe_batch_json(plan).encode() == first


def test_batch_sent_by_safe_converges(safe_workspace: Workspace, chain: Any) -> None:
    _, batch, _ = plan_for_safe(safe_workspace, "--no-simulate")
    w3 = chain.w3
    w3.provider.make_request("anvil_impersonateAccount", [SAFE])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_setBalance", [SAFE, hex(10**21)])  # type: ignore[arg-type]
    try:
        for item in batch["transactions"]:
            call = {"from": SAFE, "to": item["to"], "value": int(item["value"]), "data": item["data"]}
            assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(call))["status"] == 1  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("anvil_stopImpersonatingAccount", [SAFE])  # type: ignore[arg-type]

    desired = load_state(safe_workspace.state_dir, ENV)
    after = build_plan(desired, observe(w3, desired.environment), PlanOptions(signer=SAFE))
    assert not after.has_changes


def test_safe_batch_needs_signer(safe_workspace: Workspace) -> None:
    result = safe_workspace.forked(
        "plan", "--env", ENV, "--state-dir", str(safe_workspace.state_dir), "--safe-batch", "batch.json"
    )

    assert result.returncode == 1
    assert result.stderr == (
        "error: --safe-batch requires --signer: the address of the Safe that has the roles and proposes the batch\n"
        "hint: pass --signer with the Safe's address\n"
    )


def test_checksum_matches_transaction_builder_vector() -> None:
    # The known-answer test of the Transaction Builder's checksum (apps/tx-builder/src/lib/checksum.test.js in
    # github.com/safe-global/safe-react-apps): a file that still contains an empty checksum, hashed with name null.
    account = "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6"
    batch = {
        "version": "1.0",
        "chainId": "4",
        "createdAt": 1646321521061,
        "meta": {
            "name": None,
            "txBuilderVersion": "1.4.0",
            "checksum": "",
            "createdFromSafeAddress": "0xDF8a1Ce35c9a6ACE153B4e0767942f1E2291a1Aa",
            "createdFromOwnerAddress": account,
        },
        "transactions": [
            {
                "to": account,
                "value": "0",
                "contractMethod": {
                    "inputs": [{"internalType": "address", "name": "paramAddress", "type": "address"}],
                    "name": "testAddress",
                    "payable": False,
                },
                "contractInputsValues": {"paramAddress": account},
            },
            {
                "to": account,
                "value": "0",
                "contractMethod": {
                    "inputs": [{"internalType": "bool", "name": "paramBool", "type": "bool"}],
                    "name": "testBool",
                    "payable": False,
                },
                "contractInputsValues": {"paramAddress": "", "paramBool": "false"},
            },
            {
                "to": account,
                "value": "2000000000000000000",
                "data": "0x42f4579000000000000000000000000049d4450977e2c95362c13d3a31a09311e0ea26a6",
            },
        ],
    }

    assert checksum_of_serialized(batch) == "0x4ecbfd364aa6759983915644e73f8bd411e85a2dc306f252a387c2728c4db64c"
    # The key order of the input does not matter.
    reordered = {key: batch[key] for key in reversed(list(batch))}
    assert checksum_of_serialized(reordered) == checksum_of_serialized(batch)
