"""The contract functions a plan calls, in the order a plan sends them, with their gas model.

The order is the planning rule "restrictive first, then permissive, then
what depends on them": blocks and cancellations, then investor words
(restrictive words first, see `reconciler.planning.actions`), then unblocks,
then bookings, which need the investors' flags, then the USDC approval, then
the coupon payments that spend it, then the records of cap-table snapshots
and custody attestations. A pause comes first of all and role grants right
after it; an unpause follows the unblocks. Role revocations come after every
other call, and court-ordered force transfers last.
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

# Records of IPFS CIDs cost gas by the length of their strings. Solidity stores
# a string below 32 bytes in one slot, and a longer one in a length slot and one
# slot per 32 bytes. Each new slot costs 22,100 gas: 20,000 to set a zero slot
# and 2,100 for its cold access. Measured on anvil 1.7.1 as the difference
# between batches of 50 items and of 1, a recordSnapshots item with a 7-byte
# period and a 46-byte CIDv0 took 162,470 gas, and a recordAttestations item
# with a 64-byte label and scope and a 128-byte CID 348,413. Fitted to such
# pairs, an item costs about 72,700 gas (snapshots) or 98,500 (attestations)
# beside its slots, and 26 gas per byte of calldata and event data. The bounds
# (80,000, 105,000 and 40 gas per byte) are 3 to 5 % above the measured items.
STRING_SLOT_GAS = 22_100
STRING_BYTE_GAS = 40


def stored_strings_gas(*texts: str) -> int:
    """Return the gas bound of storing TEXTS as Solidity strings of one new record."""
    total = 0
    for text in texts:
        size = len(text.encode("utf-8"))
        slots = 1 if size < 32 else 1 + -(-size // 32)
        total += slots * STRING_SLOT_GAS + size * STRING_BYTE_GAS
    return total


# Pause, role and force-transfer calls: one transaction per item. Whole
# transactions measured from receipts on anvil 1.7.1: pause 29,946 gas and
# unpause 29,967; grantRole 101,269 (a role's first extra holder) and
# revokeRole at most 48,616; forceTransfer 294,406 with a 39-byte legal
# reference, 232,432 with 31 bytes and 392,384 with 200, to a recipient
# that already held the partition (a new one adds a 20,000-gas slot). Beside
# the reference's slots that is at most 166,546. The bounds below add
# TX_BASE_GAS and leave 18 % (grantRole) to 134 % (pause) above them.
PAUSE_GAS = 10_000
ROLE_CHANGE_GAS = 60_000
FORCE_TRANSFER_GAS = 200_000  # beside the legal reference; see `stored_strings_gas`


def _role_call(name: str, contract: str, artifact: str) -> FunctionSpec:
    """grantRole or revokeRole on CONTRACT: one account and one role per call, sent by an admin of the contract."""
    return FunctionSpec(
        contract=contract,
        artifact=artifact,
        name=name,
        role="DEFAULT_ADMIN_ROLE",
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=ROLE_CHANGE_GAS,
    )


class Function(Enum):
    """Every function a plan calls, in sending order."""

    # The pause stops transfers before anything else is sent.
    PAUSE = FunctionSpec(
        contract="security_token",
        artifact="CompliantSecurityToken",
        name="pause",
        role="PAUSER_ROLE",
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=PAUSE_GAS,
    )
    # Grants come before every call that may need the role, one function per contract.
    GRANT_REGISTRY_ROLE = _role_call("grantRole", "compliance_registry", "ComplianceRegistry")
    GRANT_TOKEN_ROLE = _role_call("grantRole", "security_token", "CompliantSecurityToken")
    GRANT_SETTLEMENT_ROLE = _role_call("grantRole", "dvp_settlement", "DvPSettlement")
    GRANT_CORPORATE_ACTIONS_ROLE = _role_call("grantRole", "corporate_actions", "CorporateActions")
    GRANT_TRANSFER_AGENT_ROLE = _role_call("grantRole", "transfer_agent_bridge", "TransferAgentBridge")
    GRANT_CUSTODY_ROLE = _role_call("grantRole", "custody_attestations", "CustodyAttestations")
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
    UNPAUSE = FunctionSpec(
        contract="security_token",
        artifact="CompliantSecurityToken",
        name="unpause",
        role="PAUSER_ROLE",
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=PAUSE_GAS,
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
    # Records of documents: they change no rights, so they come after the
    # bookings and coupons whose outcome a cap-table snapshot documents.
    # item_gas is the part beside the strings; see `stored_strings_gas`.
    RECORD_SNAPSHOTS = FunctionSpec(
        contract="transfer_agent_bridge",
        artifact="TransferAgentBridge",
        name="recordSnapshots",
        role="TRANSFER_AGENT_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=80_000,
    )
    RECORD_ATTESTATIONS = FunctionSpec(
        contract="custody_attestations",
        artifact="CustodyAttestations",
        name="recordAttestations",
        role="CUSTODIAN_ROLE",
        batched=True,
        base_gas=TX_BASE_GAS,
        item_gas=105_000,
    )
    # Keep these last. Revocations come after every call the revoked role may still serve,
    # and force transfers after everything: a court order moves tokens, nothing else depends on it.
    REVOKE_REGISTRY_ROLE = _role_call("revokeRole", "compliance_registry", "ComplianceRegistry")
    REVOKE_TOKEN_ROLE = _role_call("revokeRole", "security_token", "CompliantSecurityToken")
    REVOKE_SETTLEMENT_ROLE = _role_call("revokeRole", "dvp_settlement", "DvPSettlement")
    REVOKE_CORPORATE_ACTIONS_ROLE = _role_call("revokeRole", "corporate_actions", "CorporateActions")
    REVOKE_TRANSFER_AGENT_ROLE = _role_call("revokeRole", "transfer_agent_bridge", "TransferAgentBridge")
    REVOKE_CUSTODY_ROLE = _role_call("revokeRole", "custody_attestations", "CustodyAttestations")
    FORCE_TRANSFER = FunctionSpec(
        contract="security_token",
        artifact="CompliantSecurityToken",
        name="forceTransfer",
        role="CONTROLLER_ROLE",
        batched=False,
        base_gas=TX_BASE_GAS,
        item_gas=FORCE_TRANSFER_GAS,
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
