"""One typed model of the state the reconciler manages.

The desired state (read from YAML by `reconciler.desired`) and the observed
state (read from the chain) are two instances of these classes. Values are
therefore kept in chain units. Token amounts are integer base units, and prices
and coupon amounts integer USDC base units. Times are integer Unix seconds
(UTC), jurisdictions ISO 3166-1 alpha-2 codes and addresses EIP-55 strings.

The mappings inside the frozen dataclasses are plain dicts keyed by address or
id; treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

SECONDS_PER_DAY = 86_400
# The key of the pause state in `State.pause`: the contract that is paused.
PAUSE_KEY = "security_token"

# The roles the reconciler manages, by contract (a field of `Contracts`). The
# oracle has no roles, and USDC is not the issuer's contract.
MANAGED_ROLES: Mapping[str, tuple[str, ...]] = {
    "compliance_registry": ("DEFAULT_ADMIN_ROLE", "COMPLIANCE_OFFICER_ROLE"),
    "security_token": ("DEFAULT_ADMIN_ROLE", "PAUSER_ROLE", "CONTROLLER_ROLE", "MINTER_ROLE"),
    "dvp_settlement": ("DEFAULT_ADMIN_ROLE", "ISSUER_ROLE"),
    "corporate_actions": ("DEFAULT_ADMIN_ROLE", "ISSUER_ROLE"),
    "transfer_agent_bridge": ("DEFAULT_ADMIN_ROLE", "TRANSFER_AGENT_ROLE"),
    "custody_attestations": ("DEFAULT_ADMIN_ROLE", "CUSTODIAN_ROLE"),
}


class Partition(StrEnum):
    """A partition of the bond token: US QIBs under Rule 144A, offshore investors under Reg S."""

    RULE_144A = "144A"
    REG_S = "RegS"


class AllocationStatus(StrEnum):
    """The state of an allocation's booking on chain.

    YAML requests BOOKED or CANCELLED, or records SETTLED for history. On
    chain, SETTLED means the investor paid and received the tokens, which
    satisfies BOOKED and can't be undone.
    """

    BOOKED = "booked"
    CANCELLED = "cancelled"
    SETTLED = "settled"


@dataclass(frozen=True)
class Investor:
    """Compliance flags of one investor address."""

    address: str
    ref: str  # internal reference to the KYC file, never a person's name
    kyc: bool
    qib: bool
    jurisdiction: str
    lockup_until: int | None = None  # Reg S lockup end in Unix seconds; None means no lockup


@dataclass(frozen=True)
class SanctionsEntry:
    """A blocked address, or a formerly blocked one when `delisted_on` is set."""

    address: str
    source: str
    listed_on: int  # Unix seconds at 00:00 UTC of the listing date
    delisted_on: int | None = None

    @property
    def blocked(self) -> bool:
        return self.delisted_on is None


@dataclass(frozen=True)
class Allocation:
    """A primary allocation, booked on chain for the investor to settle against USDC."""

    id: str  # ASCII, at most 32 bytes: stored on chain as bytes32
    partition: Partition
    investor: str
    amount: int  # bond token base units
    price: int  # USDC base units per whole bond token
    trade_date: int  # Unix seconds at 00:00 UTC; the Reg S lockup counts from it
    status: AllocationStatus = AllocationStatus.BOOKED


@dataclass(frozen=True)
class CouponCycle:
    """A coupon payment in USDC for one period."""

    id: str  # a positive integer written in decimal
    period: str  # e.g. 2026-Q4
    rate_bps: int  # of the face value, for this period
    record_date: int
    payment_date: int
    amount: int | None = None  # USDC base units; None lets the planner compute it
    paid_at: int | None = None  # Unix seconds of the payment on chain; only observed


@dataclass(frozen=True)
class CapTableSnapshot:
    """The transfer agent's cap table of one period, recorded on chain once as an IPFS CID."""

    period: str  # printable ASCII, such as 2026-Q3; the contract keys it by keccak256(period)
    cid: str  # IPFS CID, version 0 or 1, as written
    recorded_at: int | None = None  # Unix seconds of the recording on chain; only observed


@dataclass(frozen=True)
class CustodyAttestation:
    """A custodian's report on the assets behind the bond, recorded on chain once as an IPFS CID."""

    label: str  # printable ASCII, unique, such as monthly-custody-202609; keyed by keccak256(label)
    scope: str  # what the report covers, such as monthly-custody
    cid: str  # IPFS CID, version 0 or 1, as written
    attested_at: int | None = None  # Unix seconds of the recording on chain; only observed


class RoleStatus(StrEnum):
    """A role holder in YAML: `granted` grants the role, `revoked` revokes it; on chain every holder is granted."""

    GRANTED = "granted"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Pause:
    """Whether the bond token is paused, and why (the reason is only in the YAML)."""

    paused: bool
    reason: str = ""


@dataclass(frozen=True)
class RoleAssignment:
    """One account's hold of one role on one contract of the suite."""

    contract: str  # field of `Contracts`, such as security_token
    role: str  # such as PAUSER_ROLE
    holder: str
    status: RoleStatus = RoleStatus.GRANTED

    @property
    def key(self) -> str:
        return role_key(self.contract, self.role, self.holder)


def role_key(contract: str, role: str, holder: str) -> str:
    """Return the key of a role assignment in `State.roles`, such as security_token/PAUSER_ROLE/0x…."""
    return f"{contract}/{role}/{holder}"


@dataclass(frozen=True)
class ForceTransfer:
    """A court-ordered transfer of one partition's tokens, executed on chain once per order id."""

    id: str  # printable ASCII, at most 32 bytes: stored on chain as bytes32
    legal_reference: str
    partition: Partition
    sender: str  # `from` in the YAML
    recipient: str  # `to` in the YAML
    amount: int  # bond token base units
    executed_at: int | None = None  # Unix seconds of the execution on chain; only observed


@dataclass(frozen=True)
class Contracts:
    """Addresses of the deployed JINBI suite."""

    compliance_registry: str
    compliance_oracle: str
    security_token: str
    dvp_settlement: str
    corporate_actions: str
    transfer_agent_bridge: str
    custody_attestations: str
    usdc: str


@dataclass(frozen=True)
class TokenDecimals:
    """Decimals of the bond token and of USDC, as deployed."""

    security_token: int
    usdc: int


@dataclass(frozen=True)
class PriceFeed:
    """A Chainlink AggregatorV3 feed, the maximum age of its latest round and the range its answer must be in."""

    address: str
    decimals: int
    heartbeat_seconds: int
    min_answer: int | None = None  # in units of 10**-decimals; None sets no lower bound
    max_answer: int | None = None  # in units of 10**-decimals; None sets no upper bound


@dataclass(frozen=True)
class Policy:
    """Limits the planner and the validator apply."""

    max_revocations_per_apply: int
    regs_lockup_days: int


@dataclass(frozen=True)
class CheckThresholds:
    """Alert thresholds of `jinbi check`, with the operations runbook's values as defaults."""

    large_transfer_usd: Decimal = Decimal("1000000")  # a transfer worth more than this many US dollars alerts
    max_rejection_rate_percent: Decimal = Decimal("5")  # a higher share of rejected transfer transactions alerts
    activity_window_hours: int = 24  # the window that transfers and rejections are counted over
    attestation_max_age_days: int = 35  # an older latest custody attestation alerts
    max_log_block_range: int = 2_000  # blocks per eth_getLogs request, for nodes that limit the range


@dataclass(frozen=True)
class Environment:
    """Deployment addresses, token decimals and policy of one environment."""

    name: str
    chain_id: int
    rpc_url_env: str  # name of the variable that contains the RPC URL, never the URL itself
    confirmations: int
    treasury: str
    contracts: Contracts
    decimals: TokenDecimals
    face_value_usdc: int  # USDC base units per whole bond token
    price_feeds: Mapping[str, PriceFeed]
    policy: Policy
    checks: CheckThresholds = field(default_factory=CheckThresholds)


@dataclass(frozen=True)
class State:
    """The managed collections, each keyed by address or id.

    An item missing from a collection is unmanaged, not revoked: revocation,
    unblocking and cancellation are explicit values of an item.
    """

    investors: Mapping[str, Investor] = field(default_factory=dict)
    sanctions: Mapping[str, SanctionsEntry] = field(default_factory=dict)
    allocations: Mapping[str, Allocation] = field(default_factory=dict)
    coupon_cycles: Mapping[str, CouponCycle] = field(default_factory=dict)
    # The pause state under the key "security_token"; empty when the YAML has no Pause file (unmanaged).
    pause: Mapping[str, Pause] = field(default_factory=dict)
    roles: Mapping[str, RoleAssignment] = field(default_factory=dict)  # by `role_key`
    force_transfers: Mapping[str, ForceTransfer] = field(default_factory=dict)
    cap_table_snapshots: Mapping[str, CapTableSnapshot] = field(default_factory=dict)
    custody_attestations: Mapping[str, CustodyAttestation] = field(default_factory=dict)
