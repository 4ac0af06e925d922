"""Actions -> transactions: one batched call per contract function, split only by the gas cap.

`batch_transactions` sorts the actions in sending order (`reconciler.planning.calls`),
groups them by function and fills each transaction with items, in order, until
the next one would take the gas model's estimate over the cap. Every
transaction but the last of a function is therefore filled to within one item
of the cap. Functions that take no batch (approve, payCoupon) get one
transaction per action. Calldata is ABI-encoded from the committed artifacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from typing import Any

from eth_abi.abi import encode
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector

from reconciler.chain import artifacts
from reconciler.errors import ConfigurationError
from reconciler.model import Environment
from reconciler.planning.actions import sorted_actions
from reconciler.planning.calls import Function, Stage
from reconciler.planning.records import Action


@dataclass(frozen=True)
class Transaction:
    """One transaction of a plan: the call, its calldata and the actions it carries."""

    function: Function
    sender: str
    to: str
    arguments: tuple[Any, ...]  # the call's arguments in ABI order, as encoded
    data: str  # 0x-prefixed calldata
    gas_estimate: int  # the gas model's upper bound, not a node's eth_estimateGas
    actions: tuple[Action, ...]

    @property
    def signature(self) -> str:
        return function_abi(self.function)[1]

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(sorted({action.stage for action in self.actions}))


def batch_transactions(
    actions: Sequence[Action], environment: Environment, signer: str, gas_cap: int
) -> tuple[Transaction, ...]:
    """Group ACTIONS into transactions in sending order, each at most GAS_CAP by the gas model.

    Raises ConfigurationError when GAS_CAP is below what one item of a needed
    function takes.
    """
    transactions: list[Transaction] = []
    ordered = sorted_actions(actions)
    for function, grouped in groupby(ordered, key=lambda action: action.function):
        items = list(grouped)
        _check_gas_cap(function, items, gas_cap)
        chunks = _split_by_gas(function, items, gas_cap) if function.spec.batched else [[item] for item in items]
        for chunk in chunks:
            transactions.append(_transaction(function, chunk, environment, signer))
    return tuple(transactions)


def _check_gas_cap(function: Function, items: list[Action], gas_cap: int) -> None:
    needed = function.spec.base_gas + max(item.gas for item in items)
    if gas_cap < needed:
        raise ConfigurationError(
            f"gas cap {gas_cap:,} is below the {needed:,} gas that one call of {function.qualified_name} may take",
            hint=f"raise --gas-cap to at least {needed:,}",
        )


def _split_by_gas(function: Function, items: list[Action], gas_cap: int) -> list[list[Action]]:
    chunks: list[list[Action]] = []
    current: list[Action] = []
    used = function.spec.base_gas
    for item in items:
        if current and used + item.gas > gas_cap:
            chunks.append(current)
            current, used = [], function.spec.base_gas
        current.append(item)
        used += item.gas
    if current:
        chunks.append(current)
    return chunks


def _transaction(function: Function, chunk: list[Action], environment: Environment, signer: str) -> Transaction:
    spec = function.spec
    if spec.batched:
        arguments: tuple[Any, ...] = ([action.argument for action in chunk],)
    else:
        (action,) = chunk
        arguments = tuple(action.argument)
    types, signature = function_abi(function)
    data = "0x" + (function_signature_to_4byte_selector(signature) + encode(list(types), list(arguments))).hex()
    # The treasury approves its own USDC; checks.py rejects a plan whose signer is not the treasury.
    sender = environment.treasury if spec.role is None else signer
    return Transaction(
        function=function,
        sender=sender,
        to=getattr(environment.contracts, spec.contract),
        arguments=arguments,
        data=data,
        gas_estimate=spec.base_gas + sum(action.gas for action in chunk),
        actions=tuple(chunk),
    )


@cache
def function_abi(function: Function) -> tuple[tuple[str, ...], str]:
    """Return the ABI input types and the signature of FUNCTION, from its compiled artifact."""
    spec = function.spec
    entries = [
        entry
        for entry in artifacts.load(spec.artifact).abi
        if entry.get("type") == "function" and entry.get("name") == spec.name
    ]
    if len(entries) != 1:
        raise ConfigurationError(
            f"{spec.artifact} has {len(entries)} functions named {spec.name} in its artifact, expected 1",
            hint="run `make contracts` to rebuild the artifacts",
        )
    types = tuple(collapse_if_tuple(item) for item in entries[0]["inputs"])
    return types, f"{spec.name}({','.join(types)})"


def argument_names(function: Function) -> tuple[str, ...]:
    """Return the ABI names of FUNCTION's inputs, such as ("packed",) for setInvestors."""
    spec = function.spec
    for entry in artifacts.load(spec.artifact).abi:
        if entry.get("type") == "function" and entry.get("name") == spec.name:
            return tuple(item.get("name", "") for item in entry["inputs"])
    return ()
