"""Decode revert data into the Solidity error that caused it.

The JINBI contracts revert with custom errors only. `decode_revert` maps the
4-byte selector of revert data to the error's ABI across every compiled
artifact (plus Solidity's built-in `Error(string)` and `Panic(uint256)`) and
decodes its arguments with eth_abi. The tests use it to assert error names and
arguments; the planner uses it to explain a failed simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3.exceptions import ContractLogicError

from reconciler.chain import artifacts

# Solidity's built-in errors, which no ABI lists.
BUILTIN_ERRORS: tuple[dict[str, Any], ...] = (
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)


@dataclass(frozen=True)
class DecodedError:
    """A decoded revert: the error's name, its arguments in ABI order and their names.

    Addresses are EIP-55 checksummed and bytesN values are `bytes`. Empty revert
    data (a bare `revert()`, or a call that ran out of gas) gives name "" and no
    arguments. A selector found in no ABI gives name "" with the selector and
    the undecoded arguments in `args` and `signature` set to "unknown".
    """

    name: str
    args: tuple[Any, ...]
    signature: str = ""
    arg_names: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.signature == "unknown":
            return f"unknown error {self.args[0]}"
        if not self.name:
            return "reverted without data"
        rendered = (
            f"{name}={_show(value)}" if name else _show(value)
            for name, value in zip(self.arg_names, self.args, strict=True)
        )
        return f"{self.name}({', '.join(rendered)})"


def decode_revert(data: bytes | str) -> DecodedError:
    """Decode revert DATA (bytes or 0x-prefixed hex) into the error that caused it.

    Raises ValueError when the selector is known but the arguments do not decode.
    """
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    if not raw:
        return DecodedError(name="", args=())
    selector, payload = raw[:4], raw[4:]
    error_abi = _errors_by_selector().get(selector)
    if error_abi is None:
        return DecodedError(name="", args=("0x" + selector.hex(), payload), signature="unknown")

    inputs = error_abi.get("inputs", [])
    types = [collapse_if_tuple(item) for item in inputs]
    try:
        values = decode(types, payload)
    except DecodingError as error:
        raise ValueError(f"revert data of {error_abi['name']} does not decode: {error}") from error
    return DecodedError(
        name=error_abi["name"],
        args=tuple(_normalize(kind, value) for kind, value in zip(types, values, strict=True)),
        signature=f"{error_abi['name']}({','.join(types)})",
        arg_names=tuple(item.get("name", "") for item in inputs),
    )


def revert_data(error: BaseException) -> str | None:
    """Return the hex revert data carried by a web3 contract error, or None if it has none."""
    if isinstance(error, ContractLogicError):  # also ContractCustomError and ContractPanicError
        data = error.data
        if isinstance(data, str) and data.startswith("0x"):
            return data
    return None


@cache
def _errors_by_selector() -> dict[bytes, dict[str, Any]]:
    """Map each error selector to its ABI entry, over every artifact and the built-ins."""
    entries: list[dict[str, Any]] = list(BUILTIN_ERRORS)
    for name in artifacts.names():
        entries.extend(item for item in artifacts.load(name).abi if item.get("type") == "error")
    table: dict[bytes, dict[str, Any]] = {}
    for entry in entries:
        signature = f"{entry['name']}({','.join(collapse_if_tuple(item) for item in entry.get('inputs', []))})"
        # The same error declared in several contracts has the same signature and ABI.
        table.setdefault(function_signature_to_4byte_selector(signature), entry)
    return table


def _normalize(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\0")
        if text and all(0x20 <= byte < 0x7F for byte in text):
            return repr(text.decode("ascii"))
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) and not value.startswith("0x") else str(value)
