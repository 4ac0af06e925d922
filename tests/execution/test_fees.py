"""EIP-1559 fees of new transactions and replacements under caps (pure arithmetic, in wei)."""

from __future__ import annotations

import pytest

from reconciler.errors import ConfigurationError, ExecutionError
from reconciler.execution.fees import FeeMarket, FeePolicy, Fees, gwei, initial_fees, replacement_fees

GWEI = 10**9
MARKET = FeeMarket(block_number=100, base_fee_per_gas=30 * GWEI, priority_fee_per_gas=2 * GWEI)


def test_initial_fees_leave_room_for_base_fee_growth() -> None:
    assert initial_fees(MARKET, FeePolicy()) == Fees(max_fee_per_gas=62 * GWEI, max_priority_fee_per_gas=2 * GWEI)


def test_initial_fees_capped() -> None:
    policy = FeePolicy(max_fee_per_gas=40 * GWEI, max_priority_fee_per_gas=1 * GWEI)

    assert initial_fees(MARKET, policy) == Fees(max_fee_per_gas=40 * GWEI, max_priority_fee_per_gas=1 * GWEI)


def test_cap_below_base_fee_raises() -> None:
    with pytest.raises(ExecutionError) as caught:
        initial_fees(MARKET, FeePolicy(max_fee_per_gas=20 * GWEI))

    assert caught.value.message == (
        "the max fee cap of 20 gwei is below the base fee of 30 gwei in block 100, so no transaction could be mined"
    )


def test_replacement_raises_both_fees_by_percentage() -> None:
    previous = Fees(max_fee_per_gas=100 * GWEI, max_priority_fee_per_gas=2 * GWEI)

    assert replacement_fees(previous, MARKET, FeePolicy()) == Fees(125 * GWEI, 2_500_000_000)


def test_replacement_follows_risen_market() -> None:
    previous = Fees(max_fee_per_gas=62 * GWEI, max_priority_fee_per_gas=2 * GWEI)
    risen = FeeMarket(block_number=101, base_fee_per_gas=90 * GWEI, priority_fee_per_gas=5 * GWEI)

    assert replacement_fees(previous, risen, FeePolicy()) == Fees(185 * GWEI, 5 * GWEI)


def test_replacement_rounds_up_in_wei() -> None:
    previous = Fees(max_fee_per_gas=7, max_priority_fee_per_gas=3)
    tiny = FeeMarket(block_number=1, base_fee_per_gas=1, priority_fee_per_gas=1)

    assert replacement_fees(previous, tiny, FeePolicy(replacement_increase_percent=10)) == Fees(8, 4)


def test_replacement_capped_but_still_enough() -> None:
    previous = Fees(max_fee_per_gas=100 * GWEI, max_priority_fee_per_gas=2 * GWEI)
    policy = FeePolicy(max_fee_per_gas=111 * GWEI)

    assert replacement_fees(previous, MARKET, policy) == Fees(111 * GWEI, 2_500_000_000)


def test_replacement_impossible_under_cap() -> None:
    previous = Fees(max_fee_per_gas=100 * GWEI, max_priority_fee_per_gas=2 * GWEI)

    assert replacement_fees(previous, MARKET, FeePolicy(max_fee_per_gas=105 * GWEI)) is None
    assert replacement_fees(previous, MARKET, FeePolicy(max_priority_fee_per_gas=2 * GWEI)) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_fee_per_gas": 0}, "invalid fee cap max_fee_per_gas=0: expected a positive number of wei"),
        ({"base_fee_multiplier": 0}, "invalid base_fee_multiplier 0: expected 1 or more"),
        ({"replacement_increase_percent": 5}, "invalid replacement_increase_percent 5: nodes reject replacements"),
    ],
    ids=["zero-cap", "zero-multiplier", "small-increase"],
)
def test_invalid_policy_rejected(options: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{message}"):
        FeePolicy(**options)


@pytest.mark.parametrize(
    ("wei", "text"), [(30 * GWEI, "30"), (1_500_000_000, "1.5"), (1, "0.000000001"), (0, "0")], ids=str
)
def test_gwei_exact(wei: int, text: str) -> None:
    assert gwei(wei) == text
