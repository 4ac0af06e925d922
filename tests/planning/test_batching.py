"""Actions -> transactions: one batched call per function, split only by the gas cap, encoded from the ABI."""

from __future__ import annotations

import math

import pytest
from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_support import address, blocked, chain_view, investor, observation, plan, state

from reconciler.errors import ConfigurationError
from reconciler.model import Investor
from reconciler.planning.calls import NEW_INVESTOR_GAS, TX_BASE_GAS, UPDATED_INVESTOR_GAS
from reconciler.planning.transactions import function_abi


def new_investors(count: int, start: int = 1) -> list[Investor]:
    return [investor(number) for number in range(start, start + count)]


def test_one_call_per_function_under_the_cap() -> None:
    result = plan(state(new_investors(150), sanctions=[blocked(number) for number in range(500, 600)]))
    assert [(tx.function.qualified_name, len(tx.actions)) for tx in result.transactions] == [
        ("ComplianceRegistry.blockAddresses", 100),
        ("ComplianceRegistry.setInvestors", 150),
    ]
    assert result.summary() == "Plan: 100 addresses to block, 150 investors to add in 2 transactions."


def test_thousand_new_investors_split_by_default_cap() -> None:
    result = plan(state(new_investors(1_000)))
    # (10,000,000 - 60,000) // 48,000 = 207 words per transaction.
    assert [len(tx.actions) for tx in result.transactions] == [207, 207, 207, 207, 172]
    assert all(tx.gas_estimate <= 10_000_000 for tx in result.transactions)
    assert [action.key for tx in result.transactions for action in tx.actions] == sorted(
        (address(number) for number in range(1, 1_001)), key=str.lower
    )


def test_eip_7825_cap_needs_three_transactions() -> None:
    result = plan(state(new_investors(1_000)), gas_cap=2**24)
    assert [len(tx.actions) for tx in result.transactions] == [348, 348, 304]
    assert result.warnings == ()


def test_cap_above_eip_7825_is_a_warning() -> None:
    result = plan(state(new_investors(3)), gas_cap=30_000_000)
    assert [warning.code for warning in result.warnings] == ["gas-cap"]


def test_gas_estimate_is_base_plus_items() -> None:
    on_chain = chain_view(state(new_investors(2)))
    result = plan(state([investor(1, kyc=False), investor(2, kyc=False), investor(3)]), observation(on_chain))
    (transaction,) = result.transactions
    assert transaction.gas_estimate == TX_BASE_GAS + 2 * UPDATED_INVESTOR_GAS + NEW_INVESTOR_GAS


def test_cap_below_one_item_is_rejected() -> None:
    with pytest.raises(ConfigurationError) as raised:
        plan(state(new_investors(1)), gas_cap=100_000)
    assert raised.value.message == (
        "gas cap 100,000 is below the 108,000 gas that one call of ComplianceRegistry.setInvestors may take"
    )
    assert raised.value.hint == "raise --gas-cap to at least 108,000"


def test_calldata_decodes_to_the_arguments() -> None:
    result = plan(state(new_investors(3), sanctions=[blocked(9)]))
    for transaction in result.transactions:
        types, signature = function_abi(transaction.function)
        raw = bytes.fromhex(transaction.data.removeprefix("0x"))
        assert raw[:4] == function_signature_to_4byte_selector(signature)
        decoded = decode(list(types), raw[4:])
        assert [list(value) for value in decoded] == [list(value) for value in transaction.arguments]


@settings(max_examples=40, deadline=None)
@given(
    new=st.integers(0, 1_200),
    updated=st.integers(0, 1_200),
    gas_cap=st.integers(5_000_000, 30_000_000),
)
def test_split_count_within_bound(new: int, updated: int, gas_cap: int) -> None:
    on_chain = chain_view(state(new_investors(updated, start=5_000)))
    revoked = [investor(number, kyc=False) for number in range(5_000, 5_000 + updated)]
    wanted = state(new_investors(new) + revoked)
    result = plan(wanted, observation(on_chain), gas_cap=gas_cap, allow_mass_change=True)
    total = TX_BASE_GAS + new * NEW_INVESTOR_GAS + updated * UPDATED_INVESTOR_GAS
    assert len(result.transactions) <= math.ceil(total / gas_cap) + 1
    assert all(tx.gas_estimate <= gas_cap for tx in result.transactions)
    assert sum(len(tx.actions) for tx in result.transactions) == new + updated
