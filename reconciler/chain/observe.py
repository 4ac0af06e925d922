"""Observe the chain: a snapshot of everything the reconciler manages, read at one block.

`observe` pins one block. It reads the token's and USDC's decimals, the
collection counts, supplies, pause, the treasury's USDC balance and allowance
and every managed role in one batch. It then reads every collection through the
contracts' paged views (`investorsPage`, `blockedPage`, `bookingsPage`,
`cyclesPage`, `snapshotsPage`, `attestationsPage`) in further batches, and
finally checks the block's hash again.
For 10,000 investors that is 59 JSON-RPC requests in 4 HTTP requests.

The result is an `Observation`: the observed `State` (the same model the
desired state is loaded into), the values outside that model that the planner
needs, and `reads`, every value read as canonical strings, whose digest a plan
records so that apply can tell whether the chain still holds what was planned
against. Callers: `jinbi plan`, `jinbi import`, drift checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from reconciler.chain.packing import jurisdiction_from_int
from reconciler.chain.reader import BlockPin, ContractCall, PinnedReader
from reconciler.chain.rpc import request_counter
from reconciler.errors import ChainError
from reconciler.model import (
    MANAGED_ROLES,
    PAUSE_KEY,
    Allocation,
    AllocationStatus,
    CapTableSnapshot,
    CouponCycle,
    CustodyAttestation,
    Environment,
    ForceTransfer,
    Investor,
    Partition,
    Pause,
    RoleAssignment,
    SanctionsEntry,
    State,
    role_key,
)

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500

# Artifact of each contract the snapshot reads, by its key in the environment file.
# USDC is read through the mock's ABI, whose calls are plain ERC-20.
ARTIFACTS = {
    "compliance_registry": "ComplianceRegistry",
    "security_token": "CompliantSecurityToken",
    "dvp_settlement": "DvPSettlement",
    "corporate_actions": "CorporateActions",
    "transfer_agent_bridge": "TransferAgentBridge",
    "custody_attestations": "CustodyAttestations",
    "usdc": "MockUSDC",
}

# DvPSettlement booking status codes.
BOOKING_STATUSES = {1: AllocationStatus.BOOKED, 2: AllocationStatus.SETTLED, 3: AllocationStatus.CANCELLED}


@dataclass(frozen=True)
class Observation:
    """A snapshot of the managed contracts of one environment at one block."""

    chain_id: int
    block_number: int
    block_hash: str  # 0x hex
    block_timestamp: int  # the chain's clock at the pinned block: coupons become due by it
    state: State
    total_supply: int  # bond base units
    supply_by_partition: Mapping[str, int]  # "144A" / "RegS" -> bond base units
    paused: bool
    treasury_usdc_balance: int  # USDC base units
    usdc_allowance_to_corporate_actions: int  # USDC base units the treasury lets CorporateActions pull
    roles: Mapping[str, Mapping[str, tuple[str, ...]]]  # contract key -> role name -> holders, EIP-55, sorted
    reads: Mapping[str, str]  # every value read: canonical key -> canonical string
    digest: str  # `reads_digest(reads)`
    rpc_requests: int  # JSON-RPC requests sent, retries included when W3 was made by `rpc.connect`
    # Balances asked for with `balances_of`, by (partition, holder): what pending force transfers
    # would take. Not in `reads`: the token checks the balance again when the transfer is sent.
    partition_balances: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Collection:
    """A collection read through a count and a paged view."""

    name: str
    key: str
    count_function: str
    page_function: str


COLLECTIONS = (
    _Collection("investors", "compliance_registry", "investorCount", "investorsPage"),
    _Collection("blocked", "compliance_registry", "blockedCount", "blockedPage"),
    _Collection("bookings", "dvp_settlement", "bookingCount", "bookingsPage"),
    _Collection("cycles", "corporate_actions", "cycleCount", "cyclesPage"),
    _Collection("snapshots", "transfer_agent_bridge", "snapshotCount", "snapshotsPage"),
    _Collection("attestations", "custody_attestations", "attestationCount", "attestationsPage"),
    _Collection("force_transfers", "security_token", "forceTransferCount", "forceTransfersPage"),
)


def reads_digest(reads: Mapping[str, str]) -> str:
    """Return the sha256 hex digest of READS: compact JSON of the pairs sorted by key."""
    canonical = json.dumps(sorted(reads.items()), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def observe(
    w3: Web3,
    environment: Environment,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    block: int | None = None,
    balances_of: Collection[tuple[Partition, str]] = (),
) -> Observation:
    """Read everything the reconciler manages at one block (the latest when BLOCK is None).

    BALANCES_OF names (partition, holder) pairs whose balances are read too,
    in one more batch: the senders of pending force transfers.

    Raises ChainError when the chain id, a token's decimals or the coupon
    treasury differ from ENVIRONMENT, when any read fails after the transport's
    retries, when the node's responses contradict each other, or when the block
    changes under the reads. A snapshot is returned only when it was read whole.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    counter = request_counter(w3)
    counted_before = counter.json_rpc_requests if counter is not None else 0
    reader = PinnedReader(w3)
    contracts = _Contracts(environment)

    # Pin the block first: every later call names its number.
    chain_id, pin = reader.pin(block)
    _check_chain_id(chain_id, environment, pin)

    # One batch for everything of fixed size. Its counts fix how many pages to read.
    summary = _read_summary(reader, contracts, environment)
    _check_decimals(summary, contracts, environment, pin)
    _check_treasury(summary, contracts, environment, pin)

    # Every page of every collection, batched; each page's length is checked against its count.
    pages = _read_pages(reader, contracts, summary.counts, page_size)
    wanted = sorted(set(balances_of))
    balances = reader.call(
        [contracts.call("security_token", "balanceOfByPartition", _partition_id(p), holder) for p, holder in wanted]
    )

    # The last read: the block must still be the one every value came from.
    reader.check_pin()

    reads: dict[str, str] = {}
    state = State(
        investors=_investors(pages["investors"], set(pages["blocked"]), reads, pin),
        sanctions=_sanctions(pages["blocked"], reads, pin),
        allocations=_allocations(pages["bookings"], reads, pin),
        coupon_cycles=_coupon_cycles(pages["cycles"], reads, pin),
        cap_table_snapshots=_snapshots(pages["snapshots"], reads, pin),
        custody_attestations=_attestations(pages["attestations"], reads, pin),
        pause={PAUSE_KEY: Pause(paused=summary.paused)},
        roles=_role_assignments(summary.roles),
        force_transfers=_force_transfers(pages["force_transfers"], reads, pin),
    )
    _summary_reads(summary, chain_id, reads)
    used = counter.json_rpc_requests - counted_before if counter is not None else reader.requests
    log.info(
        "observed chain %s at block %s: %s investors, %s blocked, %s allocations, %s coupon cycles in %s requests",
        chain_id,
        pin.number,
        len(state.investors),
        len(state.sanctions),
        len(state.allocations),
        len(state.coupon_cycles),
        used,
    )
    return Observation(
        chain_id=chain_id,
        block_number=pin.number,
        block_hash=pin.hash,
        block_timestamp=pin.timestamp,
        state=state,
        total_supply=summary.total_supply,
        supply_by_partition={partition.value: summary.supply[partition] for partition in Partition},
        paused=summary.paused,
        treasury_usdc_balance=summary.treasury_balance,
        usdc_allowance_to_corporate_actions=summary.allowance,
        roles=summary.roles,
        reads=reads,
        digest=reads_digest(reads),
        rpc_requests=used,
        partition_balances={
            (partition.value, holder): int(balance) for (partition, holder), balance in zip(wanted, balances, strict=True)
        },
    )


# --- contracts and the summary batch -----------------------------------------


class _Contracts:
    """Builds calls to the environment's contracts."""

    def __init__(self, environment: Environment) -> None:
        self.addresses = vars(environment.contracts)

    def call(self, key: str, function: str, *args: Any) -> ContractCall:
        label = "USDC" if key == "usdc" else ""
        return ContractCall(ARTIFACTS[key], key, self.addresses[key], function, tuple(args), label)


@dataclass(frozen=True)
class _Summary:
    token_decimals: int
    usdc_decimals: int
    counts: Mapping[str, int]
    total_supply: int
    supply: Mapping[Partition, int]
    paused: bool
    corporate_actions_treasury: str
    treasury_balance: int
    allowance: int
    roles: Mapping[str, Mapping[str, tuple[str, ...]]]


def _role_id(name: str) -> bytes:
    return bytes(32) if name == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=name))


def _partition_id(partition: Partition) -> bytes:
    return partition.value.encode("ascii").ljust(32, b"\0")


def _read_summary(reader: PinnedReader, contracts: _Contracts, environment: Environment) -> _Summary:
    treasury = environment.treasury
    corporate_actions = environment.contracts.corporate_actions
    fixed = [
        contracts.call("security_token", "decimals"),
        contracts.call("usdc", "decimals"),
        *(contracts.call(collection.key, collection.count_function) for collection in COLLECTIONS),
        contracts.call("security_token", "totalSupply"),
        *(contracts.call("security_token", "totalSupplyByPartition", _partition_id(p)) for p in Partition),
        contracts.call("security_token", "paused"),
        contracts.call("corporate_actions", "treasury"),
        contracts.call("usdc", "balanceOf", treasury),
        contracts.call("usdc", "allowance", treasury, corporate_actions),
    ]
    role_keys = [(key, role) for key, roles in MANAGED_ROLES.items() for role in roles]
    role_calls = [contracts.call(key, "getRoleMembers", _role_id(role)) for key, role in role_keys]
    values = iter(reader.call(fixed + role_calls))

    token_decimals, usdc_decimals = next(values), next(values)
    counts = {collection.name: int(next(values)) for collection in COLLECTIONS}
    total_supply = next(values)
    supply = {partition: int(next(values)) for partition in Partition}
    paused, ca_treasury, balance, allowance = next(values), next(values), next(values), next(values)
    roles: dict[str, dict[str, tuple[str, ...]]] = {key: {} for key in MANAGED_ROLES}
    for key, role in role_keys:
        roles[key][role] = tuple(sorted(to_checksum_address(holder) for holder in next(values)))
    return _Summary(
        token_decimals=int(token_decimals),
        usdc_decimals=int(usdc_decimals),
        counts=counts,
        total_supply=int(total_supply),
        supply=supply,
        paused=bool(paused),
        corporate_actions_treasury=to_checksum_address(ca_treasury),
        treasury_balance=int(balance),
        allowance=int(allowance),
        roles=roles,
    )


def _check_chain_id(chain_id: int, environment: Environment, pin: BlockPin) -> None:
    if chain_id != environment.chain_id:
        raise ChainError(
            f"the RPC endpoint serves chain id {chain_id} (block {pin.number}), "
            f"but environment {environment.name} has chain_id {environment.chain_id}",
            hint=f"point {environment.rpc_url_env} at the {environment.name} chain, "
            f"or correct chain_id in the environment file if {chain_id} is right",
        )


def _check_decimals(summary: _Summary, contracts: _Contracts, environment: Environment, pin: BlockPin) -> None:
    expected = environment.decimals
    pairs = (
        ("security_token", summary.token_decimals, expected.security_token),
        ("usdc", summary.usdc_decimals, expected.usdc),
    )
    for key, found, written in pairs:
        if found != written:
            call = contracts.call(key, "decimals")
            raise ChainError(
                f"{call.describe()} on {call.address} returned {found} at block {pin.number}, "
                f"but environment {environment.name} has decimals.{key}: {written}",
                hint=f"check contracts.{key} in the environment file: it must name a token with {written} "
                "decimals, because the amounts in the YAML are converted with them",
            )


def _check_treasury(summary: _Summary, contracts: _Contracts, environment: Environment, pin: BlockPin) -> None:
    if summary.corporate_actions_treasury != environment.treasury:
        call = contracts.call("corporate_actions", "treasury")
        raise ChainError(
            f"{call.describe()} on {call.address} returned {summary.corporate_actions_treasury} at block "
            f"{pin.number}, but environment {environment.name} has treasury {environment.treasury}",
            hint="write the treasury that pays coupons in the environment file, "
            "or have the admin call CorporateActions.setTreasury",
        )


def _summary_reads(summary: _Summary, chain_id: int, reads: dict[str, str]) -> None:
    reads["chain/chain_id"] = str(chain_id)
    reads["security_token/decimals"] = str(summary.token_decimals)
    reads["usdc/decimals"] = str(summary.usdc_decimals)
    reads["security_token/total_supply"] = str(summary.total_supply)
    for partition, amount in summary.supply.items():
        reads[f"security_token/total_supply/{partition.value}"] = str(amount)
    reads["security_token/paused"] = _flag(summary.paused)
    reads["corporate_actions/treasury"] = summary.corporate_actions_treasury
    reads["treasury/usdc_balance"] = str(summary.treasury_balance)
    reads["treasury/usdc_allowance/corporate_actions"] = str(summary.allowance)
    for collection in COLLECTIONS:
        reads[f"counts/{collection.name}"] = str(summary.counts[collection.name])
    for key, roles in summary.roles.items():
        for role, holders in roles.items():
            reads[f"roles/{key}/{role}"] = ",".join(holders)


# --- pages -------------------------------------------------------------------


def _page_plan(count: int, page_size: int) -> list[tuple[int, int]]:
    """Return (start, size) of each page for COUNT items.

    The last page requests one item more than remains. The contract clips a
    page at the end, so a node whose count disagrees with its pages is caught.
    """
    starts = list(range(0, count, page_size)) or [0]
    return [(start, min(page_size, count - start) + (1 if start == starts[-1] else 0)) for start in starts]


def _read_pages(
    reader: PinnedReader, contracts: _Contracts, counts: Mapping[str, int], page_size: int
) -> dict[str, list[Any]]:
    calls: list[ContractCall] = []
    owners: list[tuple[_Collection, int]] = []
    for collection in COLLECTIONS:
        count = counts[collection.name]
        for start, size in _page_plan(count, page_size):
            calls.append(contracts.call(collection.key, collection.page_function, start, size))
            owners.append((collection, count))
    results = reader.call(calls)

    pages: dict[str, list[Any]] = {collection.name: [] for collection in COLLECTIONS}
    for call, (collection, count), page in zip(calls, owners, results, strict=True):
        start, size = call.args
        expected = min(size, max(count - start, 0))
        if len(page) != expected:
            count_call = contracts.call(collection.key, collection.count_function)
            raise ChainError(
                f"{call.describe()} at block {reader.block.number} returned {len(page)} entries, "
                f"but {count_call.describe()} returned {count} at the same block, so {expected} were due",
                hint="the node's responses contradict each other: rerun, and use another node if it repeats",
            )
        pages[collection.name].extend(page)
    return pages


# --- chain values to the model -----------------------------------------------


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _listed_twice(view: str, key: str, pin: BlockPin) -> ChainError:
    return ChainError(
        f"{view} at block {pin.number} lists {key} twice",
        hint="the node's responses contradict each other: rerun, and use another node if it repeats",
    )


def _investors(
    entries: Sequence[tuple[Any, ...]], blocked: set[str], reads: dict[str, str], pin: BlockPin
) -> dict[str, Investor]:
    investors: dict[str, Investor] = {}
    blocked_lower = {address.lower() for address in blocked}
    for raw_address, kyc, qib, jurisdiction_bytes, lockup_until, is_blocked in entries:
        address = to_checksum_address(raw_address)
        if address in investors:
            raise _listed_twice("ComplianceRegistry.investorsPage", address, pin)
        try:
            jurisdiction = jurisdiction_from_int(int.from_bytes(jurisdiction_bytes, "big")) or ""
        except ValueError as error:
            raise ChainError(
                f"investor {address} has an invalid jurisdiction 0x{jurisdiction_bytes.hex()} at block {pin.number}",
                hint="the registry only stores two letters A-Z; check contracts.compliance_registry",
            ) from error
        if bool(is_blocked) != (raw_address.lower() in blocked_lower):
            raise ChainError(
                f"ComplianceRegistry at block {pin.number}: investor {address} is "
                f"{'' if is_blocked else 'not '}blocked in investorsPage but "
                f"{'not ' if is_blocked else ''}listed by blockedPage",
                hint="the node's responses contradict each other: rerun, and use another node if it repeats",
            )
        investors[address] = Investor(
            address=address,
            ref="",
            kyc=bool(kyc),
            qib=bool(qib),
            jurisdiction=jurisdiction,
            lockup_until=int(lockup_until) or None,
        )
        prefix = f"investors/{address}"
        reads[f"{prefix}/kyc"] = _flag(bool(kyc))
        reads[f"{prefix}/qib"] = _flag(bool(qib))
        reads[f"{prefix}/jurisdiction"] = jurisdiction
        reads[f"{prefix}/lockup_until"] = str(int(lockup_until))
    return investors


def _sanctions(entries: Sequence[str], reads: dict[str, str], pin: BlockPin) -> dict[str, SanctionsEntry]:
    sanctions: dict[str, SanctionsEntry] = {}
    for raw_address in entries:
        address = to_checksum_address(raw_address)
        if address in sanctions:
            raise _listed_twice("ComplianceRegistry.blockedPage", address, pin)
        sanctions[address] = SanctionsEntry(address=address, source="", listed_on=0)
        reads[f"sanctions/{address}/blocked"] = "true"
    return sanctions


def _ascii_id(value: bytes, what: str, pin: BlockPin) -> str:
    """Decode a left-aligned, zero-padded ASCII bytes32 such as a booking id or a partition."""
    text = value.rstrip(b"\0")
    if not text or not all(0x21 <= byte <= 0x7E for byte in text):
        raise ChainError(
            f"{what} 0x{value.hex()} at block {pin.number} is not printable ASCII padded with zero bytes",
            hint="ids and partitions are written by DvPSettlement.book, which rejects others; "
            "check contracts.dvp_settlement",
        )
    return text.decode("ascii")


def _allocations(entries: Sequence[tuple[Any, ...]], reads: dict[str, str], pin: BlockPin) -> dict[str, Allocation]:
    allocations: dict[str, Allocation] = {}
    partitions = {partition.value: partition for partition in Partition}
    for raw_id, raw_partition, investor, amount, price, status_code, booked_at, closed_at in entries:
        booking_id = _ascii_id(raw_id, "booking id", pin)
        partition_name = _ascii_id(raw_partition, f"partition of booking {booking_id}", pin)
        if booking_id in allocations:
            raise _listed_twice("DvPSettlement.bookingsPage", booking_id, pin)
        if partition_name not in partitions or status_code not in BOOKING_STATUSES:
            raise ChainError(
                f"booking {booking_id} at block {pin.number} has partition {partition_name!r} and status "
                f"{status_code}, but only 144A and RegS with status 1 to 3 exist",
                hint="check that contracts.dvp_settlement is the JINBI DvPSettlement",
            )
        status = BOOKING_STATUSES[status_code]
        allocations[booking_id] = Allocation(
            id=booking_id,
            partition=partitions[partition_name],
            investor=to_checksum_address(investor),
            amount=int(amount),
            price=int(price),
            trade_date=0,
            status=status,
        )
        prefix = f"allocations/{booking_id}"
        reads[f"{prefix}/partition"] = partition_name
        reads[f"{prefix}/investor"] = allocations[booking_id].investor
        reads[f"{prefix}/amount"] = str(int(amount))
        reads[f"{prefix}/price"] = str(int(price))
        reads[f"{prefix}/status"] = status.value
        reads[f"{prefix}/booked_at"] = str(int(booked_at))
        reads[f"{prefix}/closed_at"] = str(int(closed_at))
    return allocations


def _coupon_cycles(entries: Sequence[tuple[Any, ...]], reads: dict[str, str], pin: BlockPin) -> dict[str, CouponCycle]:
    cycles: dict[str, CouponCycle] = {}
    for cycle_id, period, rate_bps, record_date, payment_date, amount, paid_at in entries:
        key = str(int(cycle_id))
        if key in cycles:
            raise _listed_twice("CorporateActions.cyclesPage", key, pin)
        cycles[key] = CouponCycle(
            id=key,
            period=str(period),
            rate_bps=int(rate_bps),
            record_date=int(record_date),
            payment_date=int(payment_date),
            amount=int(amount),
            paid_at=int(paid_at),
        )
        prefix = f"coupon_cycles/{key}"
        reads[f"{prefix}/period"] = str(period)
        reads[f"{prefix}/rate_bps"] = str(int(rate_bps))
        reads[f"{prefix}/record_date"] = str(int(record_date))
        reads[f"{prefix}/payment_date"] = str(int(payment_date))
        reads[f"{prefix}/amount"] = str(int(amount))
        reads[f"{prefix}/paid_at"] = str(int(paid_at))
    return cycles


def _check_record_key(view: str, key: bytes, text: str, pin: BlockPin) -> None:
    """Check that a record's key is keccak256 of its period or label, as the contracts compute it."""
    if bytes(key) != bytes(Web3.keccak(text=text)):
        raise ChainError(
            f"{view} at block {pin.number} lists {text!r} under key 0x{bytes(key).hex()}, which is not its keccak256",
            hint="check that the environment file names the JINBI contracts, which key each record by its hash",
        )


def _snapshots(
    entries: Sequence[tuple[Any, ...]], reads: dict[str, str], pin: BlockPin
) -> dict[str, CapTableSnapshot]:
    snapshots: dict[str, CapTableSnapshot] = {}
    for key, period, cid, recorded_at in entries:
        _check_record_key("TransferAgentBridge.snapshotsPage", key, period, pin)
        if period in snapshots:
            raise _listed_twice("TransferAgentBridge.snapshotsPage", period, pin)
        snapshots[period] = CapTableSnapshot(period=period, cid=cid, recorded_at=int(recorded_at))
        prefix = f"cap_table_snapshots/{period}"
        reads[f"{prefix}/cid"] = cid
        reads[f"{prefix}/recorded_at"] = str(int(recorded_at))
    return snapshots


def _attestations(
    entries: Sequence[tuple[Any, ...]], reads: dict[str, str], pin: BlockPin
) -> dict[str, CustodyAttestation]:
    attestations: dict[str, CustodyAttestation] = {}
    for key, scope, label, cid, attested_at in entries:
        _check_record_key("CustodyAttestations.attestationsPage", key, label, pin)
        if label in attestations:
            raise _listed_twice("CustodyAttestations.attestationsPage", label, pin)
        attestations[label] = CustodyAttestation(label=label, scope=scope, cid=cid, attested_at=int(attested_at))
        prefix = f"custody_attestations/{label}"
        reads[f"{prefix}/scope"] = scope
        reads[f"{prefix}/cid"] = cid
        reads[f"{prefix}/attested_at"] = str(int(attested_at))
    return attestations


def _role_assignments(roles: Mapping[str, Mapping[str, tuple[str, ...]]]) -> dict[str, RoleAssignment]:
    return {
        role_key(contract, role, holder): RoleAssignment(contract, role, holder)
        for contract, by_role in roles.items()
        for role, holders in by_role.items()
        for holder in holders
    }


def _force_transfers(
    entries: Sequence[tuple[Any, ...]], reads: dict[str, str], pin: BlockPin
) -> dict[str, ForceTransfer]:
    orders: dict[str, ForceTransfer] = {}
    partitions = {partition.value: partition for partition in Partition}
    for raw_id, raw_partition, sender, recipient, amount, legal_reference, executed_at in entries:
        order_id = _ascii_id(raw_id, "force-transfer order id", pin)
        partition_name = _ascii_id(raw_partition, f"partition of force-transfer order {order_id}", pin)
        if order_id in orders:
            raise _listed_twice("CompliantSecurityToken.forceTransfersPage", order_id, pin)
        if partition_name not in partitions:
            raise ChainError(
                f"force-transfer order {order_id} at block {pin.number} has partition {partition_name!r}, "
                "but only 144A and RegS exist",
                hint="check that contracts.security_token is the JINBI CompliantSecurityToken",
            )
        order = ForceTransfer(
            id=order_id,
            legal_reference=str(legal_reference),
            partition=partitions[partition_name],
            sender=to_checksum_address(sender),
            recipient=to_checksum_address(recipient),
            amount=int(amount),
            executed_at=int(executed_at),
        )
        orders[order_id] = order
        prefix = f"force_transfers/{order_id}"
        reads[f"{prefix}/partition"] = partition_name
        reads[f"{prefix}/from"] = order.sender
        reads[f"{prefix}/to"] = order.recipient
        reads[f"{prefix}/amount"] = str(order.amount)
        reads[f"{prefix}/legal_reference"] = order.legal_reference
        reads[f"{prefix}/executed_at"] = str(order.executed_at)
    return orders
