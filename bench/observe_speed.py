"""Speed of the chain snapshot: `observe` against the naive reader, on seeded local chains.

For each investor count (1,000, 10,000 and 50,000 by default) the script starts
its own anvil on a free 127.0.0.1 port with the suite deployed
(reconciler.devnet.LocalChain). bench/seeding.py then writes N investors, 152
of them blocked, 500 allocations (50 cancelled) and 40 paid coupon cycles
through the batch setters.

It then times `observe` (one warm-up run, then RUNS runs, median) and counts its
JSON-RPC requests with the counting connection of reconciler.chain.rpc. At
10,000 investors it also times, in the same run and on the same chain, the
naive reader: one `eth_call` per item and field, the way a script of
`cast call`s reads the state, and checks that both read the same state. Peak
memory is measured in a child process that only observes (its maximum RSS,
and tracemalloc's peak of Python allocations during `observe`).

Usage: python bench/observe_speed.py [--sizes 1000,10000,50000] [--record]
Prints a markdown section; --record also writes it into bench/RESULTS.md under
"## Observe speed". Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from results import record_section
from seeding import ALLOCATIONS, BLOCKED, CANCELLED, COUPON_CYCLES, environment_for, seed
from web3 import Web3

from reconciler import PROJECT_ROOT
from reconciler.chain import rpc
from reconciler.chain.observe import ARTIFACTS, BOOKING_STATUSES, observe
from reconciler.chain.packing import jurisdiction_from_int
from reconciler.chain.reader import ContractCall, PinnedReader
from reconciler.desired import read_state
from reconciler.devnet import LocalChain
from reconciler.model import (
    MANAGED_ROLES,
    PAUSE_KEY,
    Allocation,
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

DEFAULT_SIZES = (1_000, 10_000, 50_000)
COMPARED_SIZE = 10_000  # the size observed by both readers and measured for memory
RUNS = 3

TARGET_REQUESTS = 60
TARGET_SPEEDUP = 20
TARGET_PEAK_MB = 300
SECTION = "## Observe speed"


# --- the naive reader ------------------------------------------------------------


def naive_observe(w3: Web3, environment: Environment) -> tuple[State, int]:
    """Read the managed state with one eth_call per item and field; return it and the number of calls.

    The calls go through the same reader as `observe` (encoding, pinning,
    decoding), one call per HTTP request, so the comparison measures paging
    and batching, not web3's per-call overhead.
    """
    reader = PinnedReader(w3, max_batch=1)
    reader.pin()
    addresses = vars(environment.contracts)

    def call(key: str, function: str, *args: Any) -> Any:
        (value,) = reader.call([ContractCall(ARTIFACTS[key], key, addresses[key], function, args)])
        return value

    # The same fixed values observe reads, one call each.
    treasury, corporate_actions = environment.treasury, environment.contracts.corporate_actions
    for key, function, args in (
        ("security_token", "decimals", ()),
        ("usdc", "decimals", ()),
        ("security_token", "totalSupply", ()),
        ("corporate_actions", "treasury", ()),
        ("usdc", "balanceOf", (treasury,)),
        ("usdc", "allowance", (treasury, corporate_actions)),
        *(("security_token", "totalSupplyByPartition", (p.value.encode().ljust(32, b"\0"),)) for p in Partition),
    ):
        call(key, function, *args)
    roles = {}
    for key, role_names in MANAGED_ROLES.items():
        for role in role_names:
            role_id = bytes(32) if role == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=role))
            for index in range(call(key, "getRoleMemberCount", role_id)):
                holder = to_checksum_address(call(key, "getRoleMember", role_id, index))
                roles[role_key(key, role, holder)] = RoleAssignment(key, role, holder)
    paused = call("security_token", "paused")

    investors: dict[str, Investor] = {}
    for index in range(call("compliance_registry", "investorCount")):
        address = to_checksum_address(call("compliance_registry", "investorsPage", index, 1)[0][0])
        kyc, qib, jurisdiction, lockup = (call("compliance_registry", "investor", address)[field] for field in (1, 2, 3, 4))
        call("compliance_registry", "isBlocked", address)
        code = jurisdiction_from_int(int.from_bytes(jurisdiction, "big")) or ""
        investors[address] = Investor(address, "", kyc, qib, code, lockup or None)

    sanctions: dict[str, SanctionsEntry] = {}
    for index in range(call("compliance_registry", "blockedCount")):
        address = to_checksum_address(call("compliance_registry", "blockedPage", index, 1)[0])
        sanctions[address] = SanctionsEntry(address, "", 0)

    allocations = {}
    for index in range(call("dvp_settlement", "bookingCount")):
        booking_id = call("dvp_settlement", "bookingsPage", index, 1)[0][0]
        partition, investor, amount, price, status = (
            call("dvp_settlement", "booking", booking_id)[field] for field in (1, 2, 3, 4, 5)
        )
        key = booking_id.rstrip(b"\0").decode()
        allocations[key] = Allocation(
            key,
            Partition(partition.rstrip(b"\0").decode()),
            to_checksum_address(investor),
            amount,
            price,
            0,
            BOOKING_STATUSES[status],
        )

    cycles = {}
    for index in range(call("corporate_actions", "cycleCount")):
        cycle_id = call("corporate_actions", "cyclesPage", index, 1)[0][0]
        fields = [call("corporate_actions", "cycle", cycle_id)[field] for field in range(1, 7)]
        cycles[str(cycle_id)] = CouponCycle(str(cycle_id), *fields)

    snapshots = {}
    for index in range(call("transfer_agent_bridge", "snapshotCount")):
        _, period, cid, recorded_at = call("transfer_agent_bridge", "snapshotsPage", index, 1)[0]
        snapshots[period] = CapTableSnapshot(period, cid, recorded_at)

    attestations = {}
    for index in range(call("custody_attestations", "attestationCount")):
        _, scope, label, cid, attested_at = call("custody_attestations", "attestationsPage", index, 1)[0]
        attestations[label] = CustodyAttestation(label, scope, cid, attested_at)

    orders = {}
    for index in range(call("security_token", "forceTransferCount")):
        raw_id, partition, sender, recipient, amount, reference, executed_at = call(
            "security_token", "forceTransfersPage", index, 1
        )[0]
        order_id = raw_id.rstrip(b"\0").decode()
        orders[order_id] = ForceTransfer(
            order_id,
            reference,
            Partition(partition.rstrip(b"\0").decode()),
            to_checksum_address(sender),
            to_checksum_address(recipient),
            amount,
            executed_at,
        )

    state = State(
        investors=investors,
        sanctions=sanctions,
        allocations=allocations,
        coupon_cycles=cycles,
        pause={PAUSE_KEY: Pause(paused=paused)},
        roles=roles,
        force_transfers=orders,
        cap_table_snapshots=snapshots,
        custody_attestations=attestations,
    )
    return state, reader.requests - 2


# --- measurements ----------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    investors: int
    median: float
    fastest: float
    slowest: float
    json_rpc_requests: int
    http_requests: int


def time_observe(url: str, environment: Environment, investors: int) -> tuple[Timing, State]:
    w3 = rpc.connect_url(url)
    observation = observe(w3, environment)  # warm-up: connection, ABI caches
    seconds = []
    counter = rpc.request_counter(w3)
    assert counter is not None
    for _ in range(RUNS):
        counter.reset()
        started = time.perf_counter()
        observation = observe(w3, environment)
        seconds.append(time.perf_counter() - started)
    timing = Timing(
        investors, statistics.median(seconds), min(seconds), max(seconds), counter.json_rpc_requests, counter.http_requests
    )
    return timing, observation.state


def measure_memory(url: str, state_dir: Path) -> tuple[float, float]:
    """Observe once in a child process; return its maximum RSS and tracemalloc's peak during observe, in MB."""
    command = [sys.executable, __file__, "--memory-child", url, str(state_dir)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    child = json.loads(completed.stdout)
    return child["max_rss_mb"], child["traced_peak_mb"]


def _memory_child(url: str, state_dir: Path) -> None:
    environment = read_state(state_dir, "devnet").environment
    assert environment is not None
    w3 = rpc.connect_url(url)
    tracemalloc.start()
    observe(w3, environment)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"max_rss_mb": max_rss_kb / 1024, "traced_peak_mb": peak / 2**20}))


# --- report ------------------------------------------------------------------------


def report(timings: list[Timing], naive_seconds: float, naive_calls: int, memory: tuple[float, float]) -> tuple[str, bool]:
    compared = next(timing for timing in timings if timing.investors == COMPARED_SIZE)
    speedup = naive_seconds / compared.median
    max_rss, traced = memory

    checks = [
        (f"at most {TARGET_REQUESTS} JSON-RPC requests at 10,000 investors", compared.json_rpc_requests <= TARGET_REQUESTS, f"{compared.json_rpc_requests} in {compared.http_requests} HTTP requests"),
        (f"at least {TARGET_SPEEDUP}x faster than the naive reader", speedup >= TARGET_SPEEDUP, f"{speedup:,.0f}x"),
        (f"peak memory at most {TARGET_PEAK_MB} MB", max_rss <= TARGET_PEAK_MB, f"{max_rss:,.0f} MB maximum RSS of the observing process"),
    ]

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Recorded {now} by `bench/observe_speed.py --record`.",
        "",
        f"- Machine: {os.cpu_count()} CPUs (`os.cpu_count()`), {platform.processor() or platform.machine()}, "
        f"Linux {platform.release()}, Python {platform.python_version()}",
        "- Chain: anvil 1.7.1 from the npm package, on 127.0.0.1, one fresh chain per size",
        f"- State: N investors (half US QIBs, half Reg S with a lockup), {BLOCKED} of them blocked, "
        f"{ALLOCATIONS} allocations ({CANCELLED} cancelled), {COUPON_CYCLES} paid coupon cycles",
        f"- `observe`: page size 500, {RUNS} runs after a warm-up, median with the fastest and slowest run",
        "",
        "| investors | observe | JSON-RPC requests | HTTP requests |",
        "|---:|---|---:|---:|",
    ]

    for timing in timings:
        lines.append(
            f"| {timing.investors:,} | {timing.median:.3f} s (min {timing.fastest:.3f}, max {timing.slowest:.3f}) "
            f"| {timing.json_rpc_requests} | {timing.http_requests} |"
        )

    lines += [
        "",
        f"Naive reader at {COMPARED_SIZE:,} investors, same chain and block: one `eth_call` per item and field, "
        "one call per HTTP request, through the same encoding and decoding code as `observe`: "
        f"{naive_seconds:.1f} s for {naive_calls:,} calls, against {compared.median:.3f} s for `observe` "
        f"({speedup:,.0f}x). Both read the same state.",
        "",
        f"Memory at {COMPARED_SIZE:,} investors, in a child process that only observes: {max_rss:,.0f} MB maximum RSS "
        f"(the interpreter and web3 included), {traced:,.0f} MB peak of Python allocations during `observe` (tracemalloc).",
        "",
    ]

    lines += _growth(timings)
    lines += ["", "| target | result |", "|---|---|"]
    lines += [f"| {label} | {'pass' if passed else 'FAIL'}: {shown} |" for label, passed, shown in checks]
    return "\n".join(lines) + "\n", all(passed for _, passed, _ in checks)


def _growth(timings: list[Timing]) -> list[str]:
    if len(timings) < 2:
        return []
    first = timings[0]
    parts = [
        f"{timing.investors / first.investors:,.0f}x the investors take {timing.median / first.median:.1f}x the time"
        for timing in timings[1:]
    ]
    return [f"Growth from {first.investors:,} investors: " + "; ".join(parts) + "."]




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="investor counts, comma-separated")
    parser.add_argument("--record", action="store_true", help="write the section into bench/RESULTS.md")
    parser.add_argument("--memory-child", nargs=2, metavar=("URL", "STATE_DIR"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.memory_child:
        _memory_child(options.memory_child[0], Path(options.memory_child[1]))
        return 0

    sizes = [int(size) for size in options.sizes.split(",")]
    if COMPARED_SIZE not in sizes:
        parser.error(f"--sizes must include {COMPARED_SIZE}, the size compared with the naive reader")
    timings = []
    naive_seconds, naive_calls, memory = 0.0, 0, (0.0, 0.0)
    for size in sizes:
        chain = LocalChain.start()
        try:
            with tempfile.TemporaryDirectory() as scratch:
                environment = environment_for(chain, Path(scratch))
                started = time.perf_counter()
                seed(chain, size)
                print(f"seeded {size:,} investors in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                timing, state = time_observe(chain.url, environment, size)
                timings.append(timing)
                print(f"observe: {timing}", file=sys.stderr)
                if size == COMPARED_SIZE:
                    started = time.perf_counter()
                    naive_state, naive_calls = naive_observe(chain.w3, environment)
                    naive_seconds = time.perf_counter() - started
                    if naive_state != state:
                        raise SystemExit("the naive reader and observe read different states")
                    print(f"naive: {naive_seconds:.1f} s, {naive_calls} calls", file=sys.stderr)
                    memory = measure_memory(chain.url, Path(scratch))
        finally:
            chain.stop()

    section, passed = report(timings, naive_seconds, naive_calls, memory)
    print(section)
    if options.record:
        record_section(SECTION, section)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
