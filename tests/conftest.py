"""Shared fixtures: one anvil per test session with the suite deployed, reverted after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from reconciler import PROJECT_ROOT
from reconciler.chain import artifacts
from reconciler.devnet import LocalChain

SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"

# The artifact behind each deployed address of the suite.
CONTRACT_NAMES = {
    "compliance_registry": "ComplianceRegistry",
    "compliance_oracle": "ComplianceOracle",
    "security_token": "CompliantSecurityToken",
    "dvp_settlement": "DvPSettlement",
    "corporate_actions": "CorporateActions",
    "transfer_agent_bridge": "TransferAgentBridge",
    "custody_attestations": "CustodyAttestations",
    "usdc": "MockUSDC",
    "xau_usd_feed": "MockAggregatorV3",
    "usdc_usd_feed": "MockAggregatorV3",
}


@dataclass
class Devnet:
    """A running anvil with the suite deployed, as the tests see it."""

    local: LocalChain
    w3: Web3
    deployment: Any
    contracts: dict[str, Contract]
    signer: str
    accounts: list[str]
    snapshot_id: str = field(default="")

    @property
    def url(self) -> str:
        return self.local.url

    def revert(self) -> None:
        """Return the chain to the state after deployment and take a new snapshot."""
        assert self.w3.provider.make_request("evm_revert", [self.snapshot_id])["result"] is True  # type: ignore[arg-type]
        # After some revert sequences anvil 1.7.1 no longer serves the state of the head block by its number
        # ("BlockOutOfRangeError"), so a simulation that forks there fails; a new block stores a fresh state.
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.snapshot_id = self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    local = LocalChain.start()
    try:
        w3 = local.w3
        contracts = {
            key: w3.eth.contract(address=getattr(local.deployment, key), abi=artifacts.load(name).abi)
            for key, name in CONTRACT_NAMES.items()
        }
        accounts = [Web3.to_checksum_address(a) for a in w3.eth.accounts]
        chain = Devnet(
            local=local,
            w3=w3,
            deployment=local.deployment,
            contracts=contracts,
            signer=accounts[0],
            accounts=accounts,
        )
        chain.snapshot_id = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        yield chain
    finally:
        local.stop()


@pytest.fixture
def chain(devnet: Devnet) -> Iterator[Devnet]:
    """The session's chain, returned to its deployed state after the test."""
    try:
        yield devnet
    finally:
        devnet.revert()


def shared_data_dir() -> Path:
    """Return ../shared/data, skipping the test when it is absent (failing when CI requires it)."""
    if SHARED_DATA_DIR.is_dir():
        return SHARED_DATA_DIR
    if os.environ.get("JINBI_REQUIRE_SHARED_DATA", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"shared data folder {SHARED_DATA_DIR} is missing and JINBI_REQUIRE_SHARED_DATA=1")
    pytest.skip(f"shared data folder {SHARED_DATA_DIR} is absent")


@pytest.fixture
def shared_data() -> Path:
    return shared_data_dir()
