"""Deploy the JINBI contract suite with its devnet mocks from one account.

`deploy_suite` signs every transaction locally, assigns nonces from the
deployer's current nonce, sends them all back to back and only then waits for
the receipts. The order of transactions is fixed, so the contract addresses
depend only on the deployer and its starting nonce: on a fresh anvil they are
always the same (`deployment_plan_addresses`).

Callers: `reconciler.devnet` (`jinbi devnet up`, the test fixtures) and the
benchmarks. The suite includes mock USDC and mock price feeds, so it is only
ever deployed to a local development chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, Web3Exception
from web3.utils import get_create_address

from reconciler.chain import artifacts
from reconciler.errors import ChainError

log = logging.getLogger(__name__)

# Chain ids this module deploys to: anvil's default. The suite mints mock USDC,
# which must never happen on a public network.
DEVNET_CHAIN_IDS = frozenset({31337})

# Contracts in deployment order, as (Deployment field, artifact name). The order
# fixes every address, so append new contracts at the end.
CONTRACTS: tuple[tuple[str, str], ...] = (
    ("compliance_registry", "ComplianceRegistry"),
    ("compliance_oracle", "ComplianceOracle"),
    ("security_token", "CompliantSecurityToken"),
    ("dvp_settlement", "DvPSettlement"),
    ("corporate_actions", "CorporateActions"),
    ("transfer_agent_bridge", "TransferAgentBridge"),
    ("custody_attestations", "CustodyAttestations"),
    ("usdc", "MockUSDC"),
    ("xau_usd_feed", "MockAggregatorV3"),
    ("usdc_usd_feed", "MockAggregatorV3"),
)

# Duty roles granted to the deployer, as (contract field, role name). MINTER_ROLE
# on the token goes to DvPSettlement instead (see `_setup_calls`).
DEPLOYER_ROLES: tuple[tuple[str, str], ...] = (
    ("compliance_registry", "COMPLIANCE_OFFICER_ROLE"),
    ("security_token", "PAUSER_ROLE"),
    ("security_token", "CONTROLLER_ROLE"),
    ("dvp_settlement", "ISSUER_ROLE"),
    ("corporate_actions", "ISSUER_ROLE"),
    ("transfer_agent_bridge", "TRANSFER_AGENT_ROLE"),
    ("custody_attestations", "CUSTODIAN_ROLE"),
)

USDC_DECIMALS = 6
FEED_DECIMALS = 8
TREASURY_USDC = 100_000_000 * 10**USDC_DECIMALS
XAU_USD_ANSWER = 2_650 * 10**FEED_DECIMALS
USDC_USD_ANSWER = 1 * 10**FEED_DECIMALS
FEED_DESCRIPTIONS = {"xau_usd_feed": "XAU / USD", "usdc_usd_feed": "USDC / USD"}

# Gas limit of each setup call (role grant, mint, feed round). The calls are
# signed before their target contracts exist, so they cannot be estimated. The
# largest, a grantRole with its enumerable-set writes, used 118,469 gas on anvil 1.7.1.
SETUP_CALL_GAS = 250_000
RECEIPT_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Deployment:
    """Checksummed addresses of the deployed suite, the mocks and the treasury."""

    compliance_registry: str
    compliance_oracle: str
    security_token: str
    dvp_settlement: str
    corporate_actions: str
    transfer_agent_bridge: str
    custody_attestations: str
    usdc: str
    xau_usd_feed: str
    usdc_usd_feed: str
    treasury: str


@dataclass(frozen=True)
class _Step:
    """One transaction of the deployment: a contract creation (`to` None) or a call."""

    description: str
    to: str | None
    data: str
    gas: int | None  # None to estimate, which only contract creations allow


def role_id(name: str) -> bytes:
    """Return the bytes32 id of role NAME, keccak256 of its name (DEFAULT_ADMIN_ROLE is zero)."""
    if name == "DEFAULT_ADMIN_ROLE":
        return bytes(32)
    return bytes(Web3.keccak(text=name))


def deployment_plan_addresses(deployer: str, start_nonce: int = 0) -> dict[str, str]:
    """Return the address each contract gets when `deploy_suite` starts at START_NONCE."""
    return {
        field: get_create_address(Web3.to_checksum_address(deployer), start_nonce + offset)  # type: ignore[arg-type]
        for offset, (field, _artifact) in enumerate(CONTRACTS)
    }


def deploy_suite(w3: Web3, deployer: LocalAccount) -> Deployment:
    """Deploy the suite from DEPLOYER, grant the duty roles and seed the mocks.

    The deployer gets DEFAULT_ADMIN_ROLE and every duty role and is the
    treasury; DvPSettlement gets MINTER_ROLE on the token. The treasury receives
    100,000,000 mock USDC and approves nothing. Raises ChainError when a
    transaction fails or the chain is not a local development chain.
    """
    chain_id = w3.eth.chain_id
    if chain_id not in DEVNET_CHAIN_IDS:
        raise ChainError(
            f"cannot deploy the devnet suite to chain id {chain_id}: it mints mock USDC",
            hint=f"deploy it only to a local anvil (chain id {', '.join(map(str, sorted(DEVNET_CHAIN_IDS)))})",
        )

    # Addresses are known before anything is sent, so later constructors and
    # setup calls can name earlier contracts without waiting for receipts.
    start_nonce = w3.eth.get_transaction_count(deployer.address, "pending")
    addresses = deployment_plan_addresses(deployer.address, start_nonce)
    deployment = Deployment(**addresses, treasury=deployer.address)
    feed_time = int(w3.eth.get_block("latest")["timestamp"])
    steps = _creation_steps(w3, deployment) + _setup_calls(w3, deployment, feed_time)

    # Sign all, send back to back, then wait: one round trip per transaction,
    # no waiting between them.
    hashes = _send_all(w3, deployer, steps, start_nonce, chain_id)
    _wait_for_all(w3, steps, hashes)

    for field, artifact_name in CONTRACTS:
        if not w3.eth.get_code(getattr(deployment, field)):
            raise ChainError(f"{artifact_name} has no code at {getattr(deployment, field)} after deployment")
    log.info("deployed the JINBI suite: %d transactions from %s", len(steps), deployer.address)
    return deployment


def _creation_steps(w3: Web3, deployment: Deployment) -> list[_Step]:
    arguments: dict[str, tuple[Any, ...]] = {
        "usdc": (deployment.treasury,),
        "xau_usd_feed": (deployment.treasury, FEED_DESCRIPTIONS["xau_usd_feed"]),
        "usdc_usd_feed": (deployment.treasury, FEED_DESCRIPTIONS["usdc_usd_feed"]),
        "compliance_registry": (deployment.treasury,),
        "compliance_oracle": (deployment.compliance_registry,),
        "security_token": (deployment.treasury, deployment.compliance_oracle),
        "dvp_settlement": (deployment.treasury, deployment.security_token, deployment.usdc, deployment.treasury),
        "corporate_actions": (deployment.treasury, deployment.usdc, deployment.treasury),
        "transfer_agent_bridge": (deployment.treasury,),
        "custody_attestations": (deployment.treasury,),
    }
    steps = []
    for field, artifact_name in CONTRACTS:
        artifact = artifacts.load(artifact_name)
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*arguments[field]).data_in_transaction
        steps.append(_Step(f"deploy {artifact_name} ({field})", None, data, None))
    return steps


def _setup_calls(w3: Web3, deployment: Deployment, feed_time: int) -> list[_Step]:
    def call(field: str, artifact_name: str, function: str, *args: Any) -> _Step:
        contract = w3.eth.contract(abi=artifacts.load(artifact_name).abi)
        data = contract.encode_abi(function, args=list(args))
        return _Step(f"{artifact_name}.{function} on {field}", getattr(deployment, field), data, SETUP_CALL_GAS)

    artifact_of = dict(CONTRACTS)
    steps = [
        call(field, artifact_of[field], "grantRole", role_id(role), deployment.treasury)
        for field, role in DEPLOYER_ROLES
    ]
    steps.append(
        call("security_token", "CompliantSecurityToken", "grantRole", role_id("MINTER_ROLE"), deployment.dvp_settlement)
    )
    steps.append(call("usdc", "MockUSDC", "mint", deployment.treasury, TREASURY_USDC))
    steps.append(call("xau_usd_feed", "MockAggregatorV3", "setRoundData", XAU_USD_ANSWER, feed_time))
    steps.append(call("usdc_usd_feed", "MockAggregatorV3", "setRoundData", USDC_USD_ANSWER, feed_time))
    return steps


def _send_all(w3: Web3, deployer: LocalAccount, steps: list[_Step], start_nonce: int, chain_id: int) -> list[bytes]:
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    priority_fee = int(w3.eth.max_priority_fee)
    hashes = []
    for offset, step in enumerate(steps):
        transaction: dict[str, Any] = {
            "chainId": chain_id,
            "nonce": start_nonce + offset,
            "data": step.data,
            "value": 0,
            "maxPriorityFeePerGas": priority_fee,
            # Twice the base fee leaves room for base-fee growth while the batch is mined.
            "maxFeePerGas": 2 * base_fee + priority_fee,
        }
        if step.to is not None:
            transaction["to"] = step.to
        transaction["gas"] = step.gas if step.gas is not None else _estimate_creation(w3, deployer, step)
        signed = deployer.sign_transaction(transaction)
        try:
            hashes.append(bytes(w3.eth.send_raw_transaction(signed.raw_transaction)))
        except Web3Exception as error:
            raise ChainError(f"sending failed: {step.description}: {error}") from error
    return hashes


def _estimate_creation(w3: Web3, deployer: LocalAccount, step: _Step) -> int:
    """Estimate a contract creation with a 20 % margin; constructors here call no other contract."""
    try:
        estimate = w3.eth.estimate_gas({"from": deployer.address, "data": step.data})  # type: ignore[typeddict-item]
    except Web3Exception as error:
        raise ChainError(f"gas estimation failed: {step.description}: {error}") from error
    return estimate * 6 // 5


def _wait_for_all(w3: Web3, steps: list[_Step], hashes: list[bytes]) -> None:
    for step, tx_hash in zip(steps, hashes, strict=True):
        try:
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_SECONDS)  # type: ignore[arg-type]
        except TimeExhausted as error:
            raise ChainError(
                f"timed out after {RECEIPT_TIMEOUT_SECONDS} s waiting for the receipt of: {step.description} "
                f"(tx {tx_hash.hex()})",
                hint="check that the chain mines blocks (anvil mines one per transaction by default)",
            ) from error
        if receipt["status"] != 1:
            raise ChainError(
                f"transaction failed: {step.description} (tx {tx_hash.hex()}, gas used {receipt['gasUsed']})",
                hint="the chain may not be a fresh anvil; restart it and deploy again",
            )
        log.debug("confirmed %s in block %s", step.description, receipt["blockNumber"])
