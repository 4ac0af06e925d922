"""The contract functions a plan calls, in the order a plan sends them, with their gas model.

The order is the planning rule "restrictive first, then permissive, then
what depends on them": blocks and cancellations, then investor words
(restrictive words first, see `reconciler.planning.actions`), then unblocks,
then bookings, which need the investors' flags, then the USDC approval, then
the coupon payments that spend it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum


class Stage(IntEnum):
    """Position of an action in the planning rules' order."""

    RESTRICTIVE = 1
    PERMISSIVE = 2
    DEPENDENT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class FunctionSpec:
    """One contract function: where it lives, who may call it and what it costs."""

    contract: str  # field of `reconciler.model.Contracts`
    artifact: str  # compiled contract whose ABI encodes the call
    name: str
    role: str | None  # role the sender needs; None when the treasury itself sends it
    batched: bool  # one call carries many items; otherwise one call per item
    base_gas: int  # per transaction
    item_gas: int  # per item; new investors use NEW_INVESTOR_GAS instead
    label: str = ""  # contract name shown to users, when it is not the artifact's

    @property
    def contract_name(self) -> str:
        return self.label or self.artifact


# Gas model: conservative upper bounds, used to split batches under the gas
# cap and shown as each transaction's estimate. The per-item figures were
# measured from receipts on anvil 1.7.1 (solc 0.8.30, optimizer 200 runs), as
# the difference between a batch of 100 items (50 for bookings) and a batch of
# 1. They are: setInvestors 46,708 gas per new investor and 7,404 per update,
# blockAddresses 46,531, unblockAddresses 10,338, book 174,470 and cancel 6,864.
# bench/RESULTS.md records 47,183 and 7,668 for setInvestors, as averages
# over 1,000. The fixed part of one transaction (21,000 intrinsic gas, cold
# contract and role reads) was at most 56,385 (book),
# approve used 46,330 gas and payCoupon 226,382 in all. The bounds below are
# 2.8 % (new investors, kept tight so 1,000 fit in five 10,000,000-gas
# transactions) to 46 % (cancel) above these figures.
# tests/planning/test_chain_plan.py checks them against real receipts of full batches.
TX_BASE_GAS = 60_000
NEW_INVESTOR_GAS = 48_000
UPDATED_INVESTOR_GAS = 10_000


class Function(Enum):
    """Every function a plan calls, in sending order."""

    BLOCK_ADDRESSES = FunctionSpec(
        contract="compliance_registry",
        artifact="ComplianceRegistry",
        name="blockAddresses",
        role="COMPLIANCE_OFFICER_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=50_000,
    )
    CANCEL = FunctionSpec(
        contract="dvp_settlement",
        artifact="DvPSettlement",
        name="cancel",
        role="ISSUER_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=10_000,
    )
    SET_INVESTORS = FunctionSpec(
        contract="compliance_registry",
        artifact="ComplianceRegistry",
        name="setInvestors",
        role="COMPLIANCE_OFFICER_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=UPDATED_INVESTOR_GAS,
    )
    UNBLOCK_ADDRESSES = FunctionSpec(
        contract="compliance_registry",
        artifact="ComplianceRegistry",
        name="unblockAddresses",
        role="COMPLIANCE_OFFICER_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=15_000,
    )
    BOOK = FunctionSpec(
        contract="dvp_settlement",
        artifact="DvPSettlement",
        name="book",
        role="ISSUER_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=200_000,
    )
    # The devnet's MockUSDC has the standard ERC-20 `approve`, so its ABI
    # encodes the call for real USDC too.
    APPROVE = FunctionSpec(
        contract="usdc",
        artifact="MockUSDC",
        label="USDC",
        name="approve",
        role=None,
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=0,
    )
    PAY_COUPON = FunctionSpec(
        contract="corporate_actions",
        artifact="CorporateActions",
        name="payCoupon",
        role="ISSUER_ROLE",
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=240_000,
    )

    @property
    def spec(self) -> FunctionSpec:
        spec: FunctionSpec = self.value
        return spec

    @property
    def order(self) -> int:
        return list(Function).index(self)

    @property
    def qualified_name(self) -> str:
        """ContractName.function, such as ComplianceRegistry.setInvestors."""
        return f"{self.spec.contract_name}.{self.spec.name}"


# The default per-transaction gas cap: under EIP-7825's 16,777,216 (2**24) gas
# per transaction on networks after the Osaka upgrade, and a third of a
# 30,000,000 block, so a plan's transaction also fits beside other traffic.
DEFAULT_GAS_CAP = 10_000_000
EIP_7825_TX_GAS_LIMIT = 2**24
