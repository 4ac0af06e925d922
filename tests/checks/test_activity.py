"""Scanning the token's activity on a real anvil: events, rejected transactions and bounded log requests."""

from __future__ import annotations

import json
import math
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from activity_support import (
    FAILING_TX_GAS,
    PARTITION_144A,
    TOKEN,
    failed_transfer,
    force_transfer,
    issue,
    register,
    send,
    send_failing,
    transfer,
)

from reconciler.chain import rpc
from reconciler.chain.activity import ZERO_ADDRESS, Activity, TransferAttempt, scan_activity
from reconciler.desired import read_state
from reconciler.devnet import write_environment
from reconciler.errors import ChainError
from reconciler.model import Environment, Partition


@pytest.fixture
def environment(chain: Any, tmp_path: Path) -> Environment:
    state_dir = tmp_path / "state"
    write_environment(state_dir / "devnet" / "environment.yaml", chain.deployment)
    loaded = read_state(state_dir, "devnet").environment
    assert loaded is not None
    return loaded


def scan(chain: Any, environment: Environment, start: int, **options: Any) -> Activity:
    return scan_activity(rpc.connect_url(chain.url), environment, start, int(chain.w3.eth.block_number), **options)


def test_scan_reads_every_kind(chain: Any, environment: Environment) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    start = int(chain.w3.eth.block_number) + 1
    issue(chain, alice, 100)
    sent = transfer(chain, alice, bob, 30)
    rejected = failed_transfer(chain, alice, carol, 5)
    forced = force_transfer(chain, "ORDER-2026-001", bob, alice, 10)

    activity = scan(chain, environment, start)

    assert [(t.sender, t.recipient, t.amount) for t in activity.transfers] == [
        (ZERO_ADDRESS, alice, 100 * TOKEN),
        (alice, bob, 30 * TOKEN),
        (bob, alice, 10 * TOKEN),
    ]
    assert {t.partition for t in activity.transfers} == {Partition.RULE_144A}
    assert activity.transfers[1].tx_hash == "0x" + sent["transactionHash"].hex()
    assert [(f.order_id, f.sender, f.recipient, f.amount) for f in activity.force_transfers] == [
        ("ORDER-2026-001", bob, alice, 10 * TOKEN)
    ]
    assert activity.force_transfers[0].legal_reference == "Case 1:26-cv-00042"
    assert activity.force_transfers[0].tx_hash == "0x" + forced["transactionHash"].hex()
    assert [(r.tx_hash, r.block, r.sender) for r in activity.rejections] == [
        ("0x" + rejected["transactionHash"].hex(), rejected["blockNumber"], alice)
    ]
    # Neither the issuance nor the force transfer counts as a successful transfer transaction.
    assert activity.successful_transfer_txs == 1
    assert activity.rejection_rate == (1, 2)


def test_rejection_reason_is_decoded(chain: Any, environment: Environment) -> None:
    alice, carol = chain.accounts[3], chain.accounts[5]
    register(chain, alice)
    register(chain, carol, qib=False)
    issue(chain, alice, 10)
    start = int(chain.w3.eth.block_number) + 1
    failed_transfer(chain, alice, carol, 1)

    (rejection,) = scan(chain, environment, start).rejections

    assert rejection.reason is not None
    assert rejection.reason.startswith("TransferNotAllowed(partition='144A'")
    assert rejection.reason.endswith("reason=9) (RECEIVER_NOT_QIB)")


def test_failed_admin_calls_are_not_rejections(chain: Any, environment: Environment) -> None:
    alice, carol, outsider = chain.accounts[3], chain.accounts[5], chain.accounts[7]
    register(chain, alice)
    register(chain, carol, qib=False)
    issue(chain, alice, 10)
    token = chain.contracts["security_token"].functions
    start = int(chain.w3.eth.block_number) + 1
    send(token.pause(), chain.signer)
    send_failing(token.pause(), chain.signer)  # EnforcedPause()
    send(token.unpause(), chain.signer)
    send_failing(token.pause(), outsider)  # AccessControlUnauthorizedAccount
    send_failing(token.grantRole(bytes(32), outsider), outsider)
    send_failing(token.issue(PARTITION_144A, carol, TOKEN), chain.signer)  # only DvPSettlement has MINTER_ROLE
    rejected = failed_transfer(chain, alice, carol, 1)

    activity = scan(chain, environment, start)

    assert [r.tx_hash for r in activity.rejections] == ["0x" + rejected["transactionHash"].hex()]
    assert activity.rejection_rate == (1, 1)


def test_transfer_with_short_calldata_is_rejection(chain: Any, environment: Environment) -> None:
    alice, bob = chain.accounts[3:5]
    token = chain.contracts["security_token"]
    # The selector of transfer(address,uint256) followed by only the first of its two arguments.
    data = token.encode_abi("transfer", args=[bob, TOKEN])[: 2 + 2 * (4 + 32)]
    start = int(chain.w3.eth.block_number) + 1
    tx_hash = chain.w3.eth.send_transaction({"from": alice, "to": token.address, "data": data, "gas": FAILING_TX_GAS})
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0

    (rejection,) = scan(chain, environment, start).rejections

    assert rejection.tx_hash == "0x" + tx_hash.hex()
    assert rejection.sender == alice
    assert rejection.attempt is None


def test_rejected_transfer_attempts_are_decoded(chain: Any, environment: Environment) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 10)
    start = int(chain.w3.eth.block_number) + 1
    token = chain.contracts["security_token"].functions
    send_failing(token.transfer(carol, 2 * TOKEN), alice)
    send_failing(token.transferFrom(alice, carol, 3 * TOKEN), bob)
    failed_transfer(chain, alice, carol, 4)

    attempts = [rejection.attempt for rejection in scan(chain, environment, start).rejections]

    assert attempts == [
        TransferAttempt("transfer", alice, carol, 2 * TOKEN),
        TransferAttempt("transferFrom", alice, carol, 3 * TOKEN),
        TransferAttempt("transferByPartition", alice, carol, 4 * TOKEN),
    ]


def test_failed_transaction_to_other_contract_is_ignored(chain: Any, environment: Environment) -> None:
    start = int(chain.w3.eth.block_number) + 1
    send_failing(chain.contracts["dvp_settlement"].functions.settle(b"NO-SUCH-BOOKING".ljust(32, b"\0")), chain.accounts[4])

    assert scan(chain, environment, start).rejections == ()


def test_empty_range_sends_nothing(chain: Any, environment: Environment) -> None:
    w3 = rpc.connect_url(chain.url)
    counter = rpc.request_counter(w3)
    assert counter is not None

    activity = scan_activity(w3, environment, 10, 9)

    assert activity == Activity(10, 9, (), (), (), 0)
    assert counter.json_rpc_requests == 0


def test_log_requests_respect_block_range(chain: Any, environment: Environment) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 100)
    start = int(chain.w3.eth.block_number) + 1
    for _ in range(4):
        transfer(chain, alice, bob, 1)
    chain.w3.provider.make_request("anvil_mine", [hex(40)])
    end = int(chain.w3.eth.block_number)
    w3 = rpc.connect_url(chain.url)
    counter = rpc.request_counter(w3)
    assert counter is not None

    activity = scan_activity(w3, environment, start, end, block_range=7)

    blocks = end - start + 1
    assert counter.methods["eth_getLogs"] == math.ceil(blocks / 7)
    assert counter.methods["eth_getBlockReceipts"] == blocks
    assert len(activity.transfers) == 4
    # Seven log requests and 44 receipt requests travel in a handful of HTTP requests.
    assert counter.http_requests < counter.json_rpc_requests / 5


def test_block_range_must_be_positive(chain: Any, environment: Environment) -> None:
    with pytest.raises(ValueError, match="block_range must be at least 1"):
        scan_activity(chain.w3, environment, 0, 1, block_range=0)


class RangeLimitingProxy:
    """A JSON-RPC proxy on 127.0.0.1 that responds to eth_getLogs over more than MAX_RANGE blocks with an error, as hosted nodes may."""

    def __init__(self, upstream: str, max_range: int, status: int = 200, plain_error: str | None = None) -> None:
        """STATUS is the HTTP status of a response that holds an error; PLAIN_ERROR, when set, is its whole body."""
        proxy = self
        self.upstream = upstream
        self.max_range = max_range
        self.rejected = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                rejected_before = proxy.rejected
                reply = json.dumps(proxy.forward(json.loads(body))).encode()
                refused = proxy.rejected > rejected_before
                if refused and plain_error is not None:
                    reply = plain_error.encode()
                self.send_response(status if refused else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(self, payload: Any) -> Any:
        requests_in = payload if isinstance(payload, list) else [payload]
        passed = [item for item in requests_in if not self._too_wide(item)]
        answered: dict[Any, Any] = {}
        if passed:
            upstream = urllib.request.Request(
                self.upstream, json.dumps(passed).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(upstream, timeout=10) as response:  # noqa: S310 - a local anvil
                answered = {item["id"]: item for item in json.loads(response.read())}
        replies = []
        for item in requests_in:
            if item["id"] in answered:
                replies.append(answered[item["id"]])
            else:
                self.rejected += 1
                error = {"code": -32005, "message": f"query exceeds max block range {self.max_range}"}
                replies.append({"jsonrpc": "2.0", "id": item["id"], "error": error})
        return replies if isinstance(payload, list) else replies[0]

    def _too_wide(self, item: dict[str, Any]) -> bool:
        if item.get("method") != "eth_getLogs":
            return False
        query = item["params"][0]
        return int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1 > self.max_range

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_range_rejected_as_too_wide_is_split(chain: Any, environment: Environment) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 100)
    start = int(chain.w3.eth.block_number) + 1
    for _ in range(3):
        transfer(chain, alice, bob, 1)
        chain.w3.provider.make_request("anvil_mine", [hex(9)])
    end = int(chain.w3.eth.block_number)
    proxy = RangeLimitingProxy(chain.url, max_range=8)
    try:
        activity = scan_activity(rpc.connect_url(proxy.url), environment, start, end, block_range=30)
    finally:
        proxy.close()

    assert proxy.rejected > 0
    assert [transfer.amount for transfer in activity.transfers] == [TOKEN] * 3
    assert activity.successful_transfer_txs == 3


def test_range_rejected_with_http_400_is_split(chain: Any, environment: Environment) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 100)
    start = int(chain.w3.eth.block_number) + 1
    transfer(chain, alice, bob, 1)
    chain.w3.provider.make_request("anvil_mine", [hex(20)])
    end = int(chain.w3.eth.block_number)
    proxy = RangeLimitingProxy(chain.url, max_range=8, status=400)
    try:
        activity = scan_activity(rpc.connect_url(proxy.url), environment, start, end, block_range=30)
    finally:
        proxy.close()

    assert proxy.rejected > 0
    assert [transfer.amount for transfer in activity.transfers] == [TOKEN]


def test_http_400_without_json_rpc_keeps_node_message(chain: Any, environment: Environment) -> None:
    start = int(chain.w3.eth.block_number)
    proxy = RangeLimitingProxy(chain.url, max_range=0, status=400, plain_error="block range too large, max 100")
    try:
        with pytest.raises(ChainError) as caught:
            scan_activity(rpc.connect_url(proxy.url), environment, start, start, block_range=500)
    finally:
        proxy.close()

    assert caught.value.message.endswith("failed: HTTP 400 Bad Request: block range too large, max 100")
    assert caught.value.hint is not None
    assert "lower checks.max_log_block_range in the environment file (now 500)" in caught.value.hint
    assert "transient" not in caught.value.hint


def test_range_failing_otherwise_raises(chain: Any, environment: Environment) -> None:
    start = int(chain.w3.eth.block_number)
    proxy = RangeLimitingProxy(chain.url, max_range=0)
    try:
        with pytest.raises(ChainError, match=f"eth_getLogs of the token from block {start} to {start} failed"):
            scan_activity(rpc.connect_url(proxy.url), environment, start, start)
    finally:
        proxy.close()


def test_rejections_from_limits_receipts(chain: Any, environment: Environment) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 10)
    start = int(chain.w3.eth.block_number) + 1
    failed_transfer(chain, alice, carol, 1)
    later = int(chain.w3.eth.block_number) + 1
    transfer(chain, alice, bob, 1)
    rejected = failed_transfer(chain, alice, carol, 1)
    w3 = rpc.connect_url(chain.url)
    counter = rpc.request_counter(w3)
    assert counter is not None

    activity = scan_activity(w3, environment, start, int(chain.w3.eth.block_number), rejections_from=later)

    assert [r.tx_hash for r in activity.rejections] == ["0x" + rejected["transactionHash"].hex()]
    assert counter.methods["eth_getBlockReceipts"] == 2
    assert activity.successful_transfer_txs == 1
