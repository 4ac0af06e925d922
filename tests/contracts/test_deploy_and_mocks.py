"""deploy_suite: addresses, roles and seeded mocks; the mock USDC and price feeds."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from contract_support import USDC, events, now, revert_of, send
from eth_account import Account
from web3 import Web3

from reconciler import PROJECT_ROOT
from reconciler.chain import artifacts, deploy
from reconciler.chain.deploy import deploy_suite, deployment_plan_addresses
from reconciler.devnet import dev_account, free_port, stop_process
from reconciler.errors import ChainError

TREASURY_USDC = 100_000_000 * USDC


# --- deployment --------------------------------------------------------------


def test_addresses_match_plan_from_nonce_zero(chain: Any) -> None:
    deployed = dataclasses.asdict(chain.deployment)
    treasury = deployed.pop("treasury")

    assert deployed == deployment_plan_addresses(chain.signer, 0)
    assert treasury == chain.signer


def test_redeploy_continues_from_current_nonce(chain: Any) -> None:
    nonce = chain.w3.eth.get_transaction_count(chain.signer)

    second = deploy_suite(chain.w3, dev_account())

    expected = deployment_plan_addresses(chain.signer, nonce)
    assert {field: getattr(second, field) for field in expected} == expected


def test_failed_setup_transaction_raises_chain_error(chain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Too little gas for a role grant: the transaction is mined and fails.
    monkeypatch.setattr(deploy, "SETUP_CALL_GAS", 30_000)

    with pytest.raises(ChainError, match=r"transaction failed: ComplianceRegistry\.grantRole"):
        deploy_suite(chain.w3, dev_account())


@pytest.fixture
def mainnet_id_chain() -> Iterator[Web3]:
    """A bare anvil on loopback that reports chain id 1."""
    port = free_port()
    anvil = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    command = [str(anvil), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "1", "--silent"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        deadline = time.monotonic() + 10
        while not w3.is_connected():
            assert process.poll() is None, "anvil exited"
            assert time.monotonic() < deadline, "anvil did not answer within 10 s"
            time.sleep(0.05)
        yield w3
    finally:
        stop_process(process.pid)


def test_deploy_rejects_non_devnet_chain(mainnet_id_chain: Web3) -> None:
    with pytest.raises(ChainError, match="cannot deploy the devnet suite to chain id 1: it mints mock USDC"):
        deploy_suite(mainnet_id_chain, dev_account())

    assert mainnet_id_chain.eth.get_transaction_count(dev_account().address) == 0


def test_treasury_holds_minted_usdc(chain: Any) -> None:
    usdc = chain.contracts["usdc"]

    assert usdc.functions.balanceOf(chain.deployment.treasury).call() == TREASURY_USDC
    assert usdc.functions.totalSupply().call() == TREASURY_USDC


@pytest.mark.parametrize("spender", ["dvp_settlement", "corporate_actions"])
def test_treasury_approves_nothing(chain: Any, spender: str) -> None:
    usdc = chain.contracts["usdc"]

    assert usdc.functions.allowance(chain.deployment.treasury, getattr(chain.deployment, spender)).call() == 0


@pytest.mark.parametrize(
    ("key", "description", "answer"),
    [
        pytest.param("xau_usd_feed", "XAU / USD", 2_650 * 10**8, id="xau-usd"),
        pytest.param("usdc_usd_feed", "USDC / USD", 10**8, id="usdc-usd"),
    ],
)
def test_feeds_are_seeded(chain: Any, key: str, description: str, answer: int) -> None:
    feed = chain.contracts[key]

    round_id, seeded_answer, started_at, updated_at, answered_in_round = feed.functions.latestRoundData().call()

    assert (round_id, seeded_answer, answered_in_round) == (1, answer, 1)
    assert started_at == updated_at
    assert 0 < updated_at <= now(chain.w3)
    assert feed.functions.description().call() == description
    assert feed.functions.decimals().call() == 8


def test_token_uses_deployed_oracle(chain: Any) -> None:
    token = chain.contracts["security_token"]

    assert token.functions.oracle().call() == chain.deployment.compliance_oracle


def test_coupons_use_usdc_and_treasury(chain: Any) -> None:
    coupons = chain.contracts["corporate_actions"]

    assert coupons.functions.usdc().call() == chain.deployment.usdc
    assert coupons.functions.treasury().call() == chain.deployment.treasury


ZERO = "0x" + "00" * 20


@pytest.mark.parametrize(
    ("artifact_name", "arguments"),
    [
        pytest.param("ComplianceRegistry", lambda d: (ZERO,), id="registry-admin"),
        pytest.param("ComplianceOracle", lambda d: (ZERO,), id="oracle-registry"),
        pytest.param("CompliantSecurityToken", lambda d: (ZERO, d.compliance_oracle), id="token-admin"),
        pytest.param("CompliantSecurityToken", lambda d: (d.treasury, ZERO), id="token-oracle"),
        pytest.param("DvPSettlement", lambda d: (d.treasury, ZERO, d.usdc, d.treasury), id="dvp-token"),
        pytest.param("DvPSettlement", lambda d: (d.treasury, d.security_token, ZERO, d.treasury), id="dvp-usdc"),
        pytest.param("DvPSettlement", lambda d: (d.treasury, d.security_token, d.usdc, ZERO), id="dvp-treasury"),
        pytest.param("CorporateActions", lambda d: (d.treasury, ZERO, d.treasury), id="coupons-usdc"),
        pytest.param("CorporateActions", lambda d: (d.treasury, d.usdc, ZERO), id="coupons-treasury"),
        pytest.param("TransferAgentBridge", lambda d: (ZERO,), id="bridge-admin"),
        pytest.param("CustodyAttestations", lambda d: (ZERO,), id="custody-admin"),
    ],
)
def test_constructor_rejects_zero_address(chain: Any, artifact_name: str, arguments: Any) -> None:
    artifact = artifacts.load(artifact_name)
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)

    error = revert_of(factory.constructor(*arguments(chain.deployment)), chain.signer)

    assert error.name == "ZeroAddress"
    assert error.args == ()


# --- mock USDC ---------------------------------------------------------------


def test_usdc_metadata(chain: Any) -> None:
    usdc = chain.contracts["usdc"]

    assert usdc.functions.name().call() == "USD Coin (devnet mock)"
    assert usdc.functions.symbol().call() == "USDC"
    assert usdc.functions.decimals().call() == 6


def test_usdc_mint_by_owner(chain: Any, people: Any) -> None:
    usdc = chain.contracts["usdc"]

    receipt = send(usdc.functions.mint(people.qib, 5 * USDC), people.admin)

    assert usdc.functions.balanceOf(people.qib).call() == 5 * USDC
    assert events(receipt, usdc, "Transfer") == [{"from": "0x" + "00" * 20, "to": people.qib, "value": 5 * USDC}]


# --- mock price feed ---------------------------------------------------------


def test_set_round_data_adds_round(chain: Any, people: Any) -> None:
    feed = chain.contracts["xau_usd_feed"]
    updated_at = now(chain.w3) - 30

    receipt = send(feed.functions.setRoundData(2_700 * 10**8, updated_at), people.admin)

    assert feed.functions.latestRoundData().call() == [2, 2_700 * 10**8, updated_at, updated_at, 2]
    assert feed.functions.getRoundData(1).call()[1] == 2_650 * 10**8
    assert events(receipt, feed, "AnswerUpdated") == [
        {"current": 2_700 * 10**8, "roundId": 2, "updatedAt": updated_at}
    ]


@pytest.mark.parametrize("round_id", [0, 2])
def test_get_round_data_rejects_unknown_round(chain: Any, people: Any, round_id: int) -> None:
    feed = chain.contracts["usdc_usd_feed"]

    error = revert_of(feed.functions.getRoundData(round_id), people.admin)

    assert error.name == "RoundNotFound"
    assert error.args == (round_id,)


def test_feed_version(chain: Any) -> None:
    assert chain.contracts["xau_usd_feed"].functions.version().call() == 4


def test_deploy_from_unfunded_account_raises_chain_error(chain: Any) -> None:
    unfunded = Account.create()

    with pytest.raises(ChainError, match=r"deploy ComplianceRegistry \(compliance_registry\)") as caught:
        deploy_suite(chain.w3, unfunded)

    assert "insufficient funds" in str(caught.value).lower()
