"""Speed of the activity scan of `jinbi check` against the naive way, one request per block.

The script starts its own anvil on a free 127.0.0.1 port with the suite
deployed (reconciler.devnet.LocalChain), registers three investors, issues
tokens to one of them, and then mines BLOCKS blocks 12 s apart: a successful
transfer every 50 blocks and a transfer that the compliance oracle rejects
(the receiver is not a QIB) every 500 blocks, the rest empty.

It then reads that window in two ways, in the same run and on the same chain:

- `scan_activity`: eth_getLogs over ranges of 2,000 blocks and
  eth_getBlockReceipts in JSON-RPC batches, then one batch of replays for the
  failed transactions (3 runs after a warm-up, median);
- the naive way: for each block, one eth_getLogs and one eth_getBlockReceipts,
  each in its own HTTP request, then one eth_getTransactionByHash and one
  eth_call per failed transaction.

Both must find the same transfers and rejections. It also times the search for
the window's first block (`first_block_at_or_after`).

Usage: python bench/check_speed.py [--blocks 7200] [--record]
Prints a markdown section; --record also writes it into bench/RESULTS.md under
"## Check speed". Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results import record_section
from seeding import environment_for
from web3 import Web3

from reconciler.chain import artifacts, rpc
from reconciler.chain.activity import Activity, scan_activity
from reconciler.chain.blocktime import first_block_at_or_after
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.devnet import LocalChain
from reconciler.model import Environment

SECTION = "## Check speed"
DEFAULT_BLOCKS = 7_200  # 24 hours of 12-second blocks, the default window of `jinbi check`
BLOCK_SECONDS = 12
TRANSFER_EVERY = 50
REJECTION_EVERY = 500
RUNS = 3
TOKEN = 10**18
USDC = 10**6
PARTITION_144A = b"144A".ljust(32, b"\0")
FAILING_GAS = 300_000

# Targets: the scan must beat the naive way by this factor and stay within this many HTTP requests per 1,000 blocks.
MIN_SPEEDUP = 3.0
MAX_HTTP_PER_1000_BLOCKS = 110


def _send(w3: Web3, call: Any, sender: str, *, fails: bool = False) -> None:
    gas = FAILING_GAS if fails else call.estimate_gas({"from": sender}) * 6 // 5
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": gas}))
    if receipt["status"] != (0 if fails else 1):
        raise SystemExit(f"setup transaction {receipt['transactionHash'].hex()} had status {receipt['status']}")


def build_window(chain: LocalChain, blocks: int) -> tuple[int, int]:
    """Set up investors and mine BLOCKS blocks of activity; return the first and last block of the window."""
    w3 = chain.w3
    deployment = chain.deployment
    accounts = [Web3.to_checksum_address(account) for account in w3.eth.accounts]
    issuer, alice, bob, carol = accounts[0], accounts[3], accounts[4], accounts[5]
    contract = _contracts(w3, deployment)

    words = [
        pack_investor(PackedInvestor(alice, kyc=True, qib=True, jurisdiction="US", lockup_until=0)),
        pack_investor(PackedInvestor(bob, kyc=True, qib=True, jurisdiction="US", lockup_until=0)),
        pack_investor(PackedInvestor(carol, kyc=True, qib=False, jurisdiction="US", lockup_until=0)),
    ]
    _send(w3, contract["compliance_registry"].functions.setInvestors(words), issuer)
    booking = b"BENCH-1".ljust(32, b"\0")
    tokens = blocks  # more than the transfers need
    dvp, usdc, token = contract["dvp_settlement"], contract["usdc"], contract["security_token"]
    _send(w3, dvp.functions.book([(booking, PARTITION_144A, alice, tokens * TOKEN, USDC)]), issuer)
    _send(w3, usdc.functions.mint(alice, tokens * USDC), issuer)
    _send(w3, usdc.functions.approve(dvp.address, tokens * USDC), alice)
    _send(w3, dvp.functions.settle(booking), alice)

    # Each segment is TRANSFER_EVERY - 1 empty blocks, then one block with a transfer or a rejected transfer.
    first = int(w3.eth.block_number) + 1
    for segment in range(1, blocks // TRANSFER_EVERY + 1):
        w3.provider.make_request("anvil_mine", [hex(TRANSFER_EVERY - 1), hex(BLOCK_SECONDS)])  # type: ignore[arg-type]
        latest = int(w3.eth.get_block("latest")["timestamp"])
        w3.provider.make_request("evm_setNextBlockTimestamp", [latest + BLOCK_SECONDS])  # type: ignore[arg-type]
        if segment * TRANSFER_EVERY % REJECTION_EVERY == 0:
            _send(w3, token.functions.transferByPartition(PARTITION_144A, carol, TOKEN), alice, fails=True)
        else:
            _send(w3, token.functions.transferByPartition(PARTITION_144A, bob, TOKEN), alice)
    return first, int(w3.eth.block_number)


def _contracts(w3: Web3, deployment: Any) -> dict[str, Any]:
    names = {
        "compliance_registry": "ComplianceRegistry",
        "dvp_settlement": "DvPSettlement",
        "usdc": "MockUSDC",
        "security_token": "CompliantSecurityToken",
    }
    return {
        key: w3.eth.contract(address=getattr(deployment, key), abi=artifacts.load(name).abi)
        for key, name in names.items()
    }


def naive_scan(url: str, token: str, first: int, last: int) -> tuple[set[str], set[str], int]:
    """Read the window one request per block; return the transfer and rejection transaction hashes and the requests."""
    w3 = rpc.connect_url(url)
    transfers: set[str] = set()
    failed: list[dict[str, Any]] = []
    for number in range(first, last + 1):
        logs = w3.provider.make_request(
            "eth_getLogs",  # type: ignore[arg-type]
            [{"address": token, "fromBlock": hex(number), "toBlock": hex(number)}],
        )["result"]
        transfers.update(str(entry["transactionHash"]) for entry in logs)
        receipts = w3.provider.make_request("eth_getBlockReceipts", [hex(number)])["result"]  # type: ignore[arg-type]
        failed.extend(
            receipt for receipt in receipts if (receipt.get("to") or "").lower() == token.lower() and receipt["status"] == "0x0"
        )
    for receipt in failed:
        transaction = w3.provider.make_request("eth_getTransactionByHash", [receipt["transactionHash"]])["result"]  # type: ignore[arg-type]
        call = {"from": transaction["from"], "to": transaction["to"], "data": transaction["input"]}
        w3.provider.make_request("eth_call", [call, hex(int(receipt["blockNumber"], 16) - 1)])  # type: ignore[arg-type]
    counter = rpc.request_counter(w3)
    assert counter is not None
    return transfers, {str(receipt["transactionHash"]) for receipt in failed}, counter.json_rpc_requests


def time_scan(url: str, environment: Environment, first: int, last: int) -> tuple[list[float], Activity, int, int]:
    """Run scan_activity once to warm up and RUNS times timed; return the times, the activity and one run's requests."""
    scan_activity(rpc.connect_url(url), environment, first, last)
    times = []
    activity: Activity | None = None
    requests = http = 0
    for _ in range(RUNS):
        w3 = rpc.connect_url(url)
        started = time.perf_counter()
        activity = scan_activity(w3, environment, first, last)
        times.append(time.perf_counter() - started)
        counter = rpc.request_counter(w3)
        assert counter is not None
        requests, http = counter.json_rpc_requests, counter.http_requests
    assert activity is not None
    return times, activity, requests, http


def time_window_search(url: str, target: int, last: int) -> tuple[float, int, int]:
    w3 = rpc.connect_url(url)
    started = time.perf_counter()
    first = first_block_at_or_after(w3, target, latest=last)
    seconds = time.perf_counter() - started
    counter = rpc.request_counter(w3)
    assert counter is not None
    return seconds, counter.json_rpc_requests, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--blocks", type=int, default=DEFAULT_BLOCKS, help="blocks in the scanned window")
    parser.add_argument("--record", action="store_true", help="write the section into bench/RESULTS.md")
    options = parser.parse_args()

    chain = LocalChain.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            environment = environment_for(chain, Path(scratch))
            started = time.perf_counter()
            first, last = build_window(chain, options.blocks)
            print(f"mined blocks {first} to {last} in {time.perf_counter() - started:.1f} s", file=sys.stderr)

            times, activity, requests, http = time_scan(chain.url, environment, first, last)
            print(f"scan_activity: {statistics.median(times):.3f} s, {requests} requests", file=sys.stderr)
            started = time.perf_counter()
            naive_transfers, naive_rejections, naive_requests = naive_scan(
                chain.url, environment.contracts.security_token, first, last
            )
            naive_seconds = time.perf_counter() - started
            print(f"naive: {naive_seconds:.3f} s, {naive_requests} requests", file=sys.stderr)
            if naive_transfers != {transfer.tx_hash for transfer in activity.transfers} or naive_rejections != {
                rejection.tx_hash for rejection in activity.rejections
            }:
                raise SystemExit("the naive scan and scan_activity found different transactions")

            last_timestamp = int(chain.w3.eth.get_block(last)["timestamp"])
            window_start = last_timestamp - options.blocks * BLOCK_SECONDS
            search_seconds, search_requests, found = time_window_search(chain.url, window_start, last)
    finally:
        chain.stop()

    section, passed = report(
        options.blocks, first, last, activity, times, requests, http, naive_seconds, naive_requests,
        (search_seconds, search_requests, found),
    )  # fmt: skip
    print(section)
    if options.record:
        record_section(SECTION, section)
    return 0 if passed else 1


def report(
    blocks: int,
    first: int,
    last: int,
    activity: Activity,
    times: list[float],
    requests: int,
    http: int,
    naive_seconds: float,
    naive_requests: int,
    search: tuple[float, int, int],
) -> tuple[str, bool]:
    median = statistics.median(times)
    speedup = naive_seconds / median
    http_per_1000 = http * 1000 / blocks
    search_seconds, search_requests, found = search
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "bench/check_speed.py --record" if blocks == DEFAULT_BLOCKS else f"bench/check_speed.py --blocks {blocks} --record"
    lines = [
        SECTION,
        "",
        f"Recorded {now} by `{command}`.",
        "",
        f"- Machine: {os.cpu_count()} CPUs (`os.cpu_count()`), {platform.processor() or platform.machine()}, "
        f"Linux {platform.release()}, Python {platform.python_version()}",
        "- Chain: anvil 1.7.1 from the npm package, on 127.0.0.1, one fresh chain",
        f"- Window: {blocks:,} blocks {BLOCK_SECONDS} s apart (blocks {first} to {last}), a transfer every "
        f"{TRANSFER_EVERY} blocks and a rejected transfer every {REJECTION_EVERY}: "
        f"{activity.successful_transfer_txs} transfers and {len(activity.rejections)} rejections found",
        f"- `scan_activity`: eth_getLogs ranges of 2,000 blocks, receipts of 10 blocks per HTTP request; "
        f"{RUNS} runs after a warm-up, median with the fastest and slowest run",
        "",
        "| way | time | JSON-RPC requests | HTTP requests |",
        "|---|---|---:|---:|",
        f"| `scan_activity` | {median:.3f} s (min {min(times):.3f}, max {max(times):.3f}) | {requests:,} | {http:,} |",
        f"| naive: one eth_getLogs and one eth_getBlockReceipts per block | {naive_seconds:.3f} s | "
        f"{naive_requests:,} | {naive_requests:,} |",
        "",
        f"The scan is {speedup:.1f}x faster than the naive way on a local node, where an HTTP request costs "
        "little. Both found the same transfers and rejections. The receipts dominate: one "
        "eth_getBlockReceipts per block is still needed, because a rejected transfer leaves no log.",
        "",
        f"Finding the window's first block, the first at or after {blocks * BLOCK_SECONDS:,} s before block {last} "
        f"(`first_block_at_or_after`): {search_seconds * 1000:.1f} ms, {search_requests} block reads, block {found}.",
        "",
        "| target | result |",
        "|---|---|",
        f"| at least {MIN_SPEEDUP:g}x faster than the naive way | "
        f"{'pass' if speedup >= MIN_SPEEDUP else 'FAIL'}: {speedup:.1f}x |",
        f"| at most {MAX_HTTP_PER_1000_BLOCKS} HTTP requests per 1,000 blocks | "
        f"{'pass' if http_per_1000 <= MAX_HTTP_PER_1000_BLOCKS else 'FAIL'}: {http_per_1000:.1f} |",
    ]
    passed = speedup >= MIN_SPEEDUP and http_per_1000 <= MAX_HTTP_PER_1000_BLOCKS
    return "\n".join(lines) + "\n", passed


if __name__ == "__main__":
    sys.exit(main())
