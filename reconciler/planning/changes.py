"""Change records: one difference between the desired and the observed state.

`reconciler.planning.diff` produces them and `reconciler.planning.actions`
turns them into contract calls, errors or drift warnings. A change is a plain
frozen value, so tests compare it with `==` against a record they write out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.desired.diagnostics import SourcePosition


class Operation(StrEnum):
    """The difference of one item, seen from the desired state."""

    ADD = "add"  # in the YAML, not on chain
    CHANGE = "change"  # on both, with another value of one field
    REMOVE = "remove"  # on chain, not in the YAML: drift, never acted on


class Kind(StrEnum):
    """The managed collections, named as in the model's `State`."""

    INVESTOR = "investors"
    SANCTIONS_ENTRY = "sanctions"
    ALLOCATION = "allocations"
    COUPON_CYCLE = "coupon_cycles"
    CAP_TABLE_SNAPSHOT = "cap_table_snapshots"
    CUSTODY_ATTESTATION = "custody_attestations"
    PAUSE = "pause"
    ROLE = "roles"
    FORCE_TRANSFER = "force_transfers"

    @property
    def noun(self) -> str:
        """The singular noun used in messages, such as "coupon cycle"."""
        return _NOUNS[self]


_NOUNS = {
    Kind.INVESTOR: "investor",
    Kind.SANCTIONS_ENTRY: "sanctions entry",
    Kind.ALLOCATION: "allocation",
    Kind.COUPON_CYCLE: "coupon cycle",
    Kind.CAP_TABLE_SNAPSHOT: "cap-table snapshot",
    Kind.CUSTODY_ATTESTATION: "custody attestation",
    Kind.PAUSE: "pause state",
    Kind.ROLE: "role holder",
    Kind.FORCE_TRANSFER: "force transfer",
}


@dataclass(frozen=True)
class Change:
    """One difference of one item, with where the YAML wrote the desired value.

    For ADD and REMOVE, `field` is "" and `new` or `old` is the whole model
    item (None on the side where the item is absent). For CHANGE, `field` names
    one chain-visible field and `old` and `new` are its observed and desired
    values. `position` is None for REMOVE, because the YAML has no such item.
    """

    kind: Kind
    key: str  # address or id
    field: str
    operation: Operation
    old: Any
    new: Any
    position: SourcePosition | None = None

    def sort_key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.key, self.field)
