"""View calls pinned to one block and sent as JSON-RPC batches.

`PinnedReader.pin` reads the chain id and a block (the latest by default) in
one batch. Every later `call` is an `eth_call` at that block number, with up
to `MAX_CALLS_PER_BATCH` calls per HTTP request. `check_pin` reads the block's
hash again and raises if it changed (a reorg). Every failure is a ChainError
naming the contract, the function, the block and what to do.

The batches go through `provider.make_batch_request`, and each response is
matched to its call here, instead of through `w3.batch_requests()`. web3 7.16
pairs responses with calls by `zip`, which silently drops calls that a node
left without a response, and its errors do not name the call of a batch that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import requests
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIFunction
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3.exceptions import Web3Exception

from reconciler.chain import artifacts
from reconciler.chain.errors import decode_revert
from reconciler.chain.rpc import error_text, redact_text
from reconciler.errors import ChainError

log = logging.getLogger(__name__)

# JSON-RPC requests per HTTP request. Hosted nodes cap the size of a batch, so batches stay small.
# NOTE: 50 is an estimate, not checked against any provider's limits. A node that rejects
# batches outright is reported, not served one request at a time.
MAX_CALLS_PER_BATCH = 50

RETRY_HINT = (
    "transient errors were already retried; check that the node is reachable and synced "
    "(the variable named by rpc_url_env in the environment file), then rerun"
)

# Some nodes refuse a request with HTTP 400 and a JSON-RPC error body, such as an eth_getLogs over too many blocks.
BAD_REQUEST = 400
REFUSED_HINT = "the node refused the request with HTTP 400, which a retry does not change; check what it says above"
# Characters of an HTTP 400 body that is not JSON-RPC kept in the error.
SHOWN_BODY_CHARS = 200


@dataclass(frozen=True)
class ContractCall:
    """One view call: the contract's artifact, its key in the environment's contracts, the function and its arguments."""

    artifact: str  # the ABI to encode with, e.g. "ComplianceRegistry"
    key: str  # e.g. "compliance_registry", as in the environment file's contracts
    address: str
    function: str
    args: tuple[Any, ...] = ()
    label: str = ""  # the contract's name in messages when it differs from the artifact's
    setting: str = ""  # the environment file's key of the address, when it is not contracts.<key>

    def describe(self) -> str:
        shown = ", ".join(_show_argument(arg) for arg in self.args)
        return f"{self.label or self.artifact}.{self.function}({shown})"


@dataclass(frozen=True)
class BlockPin:
    """The block every read of a snapshot is pinned to."""

    number: int
    hash: str  # 0x-prefixed hex
    timestamp: int  # Unix seconds


@dataclass(frozen=True)
class _Function:
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]


@cache
def _function(artifact: str, name: str) -> _Function:
    for entry in artifacts.load(artifact).abi:
        if entry.get("type") == "function" and entry.get("name") == name:
            function_abi = cast(ABIFunction, entry)
            return _Function(
                selector=function_abi_to_4byte_selector(function_abi),
                input_types=tuple(get_abi_input_types(function_abi)),
                output_types=tuple(get_abi_output_types(function_abi)),
            )
    raise ValueError(f"{artifact} has no function {name}")


def _show_argument(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\0")
        if text and all(0x20 < byte < 0x7F for byte in text):
            return repr(text.decode("ascii"))
        return "0x" + value.hex()
    return str(value)


class PinnedReader:
    """Reads through W3 at one block, counting the JSON-RPC requests it makes."""

    def __init__(self, w3: Web3, *, max_batch: int = MAX_CALLS_PER_BATCH) -> None:
        self.w3 = w3
        self.max_batch = max_batch
        self.requests = 0  # JSON-RPC requests made, retries not included
        self._pin: BlockPin | None = None

    @property
    def block(self) -> BlockPin:
        if self._pin is None:
            raise RuntimeError("call pin() before reading")
        return self._pin

    def pin(self, block: int | None = None) -> tuple[int, BlockPin]:
        """Read the chain id and BLOCK (the latest when None) in one batch; later reads use that block."""
        tag = "latest" if block is None else hex(block)
        shown = "the latest block" if block is None else f"block {block}"
        chain_id_response, block_response = self._batch(
            [("eth_chainId", []), ("eth_getBlockByNumber", [tag, False])],
            f"reading the chain id and {shown}",
        )
        chain_id = int(self._result(chain_id_response, "eth_chainId"), 16)
        header = self._result(block_response, f"eth_getBlockByNumber({tag})")
        if header is None:
            raise ChainError(
                f"{shown} not found on chain {chain_id}",
                hint="observe at a block the node has: at most the current head, and not pruned",
            )
        self._pin = BlockPin(
            number=int(header["number"], 16), hash=str(header["hash"]), timestamp=int(header["timestamp"], 16)
        )
        log.debug("pinned reads to block %s (%s)", self._pin.number, self._pin.hash)
        return chain_id, self._pin

    def check_pin(self) -> None:
        """Read the pinned block's hash again and raise ChainError if it changed (a reorg during the reads)."""
        pin = self.block
        (response,) = self._batch(
            [("eth_getBlockByNumber", [hex(pin.number), False])], f"reading block {pin.number} again"
        )
        header = self._result(response, f"eth_getBlockByNumber({hex(pin.number)})")
        now = None if header is None else str(header["hash"])
        if now != pin.hash:
            raise ChainError(
                f"block {pin.number} changed while it was read: its hash was {pin.hash} and is now {now} "
                "(a chain reorganisation), so the snapshot mixes two chains",
                hint="rerun once the chain is stable; on a chain that reorganises often, wait for more confirmations",
            )

    def call(self, calls: Sequence[ContractCall], *, keep_errors: bool = False) -> list[Any]:
        """Run CALLS at the pinned block, MAX_BATCH per HTTP request, and return each decoded result.

        A function with one output gives that value, one with several gives a tuple.
        With KEEP_ERRORS, a call that reverts, finds no code or returns data
        that does not decode gives its ChainError in place of a value. A failed
        request always raises.
        """
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch):
            chunk = calls[start : start + self.max_batch]
            results.extend(self._call_chunk(chunk, keep_errors))
        return results

    def _call_chunk(self, calls: Sequence[ContractCall], keep_errors: bool) -> list[Any]:
        block = self.block.number
        requests_in_batch = []
        for call in calls:
            function = _function(call.artifact, call.function)
            data = function.selector + encode(function.input_types, call.args)
            requests_in_batch.append(("eth_call", [{"to": call.address, "data": "0x" + data.hex()}, hex(block)]))
        shown = calls[0].describe()
        if len(calls) > 1:
            shown += f" and {len(calls) - 1} more {'call' if len(calls) == 2 else 'calls'}"
        responses = self._batch(requests_in_batch, f"reading {shown} at block {block}")
        results: list[Any] = []
        for call, response in zip(calls, responses, strict=True):
            try:
                results.append(self._decode(call, response))
            except ChainError as error:
                if not keep_errors:
                    raise
                results.append(error)
        return results

    def _decode(self, call: ContractCall, response: dict[str, Any]) -> Any:
        where = f"{call.describe()} on {call.address} at block {self.block.number}"
        setting = call.setting or f"contracts.{call.key}"
        hint = f"check that {setting} in the environment file is the {call.label or call.artifact} of this chain"
        error = response.get("error")
        if error is not None:
            message = error.get("message", "failed") if isinstance(error, dict) else str(error)
            data = error.get("data") if isinstance(error, dict) else None
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                message = f"{message}: {decode_revert(data)}"
            raise ChainError(f"{where} failed: {message}", hint=hint)
        raw = response.get("result")
        if not isinstance(raw, str) or raw in ("0x", ""):
            raise ChainError(f"{where} returned no data: the address has no contract code at that block", hint=hint)
        function = _function(call.artifact, call.function)
        try:
            values = decode(function.output_types, bytes.fromhex(raw.removeprefix("0x")))
        except (DecodingError, ValueError) as decoding_error:
            raise ChainError(f"{where} returned data that does not decode: {decoding_error}", hint=hint) from decoding_error
        return values[0] if len(values) == 1 else tuple(values)

    def send(self, batch: Sequence[tuple[str, list[Any]]], what: str) -> list[dict[str, Any]]:
        """Send any JSON-RPC requests, MAX_BATCH per HTTP request, and return one response per request, in order.

        Unlike `call`, the requests need no pin. A response may carry an `error`,
        which the caller reads; a batch that fails as a whole raises ChainError.
        """
        responses: list[dict[str, Any]] = []
        for start in range(0, len(batch), self.max_batch):
            responses.extend(self._batch(list(batch[start : start + self.max_batch]), what))
        return responses

    def _batch(self, batch: list[tuple[str, list[Any]]], what: str) -> list[dict[str, Any]]:
        """Send BATCH as one JSON-RPC batch and return one response per request, in request order."""
        self.requests += len(batch)
        try:
            responses = self.w3.provider.make_batch_request(batch)  # type: ignore[attr-defined]
        except requests.HTTPError as error:
            responses = _json_rpc_refusal(error)
            if responses is None:
                raise self._http_error(error, what) from error
        except (requests.RequestException, Web3Exception, OSError, ValueError) as error:
            raise ChainError(f"{what} failed: {error_text(self.w3, error)}", hint=RETRY_HINT) from error
        if isinstance(responses, dict) and len(batch) == 1 and "error" in responses:
            # A single error object in reply to a batch of one is the error of that one request.
            return [responses]
        if not isinstance(responses, list):
            # A node that rejects the batch as a whole returns one error object.
            detail = responses.get("error") if isinstance(responses, dict) else responses
            raise ChainError(
                f"{what} failed: the node rejected a JSON-RPC batch of {len(batch)} requests: {detail}",
                hint=f"use a node that accepts JSON-RPC batches of up to {self.max_batch} requests",
            )
        ids = [response.get("id") if isinstance(response, dict) else None for response in responses]
        if len(responses) != len(batch) or None in ids or len(set(ids)) != len(ids):
            raise ChainError(
                f"{what} failed: the node returned {len(responses)} responses to a batch of {len(batch)} requests, "
                "so the snapshot would be incomplete",
                hint=RETRY_HINT,
            )
        return responses

    def _http_error(self, error: requests.HTTPError, what: str) -> ChainError:
        """Describe an HTTP error of a batch; the body of an HTTP 400 is the node's own words, so it is kept."""
        text = error_text(self.w3, error)
        response = error.response
        if response is None or response.status_code != BAD_REQUEST:
            return ChainError(f"{what} failed: {text}", hint=RETRY_HINT)
        body = " ".join(response.text.split())[:SHOWN_BODY_CHARS]
        endpoint = getattr(self.w3.provider, "endpoint_uri", None)
        if body and endpoint:
            body = redact_text(body, str(endpoint))
        return ChainError(f"{what} failed: {text}" + (f": {body}" if body else ""), hint=REFUSED_HINT)

    def _result(self, response: dict[str, Any], what: str) -> Any:
        error = response.get("error")
        if error is not None:
            message = error.get("message", "failed") if isinstance(error, dict) else str(error)
            raise ChainError(f"{what} failed: {message}", hint=RETRY_HINT)
        return response.get("result")


def _json_rpc_refusal(error: requests.HTTPError) -> list[dict[str, Any]] | dict[str, Any] | None:
    """Return the JSON-RPC response(s) in the body of an HTTP 400, or None when the body is something else.

    A list is returned in the order of its ids, as web3 returns a batch's responses.
    """
    response = error.response
    if response is None or response.status_code != BAD_REQUEST:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        return body if body.get("jsonrpc") and "error" in body else None
    if not isinstance(body, list) or not all(isinstance(item, dict) and item.get("jsonrpc") for item in body):
        return None
    if all(isinstance(item.get("id"), int) for item in body):
        return sorted(body, key=lambda item: int(item["id"]))
    return body
