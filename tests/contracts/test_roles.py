"""Role checks: every restricted function rejects callers without its role, and the
last DEFAULT_ADMIN_ROLE holder cannot be removed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from contract_support import PARTITION_144A, ascii_id, investor_word, revert_of, role, send

ADMIN_ROLE_CONTRACTS = [
    "compliance_registry",
    "security_token",
    "dvp_settlement",
    "corporate_actions",
    "transfer_agent_bridge",
    "custody_attestations",
]

# (contract, role, function call built from the test's People), one row per restricted function.
RESTRICTED: list[Any] = [
    pytest.param(
        "compliance_registry",
        "COMPLIANCE_OFFICER_ROLE",
        lambda c, p: c.functions.setInvestors([investor_word(p.qib)]),
        id="registry-setInvestors",
    ),
    pytest.param(
        "compliance_registry",
        "COMPLIANCE_OFFICER_ROLE",
        lambda c, p: c.functions.setInvestor(p.qib, True, True, b"US", 0),
        id="registry-setInvestor",
    ),
    pytest.param(
        "compliance_registry",
        "COMPLIANCE_OFFICER_ROLE",
        lambda c, p: c.functions.blockAddresses([p.qib]),
        id="registry-blockAddresses",
    ),
    pytest.param(
        "compliance_registry",
        "COMPLIANCE_OFFICER_ROLE",
        lambda c, p: c.functions.unblockAddresses([p.qib]),
        id="registry-unblockAddresses",
    ),
    pytest.param("security_token", "PAUSER_ROLE", lambda c, p: c.functions.pause(), id="token-pause"),
    pytest.param("security_token", "PAUSER_ROLE", lambda c, p: c.functions.unpause(), id="token-unpause"),
    pytest.param(
        "security_token",
        "CONTROLLER_ROLE",
        lambda c, p: c.functions.forceTransfer(ascii_id("ORDER-1"), PARTITION_144A, p.qib, p.qib2, 1, "court"),
        id="token-forceTransfer",
    ),
    pytest.param(
        "security_token",
        "MINTER_ROLE",
        lambda c, p: c.functions.issue(PARTITION_144A, p.qib, 1),
        id="token-issue",
    ),
    pytest.param(
        "security_token",
        "DEFAULT_ADMIN_ROLE",
        lambda c, p: c.functions.setOracle(p.qib),
        id="token-setOracle",
    ),
    pytest.param(
        "dvp_settlement",
        "ISSUER_ROLE",
        lambda c, p: c.functions.book([(ascii_id("ALLOC-1"), PARTITION_144A, p.qib, 1, 1)]),
        id="dvp-book",
    ),
    pytest.param(
        "dvp_settlement",
        "ISSUER_ROLE",
        lambda c, p: c.functions.cancel([ascii_id("ALLOC-1")]),
        id="dvp-cancel",
    ),
    pytest.param(
        "dvp_settlement",
        "DEFAULT_ADMIN_ROLE",
        lambda c, p: c.functions.setTreasury(p.qib),
        id="dvp-setTreasury",
    ),
    pytest.param(
        "corporate_actions",
        "ISSUER_ROLE",
        lambda c, p: c.functions.payCoupon(1, "2026-Q1", 125, 0, 0, 1),
        id="coupons-payCoupon",
    ),
    pytest.param(
        "corporate_actions",
        "DEFAULT_ADMIN_ROLE",
        lambda c, p: c.functions.setTreasury(p.qib),
        id="coupons-setTreasury",
    ),
    pytest.param(
        "transfer_agent_bridge",
        "TRANSFER_AGENT_ROLE",
        lambda c, p: c.functions.recordSnapshots([("2026-Q1", "bafy")]),
        id="bridge-recordSnapshots",
    ),
    pytest.param(
        "custody_attestations",
        "CUSTODIAN_ROLE",
        lambda c, p: c.functions.recordAttestations([("monthly", "monthly-202601", "bafy")]),
        id="custody-recordAttestations",
    ),
]


@pytest.mark.parametrize(("contract_key", "role_name", "build_call"), RESTRICTED)
def test_restricted_function_rejects_outsider(
    chain: Any, people: Any, contract_key: str, role_name: str, build_call: Callable[..., Any]
) -> None:
    call = build_call(chain.contracts[contract_key], people)

    error = revert_of(call, people.outsider)

    assert error.name == "AccessControlUnauthorizedAccount"
    assert error.args == (people.outsider, role(role_name))


@pytest.mark.parametrize("contract_key", ADMIN_ROLE_CONTRACTS)
def test_grant_role_rejects_outsider(chain: Any, people: Any, contract_key: str) -> None:
    contract = chain.contracts[contract_key]

    error = revert_of(contract.functions.grantRole(role("PAUSER_ROLE"), people.outsider), people.outsider)

    assert error.name == "AccessControlUnauthorizedAccount"
    assert error.args == (people.outsider, role("DEFAULT_ADMIN_ROLE"))


@pytest.mark.parametrize(
    ("contract_key", "function"),
    [pytest.param("usdc", "mint", id="usdc-mint"), pytest.param("xau_usd_feed", "setRoundData", id="feed-round")],
)
def test_mock_owner_function_rejects_outsider(chain: Any, people: Any, contract_key: str, function: str) -> None:
    contract = chain.contracts[contract_key]
    args = [people.outsider, 1] if function == "mint" else [1, 1]

    error = revert_of(contract.functions[function](*args), people.outsider)

    assert error.name == "OwnableUnauthorizedAccount"
    assert error.args == (people.outsider,)


@pytest.mark.parametrize("contract_key", ADMIN_ROLE_CONTRACTS)
def test_revoking_last_admin_reverts(chain: Any, people: Any, contract_key: str) -> None:
    contract = chain.contracts[contract_key]

    error = revert_of(contract.functions.revokeRole(role("DEFAULT_ADMIN_ROLE"), people.admin), people.admin)

    assert error.name == "LastAdminRemoval"
    assert error.args == (people.admin,)


@pytest.mark.parametrize("contract_key", ADMIN_ROLE_CONTRACTS)
def test_renouncing_last_admin_reverts(chain: Any, people: Any, contract_key: str) -> None:
    contract = chain.contracts[contract_key]

    error = revert_of(contract.functions.renounceRole(role("DEFAULT_ADMIN_ROLE"), people.admin), people.admin)

    assert error.name == "LastAdminRemoval"
    assert error.args == (people.admin,)


@pytest.mark.parametrize("contract_key", ADMIN_ROLE_CONTRACTS)
def test_admin_renounces_when_another_admin_exists(chain: Any, people: Any, contract_key: str) -> None:
    contract = chain.contracts[contract_key]
    admin_role = role("DEFAULT_ADMIN_ROLE")
    send(contract.functions.grantRole(admin_role, people.qib), people.admin)

    send(contract.functions.renounceRole(admin_role, people.admin), people.admin)

    assert contract.functions.getRoleMembers(admin_role).call() == [people.qib]


def test_remaining_admin_cannot_revoke_self(chain: Any, people: Any) -> None:
    registry = chain.contracts["compliance_registry"]
    admin_role = role("DEFAULT_ADMIN_ROLE")
    send(registry.functions.grantRole(admin_role, people.qib), people.admin)
    send(registry.functions.revokeRole(admin_role, people.admin), people.qib)

    error = revert_of(registry.functions.revokeRole(admin_role, people.qib), people.qib)

    assert error.name == "LastAdminRemoval"
    assert error.args == (people.qib,)


@pytest.mark.parametrize(
    ("contract_key", "role_name"),
    [
        ("compliance_registry", "DEFAULT_ADMIN_ROLE"),
        ("compliance_registry", "COMPLIANCE_OFFICER_ROLE"),
        ("security_token", "DEFAULT_ADMIN_ROLE"),
        ("security_token", "PAUSER_ROLE"),
        ("security_token", "CONTROLLER_ROLE"),
        ("dvp_settlement", "DEFAULT_ADMIN_ROLE"),
        ("dvp_settlement", "ISSUER_ROLE"),
        ("corporate_actions", "DEFAULT_ADMIN_ROLE"),
        ("corporate_actions", "ISSUER_ROLE"),
        ("transfer_agent_bridge", "DEFAULT_ADMIN_ROLE"),
        ("transfer_agent_bridge", "TRANSFER_AGENT_ROLE"),
        ("custody_attestations", "DEFAULT_ADMIN_ROLE"),
        ("custody_attestations", "CUSTODIAN_ROLE"),
    ],
)
def test_deployer_holds_role_alone(chain: Any, contract_key: str, role_name: str) -> None:
    contract = chain.contracts[contract_key]

    assert contract.functions.getRoleMembers(role(role_name)).call() == [chain.signer]


def test_minter_role_held_by_settlement_only(chain: Any) -> None:
    token = chain.contracts["security_token"]

    assert token.functions.getRoleMembers(role("MINTER_ROLE")).call() == [chain.deployment.dvp_settlement]


@pytest.mark.parametrize(
    ("contract_key", "constant"),
    [
        ("compliance_registry", "COMPLIANCE_OFFICER_ROLE"),
        ("security_token", "PAUSER_ROLE"),
        ("security_token", "CONTROLLER_ROLE"),
        ("security_token", "MINTER_ROLE"),
        ("dvp_settlement", "ISSUER_ROLE"),
        ("corporate_actions", "ISSUER_ROLE"),
        ("transfer_agent_bridge", "TRANSFER_AGENT_ROLE"),
        ("custody_attestations", "CUSTODIAN_ROLE"),
    ],
)
def test_role_id_is_keccak_of_name(chain: Any, contract_key: str, constant: str) -> None:
    contract = chain.contracts[contract_key]

    assert contract.functions[constant]().call() == role(constant)


@pytest.mark.parametrize("contract_key", ADMIN_ROLE_CONTRACTS)
def test_grant_role_emits_role_granted(chain: Any, people: Any, contract_key: str) -> None:
    contract = chain.contracts[contract_key]

    receipt = send(contract.functions.grantRole(role("PAUSER_ROLE"), people.qib), people.admin)

    granted = contract.events.RoleGranted().process_receipt(receipt)
    assert [dict(event["args"]) for event in granted] == [
        {"role": role("PAUSER_ROLE"), "account": people.qib, "sender": people.admin}
    ]


def test_revoke_role_emits_role_revoked(chain: Any, people: Any) -> None:
    token = chain.contracts["security_token"]
    send(token.functions.grantRole(role("PAUSER_ROLE"), people.qib), people.admin)

    receipt = send(token.functions.revokeRole(role("PAUSER_ROLE"), people.qib), people.admin)

    revoked = token.events.RoleRevoked().process_receipt(receipt)
    assert [dict(event["args"]) for event in revoked] == [
        {"role": role("PAUSER_ROLE"), "account": people.qib, "sender": people.admin}
    ]
    assert token.functions.getRoleMembers(role("PAUSER_ROLE")).call() == [people.admin]
