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
from enum import StrEnum

SECONDS_PER_DAY = 86_400


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
    """A Chainlink AggregatorV3 feed and the maximum age of its latest round."""

    address: str
    decimals: int
    heartbeat_seconds: int


@dataclass(frozen=True)
class Policy:
    """Limits the planner and the validator apply."""

    max_revocations_per_apply: int
    regs_lockup_days: int


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
