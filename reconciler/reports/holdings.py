"""Every holder's balances of both partitions at one block.

The contracts cannot enumerate holders, so `read_holdings` finds them in the
token's TransferByPartition and ForceTransferred events from block 0 to the
block (`reconciler.chain.activity.scan_activity`, in bounded `eth_getLogs`
ranges). It then reads `balanceOfByPartition` of each of them for both
partitions at that block in JSON-RPC batches (`PinnedReader`), with the
partition supplies in the same batches. The holders' balances must add up to
each partition's supply, which proves that the scan missed no holder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import to_checksum_address
from web3 import Web3

from reconciler.chain.activity import ZERO_ADDRESS, Activity, scan_activity
from reconciler.chain.reader import BlockPin, ContractCall, PinnedReader
from reconciler.errors import ChainError
from reconciler.model import Environment, Partition
from reconciler.planning.actions import ascii_bytes32

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Holdings:
    """The balances of every holder at one block."""

    chain_id: int
    block: BlockPin
    # EIP-55 holder -> partition -> bond base units, for holders with a non-zero balance only.
    balances: Mapping[str, Mapping[Partition, int]]
    supply: Mapping[Partition, int]  # totalSupplyByPartition at the block

    @property
    def total_supply(self) -> int:
        return sum(self.supply.values())


def check_chain_id(chain_id: int, environment: Environment, block: int) -> None:
    """Raise ChainError when the RPC endpoint serves another chain than ENVIRONMENT's."""
    if chain_id != environment.chain_id:
        raise ChainError(
            f"the RPC endpoint serves chain id {chain_id} (block {block}), "
            f"but environment {environment.name} has chain_id {environment.chain_id}",
            hint=f"point {environment.rpc_url_env} at the {environment.name} chain",
        )


def read_holdings(w3: Web3, environment: Environment, block: int) -> Holdings:
    """Read the balances of every holder of ENVIRONMENT's token at BLOCK.

    Raises ChainError when a read fails, when the block changes under the
    reads, or when the holders' balances do not add up to a partition's supply.
    """
    # Holders need only the transfer events: starting the rejections after
    # BLOCK reads no receipt, which would cost one request per block.
    activity = scan_activity(w3, environment, 0, block, rejections_from=block + 1)
    return read_balances(w3, environment, block, holder_candidates(activity))


def holder_candidates(activity: Activity) -> list[str]:
    """Return every address that received tokens in ACTIVITY, sorted; only these can hold a balance."""
    addresses = {transfer.recipient for transfer in activity.transfers}
    addresses.update(order.recipient for order in activity.force_transfers)
    addresses.discard(ZERO_ADDRESS)
    return sorted({to_checksum_address(address) for address in addresses}, key=str.lower)


def read_balances(w3: Web3, environment: Environment, block: int, candidates: Iterable[str]) -> Holdings:
    """Read both partitions' balances of CANDIDATES and the partition supplies at BLOCK, in batches."""
    reader = PinnedReader(w3)
    chain_id, pin = reader.pin(block)
    check_chain_id(chain_id, environment, pin.number)
    token = environment.contracts.security_token
    partitions = tuple(Partition)

    def call(function: str, *args: object) -> ContractCall:
        return ContractCall("CompliantSecurityToken", "security_token", token, function, args)

    holders = list(candidates)
    calls = [call("totalSupplyByPartition", ascii_bytes32(partition.value)) for partition in partitions]
    calls += [call("balanceOfByPartition", ascii_bytes32(p.value), holder) for holder in holders for p in partitions]
    values = iter(reader.call(calls))
    supply = {partition: int(next(values)) for partition in partitions}
    balances: dict[str, dict[Partition, int]] = {}
    for holder in holders:
        by_partition = {partition: int(next(values)) for partition in partitions}
        if any(by_partition.values()):
            balances[holder] = by_partition
    reader.check_pin()

    # The scan found every holder only if their balances add up to each partition's supply.
    for partition in partitions:
        held = sum(by_partition[partition] for by_partition in balances.values())
        if held != supply[partition]:
            raise ChainError(
                f"the {len(balances)} holders found in the token's events hold {held} base units of {partition.value} "
                f"at block {pin.number}, but totalSupplyByPartition returned {supply[partition]}",
                hint="the node's event logs are incomplete: rerun against a node that serves every log "
                "since the token's deployment",
            )
    log.info("read the balances of %s holders at block %s", len(balances), pin.number)
    return Holdings(chain_id=chain_id, block=pin, balances=balances, supply=supply)
