"""EIP-1559 fees for an apply's transactions and for their replacements, under configurable caps.

A new transaction offers the node's suggested priority fee (eth_maxPriorityFeePerGas)
and a max fee of `base_fee_multiplier` times the latest base fee plus that
priority fee, so it stays minable while the base fee rises for a few blocks.
A replacement at the same nonce raises both fees by `replacement_increase_percent`
and at least to the current suggestion. Every amount is an int in wei.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from web3 import Web3

from reconciler.errors import ConfigurationError, ExecutionError

# geth's txpool rejects a replacement that raises either fee by less than 10 %
# (its `--txpool.pricebump` option, default 10). This module assumes the same rule elsewhere.
MIN_REPLACEMENT_INCREASE_PERCENT = 10


@dataclass(frozen=True)
class FeePolicy:
    """Caps and multipliers for EIP-1559 fees; None means no cap."""

    max_fee_per_gas: int | None = None  # wei, cap on maxFeePerGas
    max_priority_fee_per_gas: int | None = None  # wei, cap on maxPriorityFeePerGas
    base_fee_multiplier: int = 2
    replacement_increase_percent: int = 25

    def __post_init__(self) -> None:
        for name in ("max_fee_per_gas", "max_priority_fee_per_gas"):
            cap = getattr(self, name)
            if cap is not None and cap <= 0:
                raise ConfigurationError(f"invalid fee cap {name}={cap}: expected a positive number of wei")
        if self.base_fee_multiplier < 1:
            raise ConfigurationError(f"invalid base_fee_multiplier {self.base_fee_multiplier}: expected 1 or more")
        if self.replacement_increase_percent < MIN_REPLACEMENT_INCREASE_PERCENT:
            raise ConfigurationError(
                f"invalid replacement_increase_percent {self.replacement_increase_percent}: nodes reject "
                f"replacements that raise fees by less than {MIN_REPLACEMENT_INCREASE_PERCENT} %"
            )


@dataclass(frozen=True)
class Fees:
    """The two EIP-1559 fee fields of one signed transaction, in wei."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def describe(self) -> str:
        return f"max fee {gwei(self.max_fee_per_gas)} gwei, priority fee {gwei(self.max_priority_fee_per_gas)} gwei"


@dataclass(frozen=True)
class FeeMarket:
    """The node's current fee levels: the latest block's base fee and a suggested priority fee, in wei."""

    block_number: int
    base_fee_per_gas: int
    priority_fee_per_gas: int


def read_fee_market(w3: Web3) -> FeeMarket:
    """Read the latest base fee and the node's suggested priority fee."""
    block = w3.eth.get_block("latest")
    base_fee = block.get("baseFeePerGas")
    if base_fee is None:
        raise ExecutionError(
            f"block {block['number']} has no base fee, so the chain does not support EIP-1559 transactions",
            hint="apply to a chain with the London upgrade (every chain JINBI is deployed to has it)",
        )
    return FeeMarket(int(block["number"]), int(base_fee), int(w3.eth.max_priority_fee))


def initial_fees(market: FeeMarket, policy: FeePolicy) -> Fees:
    """Return the fees of new transactions, or raise ExecutionError when the caps leave them unminable."""
    priority = _cap(market.priority_fee_per_gas, policy.max_priority_fee_per_gas)
    max_fee = _cap(policy.base_fee_multiplier * market.base_fee_per_gas + priority, policy.max_fee_per_gas)
    if max_fee < market.base_fee_per_gas:
        raise ExecutionError(
            f"the max fee cap of {gwei(max_fee)} gwei is below the base fee of {gwei(market.base_fee_per_gas)} gwei "
            f"in block {market.block_number}, so no transaction could be mined",
            hint="raise the max fee cap, or apply when the base fee is lower",
        )
    return Fees(max_fee, min(priority, max_fee))


def replacement_fees(previous: Fees, market: FeeMarket, policy: FeePolicy) -> Fees | None:
    """Return raised fees to replace a transaction signed with PREVIOUS, or None when the caps forbid it.

    Both fees rise by the policy's percentage and at least to what a new
    transaction would get now; None means the caps leave less than the 10 %
    increase that nodes require.
    """
    increase = policy.replacement_increase_percent
    priority = max(_raise(previous.max_priority_fee_per_gas, increase), market.priority_fee_per_gas)
    max_fee = max(
        _raise(previous.max_fee_per_gas, increase),
        policy.base_fee_multiplier * market.base_fee_per_gas + priority,
    )
    max_fee = _cap(max_fee, policy.max_fee_per_gas)
    priority = min(_cap(priority, policy.max_priority_fee_per_gas), max_fee)
    if max_fee < _raise(previous.max_fee_per_gas, MIN_REPLACEMENT_INCREASE_PERCENT) or priority < _raise(
        previous.max_priority_fee_per_gas, MIN_REPLACEMENT_INCREASE_PERCENT
    ):
        return None
    return Fees(max_fee, priority)


def gwei(wei: int) -> str:
    """Format WEI in gwei exactly, without trailing zeros ("1.5", "30")."""
    text = format(Decimal(wei) / Decimal(10**9), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cap(value: int, cap: int | None) -> int:
    return value if cap is None else min(value, cap)


def _raise(value: int, percent: int) -> int:
    """Return VALUE raised by PERCENT, rounded up, and by at least 1 wei."""
    return max(value + 1, -(-value * (100 + percent) // 100))
