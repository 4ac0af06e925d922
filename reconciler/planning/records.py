"""The records a plan is made of: actions, scheduled coupons, warnings and problems.

An action is one item of one contract call (an investor word of
`setInvestors`, an address of `blockAddresses`, a booking of `book`), or one
whole call for functions that take no batch. `reconciler.planning.actions`
and `reconciler.planning.coupons` build them; `reconciler.planning.transactions`
batches them into transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from reconciler.desired.diagnostics import SourcePosition
from reconciler.desired.values import format_date, format_datetime
from reconciler.model import SECONDS_PER_DAY
from reconciler.money import format_base_units
from reconciler.planning.calls import Function, Stage
from reconciler.planning.changes import Change, Kind


@dataclass(frozen=True)
class VerbInfo:
    marker: str  # "+" adds, "~" changes, "-" removes, as in Terraform plans
    singular: str
    plural: str


class Verb(Enum):
    """The kind of work an action does, with its plan marker and its phrase in the summary line."""

    PAUSE = VerbInfo("~", "token to pause", "tokens to pause")
    GRANT_ROLE = VerbInfo("+", "role to grant", "roles to grant")
    BLOCK = VerbInfo("+", "address to block", "addresses to block")
    CANCEL = VerbInfo("-", "booking to cancel", "bookings to cancel")
    UPDATE_INVESTOR = VerbInfo("~", "investor to update", "investors to update")
    ADD_INVESTOR = VerbInfo("+", "investor to add", "investors to add")
    UNBLOCK = VerbInfo("-", "address to unblock", "addresses to unblock")
    UNPAUSE = VerbInfo("~", "token to unpause", "tokens to unpause")
    BOOK = VerbInfo("+", "allocation to book", "allocations to book")
    APPROVE = VerbInfo("~", "USDC allowance to raise", "USDC allowances to raise")
    PAY_COUPON = VerbInfo("+", "coupon cycle to pay", "coupon cycles to pay")
    RECORD_SNAPSHOT = VerbInfo("+", "cap-table snapshot to record", "cap-table snapshots to record")
    RECORD_ATTESTATION = VerbInfo("+", "custody attestation to record", "custody attestations to record")
    REVOKE_ROLE = VerbInfo("-", "role to revoke", "roles to revoke")
    FORCE_TRANSFER = VerbInfo("+", "court-ordered force transfer", "court-ordered force transfers")

    @property
    def marker(self) -> str:
        info: VerbInfo = self.value
        return info.marker

    @property
    def plural(self) -> str:
        """The noun phrase for any count but one, such as "addresses to block"."""
        info: VerbInfo = self.value
        return info.plural

    def phrase(self, count: int) -> str:
        """Write COUNT with the verb's noun phrase, such as "3 addresses to block"."""
        info: VerbInfo = self.value
        return f"{count:,} {info.singular if count == 1 else info.plural}"


@dataclass(frozen=True)
class Action:
    """One item of a contract call, and the YAML value that requests it."""

    verb: Verb
    stage: Stage
    function: Function
    kind: Kind | None  # None for the USDC approval, which is no item of the model
    key: str
    argument: Any  # the item of a batched call, or the argument tuple of a single call
    gas: int  # this item's share of the gas model, an upper bound
    description: str  # what it would do, such as "would block (OFAC-SDN, listed 2024-11-19)"
    position: SourcePosition | None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class ScheduledCoupon:
    """An unpaid coupon cycle whose payment date the chain has not reached: listed, not a change."""

    cycle_id: str
    period: str
    rate_bps: int
    payment_date: int
    amount: int  # USDC base units it would pay at the observed supply
    rule: str  # how the amount follows from supply, face value and rate, and its rounding
    position: SourcePosition | None


@dataclass(frozen=True)
class PlanWarning:
    """A finding that changes nothing, such as drift: an on-chain item the YAML does not manage."""

    code: str
    kind: Kind | None
    key: str
    message: str


@dataclass(frozen=True)
class Problem:
    """A reason the plan cannot be made, at the YAML value that causes it when there is one."""

    message: str
    hint: str
    position: SourcePosition | None = None

    def render(self) -> str:
        """Write the problem as `file:line:col: error: message`, with the hint on an indented line."""
        where = f"{self.position}: " if self.position is not None else ""
        return f"{where}error: {self.message}\n    hint: {self.hint}"


# --- value formats shared by descriptions and renderers ----------------------


def show_bool(value: bool) -> str:
    return "true" if value else "false"


def show_time(seconds: int | None) -> str:
    """Write Unix SECONDS as a UTC date, or a date-time when it is not midnight; None as "none"."""
    if seconds is None:
        return "none"
    return format_date(seconds) if seconds % SECONDS_PER_DAY == 0 else format_datetime(seconds)


def show_lockup(seconds: int | None) -> str:
    return "none" if seconds is None else format_datetime(seconds)


def show_tokens(amount: int, decimals: int) -> str:
    return f"{format_base_units(amount, decimals)} JINBI"


def show_usdc(amount: int, decimals: int) -> str:
    return f"{format_base_units(amount, decimals, min_places=decimals)} USDC"
