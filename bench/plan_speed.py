"""Speed of `jinbi plan` on seeded local chains, against the naive reader, in one run.

For each investor count (1,000, 10,000 and 50,000 by default) the script starts
its own anvil on a free 127.0.0.1 port with the suite deployed
(reconciler.devnet.LocalChain) and seeds it with bench/seeding.py in two
halves: first 152 blocked addresses and 40 paid coupon cycles, then, after an
`evm_snapshot`, N investors and 500 bookings (50 cancelled). `jinbi import`
(`reconciler.importing.import_state`) then writes the chain's state as the
YAML of environment `bench` in a temporary folder, so the converged YAML
matches the chain exactly. Measured:

- converged: `jinbi plan --env bench --state-dir TMP --signer ADDRESS` as a
  subprocess, RUNS times: wall time with interpreter start, and maximum RSS
  from wait4. One more run goes through a proxy on 127.0.0.1 that counts the
  JSON-RPC requests between the command and anvil. In-process, `make_plan` is
  timed whole and split into loading the YAML, observing, building, rendering
  and printing;
- changes: the chain goes back to the snapshot, which contains no investors
  and no bookings, and the converged YAML without its allocations is planned,
  so every investor is new. The subprocess is timed with `--no-simulate` at each
  size (and in-process, split as above), and with the simulation on an anvil
  fork at 10,000 investors;
- the naive reader of bench/observe_speed.py at 10,000 investors, on the
  converged chain: one `eth_call` per item and field.

Usage: .venv/bin/python bench/plan_speed.py [--sizes 1000,10000,50000] [--record]
Prints a markdown section; --record also writes it into bench/RESULTS.md under
"## Plan speed". Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from observe_speed import naive_observe
from results import record_section
from seeding import ALLOCATIONS, BLOCKED, CANCELLED, COUPON_CYCLES, environment_for
from seeding import seed_investors_and_bookings, seed_sanctions_and_coupons

from rich.console import Console
from rich.text import Text

from reconciler import PROJECT_ROOT
from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.desired.dump import write_atomically
from reconciler.desired.schema import FILE_NAMES
from reconciler.devnet import HOST, LocalChain, dev_account
from reconciler.importing import import_state
from reconciler.planning.plan import PlanOptions, build_plan
from reconciler.planning.render_text import render_text
from reconciler.planning.run import PlanRequest, make_plan

DEFAULT_SIZES = (1_000, 10_000, 50_000)
COMPARED_SIZE = 10_000  # the size compared with the naive reader, planned with simulation and measured for memory
RUNS = 5
ENV = "bench"
JINBI = Path(sys.executable).with_name("jinbi")

TARGET_SECONDS = 3.0
TARGET_REQUESTS = 60
TARGET_SPEEDUP = 20
TARGET_PEAK_MB = 300
SECTION = "## Plan speed"

T = TypeVar("T")


# --- counting JSON-RPC requests ------------------------------------------------


class CountingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards JSON-RPC to TARGET and counts requests (a batch of n counts n)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.json_rpc_requests = 0
        self.http_requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                payload = json.loads(body)
                with proxy._lock:
                    proxy.http_requests += 1
                    proxy.json_rpc_requests += len(payload) if isinstance(payload, list) else 1
                forwarded = urllib.request.Request(proxy.target, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(forwarded, timeout=120) as response:
                    reply = response.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[CountingProxy]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


# --- running `jinbi plan` --------------------------------------------------------


@dataclass(frozen=True)
class CommandRun:
    seconds: float
    exit_code: int
    max_rss_mb: float  # of the command, or of its largest child process if larger (wait4)
    last_line: str


def run_plan(state_dir: Path, url: str, *options: str) -> CommandRun:
    """Run `jinbi plan --env bench` on STATE_DIR against URL as a subprocess and measure it."""
    command = [str(JINBI), "plan", "--env", ENV, "--state-dir", str(state_dir), "--signer", dev_account().address]
    command += ["--detailed-exitcode", *options]
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = url
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=environment, cwd=PROJECT_ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode()
    if process.returncode not in (0, 2):
        raise SystemExit(f"`{' '.join(command)}` exited with {process.returncode}:\n{output[-2000:]}{errors[-2000:]}")
    last_line = output.rstrip("\n").rsplit("\n", 1)[-1]
    return CommandRun(seconds, process.returncode, usage.ru_maxrss / 1024, last_line)


def timed_runs(command: Callable[[], CommandRun], expected_exit: int) -> list[CommandRun]:
    """Run COMMAND RUNS times and check that each exited with EXPECTED_EXIT."""
    runs = [command() for _ in range(RUNS)]
    for run in runs:
        if run.exit_code != expected_exit:
            raise SystemExit(f"jinbi plan exited with {run.exit_code}, expected {expected_exit}: {run.last_line}")
    return runs


def median_seconds(runs: list[CommandRun]) -> float:
    return statistics.median(run.seconds for run in runs)


# --- in-process --------------------------------------------------------------------


@dataclass(frozen=True)
class Steps:
    """Median seconds of `make_plan` and of each step of `jinbi plan`, in-process."""

    whole: float  # make_plan: load, observe, build (and simulate, when asked)
    load: float
    observe: float
    build: float
    render: float
    print: float  # writing the rendered text through rich, as the command does, to /dev/null


def _timed(function: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def _print_text(text: Text) -> None:
    with open(os.devnull, "w", encoding="utf-8") as sink:
        Console(file=sink, soft_wrap=True, highlight=False, emoji=False).print(text, end="")


def time_in_process(state_dir: Path, url: str) -> Steps:
    """Time `make_plan` without simulation and the command's steps, after one warm-up, with the RPC URL set to URL."""
    os.environ["JINBI_RPC_URL"] = url
    signer = dev_account().address
    request = PlanRequest(env=ENV, state_dir=state_dir, signer=signer, simulate=False)
    make_plan(request)  # warm-up: imports, ABI and schema caches
    samples: list[tuple[float, ...]] = []
    for _ in range(RUNS):
        _, whole = _timed(lambda: make_plan(request))
        desired, load = _timed(lambda: load_state(state_dir, ENV))
        observation, observing = _timed(lambda: observe(rpc.connect(desired.environment), desired.environment))
        options = PlanOptions(signer=signer)  # the state folder is outside git: no commit to record
        plan, build = _timed(lambda: build_plan(desired, observation, options))
        text, render = _timed(lambda: render_text(plan))
        _, printing = _timed(lambda: _print_text(text))
        samples.append((whole, load, observing, build, render, printing))
    medians = [statistics.median(column) for column in zip(*samples, strict=True)]
    return Steps(*medians)


# Library functions that the profile of a converged plan attributes most of its time to, by what they do.
HOT_SPOTS = (
    ("JSON Schema validation of the YAML (jsonschema)", "jsonschema/validators.py", "iter_errors"),
    ("ABI decoding of the chain's responses (eth_abi)", "eth_abi/codec.py", "decode"),
    ("EIP-55 checksums, YAML and chain (eth_utils)", "eth_utils/address.py", "to_checksum_address"),
)


def hot_spots(state_dir: Path, url: str) -> list[tuple[str, float]]:
    """Profile one in-process `make_plan` and return each hot spot's share of its time (cumulative, top-level calls)."""
    os.environ["JINBI_RPC_URL"] = url
    request = PlanRequest(env=ENV, state_dir=state_dir, signer=dev_account().address)
    profile = cProfile.Profile()
    profile.runcall(make_plan, request)
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    shares = []
    for label, file, function in HOT_SPOTS:
        seconds = sum(
            entry[3]  # cumulative time; recursive calls are counted once
            for (path, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
            if name == function and path.endswith(file)
        )
        shares.append((label, seconds / total))
    return shares


# --- one size ------------------------------------------------------------------------


@dataclass
class SizeResult:
    investors: int
    converged: list[CommandRun]
    json_rpc_requests: int
    http_requests: int
    steps: Steps
    shares: list[tuple[str, float]]
    changes: list[CommandRun]
    changes_steps: Steps
    changes_transactions: str
    changes_simulated: CommandRun | None = None
    naive_seconds: float = 0.0
    naive_calls: int = 0
    load_average: float = 0.0  # the host's 1-minute load average when the converged runs started


def write_converged_state(chain: LocalChain, root: Path) -> None:
    """Write environment `bench` for CHAIN under ROOT and import the chain's state into it."""
    environment_for(chain, root, ENV)
    report = import_state(root, ENV, w3=rpc.connect_url(chain.url))
    if report.diagnostics:
        raise SystemExit("the imported state is invalid:\n" + "\n".join(d.render() for d in report.diagnostics))


def write_changes_state(converged: Path, root: Path) -> None:
    """Copy the converged tree to ROOT with an empty Allocations file: the chain at the snapshot has no bookings."""
    (root / ENV).mkdir(parents=True)
    for path in (converged / ENV).iterdir():
        (root / ENV / path.name).write_bytes(path.read_bytes())
    allocations = root / ENV / FILE_NAMES["Allocations"]
    write_atomically(
        allocations,
        "# yaml-language-server: $schema=../../schemas/allocations.schema.json\nkind: Allocations\nallocations: {}\n",
    )


def measure_size(investors: int, scratch: Path) -> SizeResult:
    chain = LocalChain.start()
    try:
        started = time.perf_counter()
        seed_sanctions_and_coupons(chain, investors)
        snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        seed_investors_and_bookings(chain, investors)
        print(f"seeded {investors:,} investors in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        converged_dir, changes_dir = scratch / f"converged-{investors}", scratch / f"changes-{investors}"
        write_converged_state(chain, converged_dir)
        write_changes_state(converged_dir, changes_dir)

        # The converged state: the command, its requests through the counting proxy, then in-process.
        load_average = os.getloadavg()[0]
        converged = timed_runs(lambda: run_plan(converged_dir, chain.url), expected_exit=0)
        print(f"converged plan: {[round(run.seconds, 3) for run in converged]} s", file=sys.stderr)
        with CountingProxy(chain.url).running() as proxy:
            counted = run_plan(converged_dir, proxy.url)
        assert counted.exit_code == 0, counted.last_line
        steps = time_in_process(converged_dir, chain.url)
        print(f"in-process: {steps}", file=sys.stderr)
        shares = hot_spots(converged_dir, chain.url)

        naive_seconds, naive_calls = 0.0, 0
        if investors == COMPARED_SIZE:
            environment = load_state(converged_dir, ENV).environment
            observed = observe(rpc.connect_url(chain.url), environment).state
            (naive_state, naive_calls), naive_seconds = _timed(lambda: naive_observe(chain.w3, environment))
            if naive_state != observed:
                raise SystemExit("the naive reader and observe read different states")
            print(f"naive reader: {naive_seconds:.1f} s, {naive_calls} calls", file=sys.stderr)

        # Back to the chain without investors and bookings: every investor of the YAML is new.
        reverted = chain.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        assert reverted["result"] is True
        changes = timed_runs(lambda: run_plan(changes_dir, chain.url, "--no-simulate"), expected_exit=2)
        print(f"changes, not simulated: {[round(run.seconds, 3) for run in changes]} s", file=sys.stderr)
        changes_steps = time_in_process(changes_dir, chain.url)
        print(f"changes in-process: {changes_steps}", file=sys.stderr)
        simulated = None
        if investors == COMPARED_SIZE:
            simulated = run_plan(changes_dir, chain.url)
            print(f"changes, simulated: {simulated.seconds:.1f} s", file=sys.stderr)
        return SizeResult(
            investors=investors,
            converged=converged,
            json_rpc_requests=proxy.json_rpc_requests,
            http_requests=proxy.http_requests,
            steps=steps,
            shares=shares,
            changes=changes,
            changes_steps=changes_steps,
            changes_transactions=changes[0].last_line,
            changes_simulated=simulated,
            naive_seconds=naive_seconds,
            naive_calls=naive_calls,
            load_average=load_average,
        )
    finally:
        chain.stop()


# --- report ----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _seconds(runs: list[CommandRun]) -> str:
    times = [run.seconds for run in runs]
    return f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})"


def report(results: list[SizeResult], command: str) -> tuple[str, bool]:
    compared = next(result for result in results if result.investors == COMPARED_SIZE)
    wall = median_seconds(compared.converged)
    peak = max(run.max_rss_mb for run in compared.converged)
    speedup = compared.naive_seconds / wall
    changes_wall = median_seconds(compared.changes)
    simulated = compared.changes_simulated
    assert simulated is not None

    checks = [
        (
            f"converged `jinbi plan` at most {TARGET_SECONDS:g} s wall at 10,000 investors",
            wall <= TARGET_SECONDS,
            f"{wall:.2f} s",
        ),
        (
            f"at most {TARGET_REQUESTS} JSON-RPC requests",
            compared.json_rpc_requests <= TARGET_REQUESTS,
            f"{compared.json_rpc_requests} in {compared.http_requests} HTTP requests",
        ),
        (f"at least {TARGET_SPEEDUP}x faster than the naive reader", speedup >= TARGET_SPEEDUP, f"{speedup:,.0f}x"),
        (f"peak memory at most {TARGET_PEAK_MB} MB", peak <= TARGET_PEAK_MB, f"{peak:,.0f} MB maximum RSS"),
        (
            f"plan with 10,000 new investors, not simulated, at most {TARGET_SECONDS:g} s wall",
            changes_wall <= TARGET_SECONDS,
            f"{changes_wall:.2f} s",
        ),
    ]

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    steps = compared.steps
    lines = [
        SECTION,
        "",
        f"Recorded {now} by `{command}`.",
        "",
        f"- Machine: {os.cpu_count()} CPUs (`nproc`), {cpu_model()} (`/proc/cpuinfo`), Linux {platform.release()}, "
        f"Python {platform.python_version()}",
        "- Chain: anvil 1.7.1 from the npm package, on 127.0.0.1, one fresh chain per size",
        f"- Converged state: N investors (half US QIBs, half Reg S with a lockup), {BLOCKED} of them blocked, "
        f"{ALLOCATIONS} allocations ({CANCELLED} cancelled), {COUPON_CYCLES} paid coupon cycles; the YAML is written "
        "by `jinbi import` from the seeded chain",
        "- Changes: the same YAML without allocations, against the chain before its investors and bookings were "
        "seeded, so every investor is new",
        f"- Command: `jinbi plan --env bench --state-dir TMP --signer ADDRESS --detailed-exitcode` as a subprocess, "
        f"wall time with interpreter start; {RUNS} runs, median with the fastest and slowest; requests counted by a "
        "proxy on 127.0.0.1 in one more run; maximum RSS from wait4",
        "",
        "The load average is the host's, when the converged runs of that size started: other programs that "
        "run at the same time slow the command down.",
        "",
        "| investors | converged, `jinbi plan` | JSON-RPC requests | HTTP requests | maximum RSS | all investors new, "
        "`--no-simulate` | load average (1 min) |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for result in results:
        rss = max(run.max_rss_mb for run in result.converged)
        lines.append(
            f"| {result.investors:,} | {_seconds(result.converged)} | {result.json_rpc_requests} | "
            f"{result.http_requests} | {rss:,.0f} MB | {_seconds(result.changes)} | {result.load_average:.2f} |"
        )

    lines += [
        "",
        f"In-process at {COMPARED_SIZE:,} investors, converged (medians): {_steps_sentence(steps)} "
        f"The rest of the command's {wall:.2f} s is the interpreter's start and the imports.",
        "",
        "Where a converged plan at this size spends its time, as shares of one profiled in-process `make_plan` "
        "(cProfile, which slows Python code unevenly, so the shares are approximate; they overlap, because the "
        "schema validation checks address checksums too): "
        + "; ".join(f"{label} {share:.0%}" for label, share in compared.shares)
        + ". Diffing, batching and rendering, the planner's own code, take the small remainder shown above.",
        "",
        f"Naive reader at {COMPARED_SIZE:,} investors, on the converged chain in the same run: one `eth_call` per "
        f"item and field (bench/observe_speed.py), {compared.naive_seconds:.1f} s for {compared.naive_calls:,} calls "
        f"and only reading, against {wall:.2f} s for the whole converged `jinbi plan` ({speedup:,.0f}x).",
        "",
        f"All {COMPARED_SIZE:,} investors new (`{compared.changes_transactions}`): {changes_wall:.2f} s with "
        f"`--no-simulate`, {simulated.seconds:.2f} s with the simulation on an anvil fork, which sends every "
        f"transaction to the fork and observes it again (maximum RSS {simulated.max_rss_mb:,.0f} MB, the fork's "
        "anvil included when it is the larger process). In-process, without the simulation (medians): "
        f"{_steps_sentence(compared.changes_steps)} Printing goes through rich's `Console.print`, which takes "
        "that long for a text of one line per action even when the output is no terminal and has no colours.",
        "",
    ]
    lines += _growth(results)
    lines += ["", "| target | result |", "|---|---|"]
    lines += [f"| {label} | {'pass' if passed else 'FAIL'}: {shown} |" for label, passed, shown in checks]
    return "\n".join(lines) + "\n", all(passed for _, passed, _ in checks)


def _steps_sentence(steps: Steps) -> str:
    return (
        f"`make_plan` {steps.whole:.2f} s, of which loading and checking the YAML {steps.load:.2f} s, observing "
        f"the chain {steps.observe:.2f} s and diffing and building the plan {steps.build:.3f} s; then rendering "
        f"it as text {steps.render:.3f} s and printing it {steps.print:.3f} s."
    )


def _growth(results: list[SizeResult]) -> list[str]:
    if len(results) < 2:
        return []
    first = results[0]
    parts = [
        f"{result.investors / first.investors:,.0f}x the investors take "
        f"{median_seconds(result.converged) / median_seconds(first.converged):.1f}x the time converged and "
        f"{median_seconds(result.changes) / median_seconds(first.changes):.1f}x with every investor new"
        for result in results[1:]
    ]
    return [f"Growth from {first.investors:,} investors: " + "; ".join(parts) + "."]




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="investor counts, comma-separated")
    parser.add_argument("--record", action="store_true", help="write the section into bench/RESULTS.md")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    if COMPARED_SIZE not in sizes:
        parser.error(f"--sizes must include {COMPARED_SIZE}, the size compared with the naive reader")

    results = []
    with tempfile.TemporaryDirectory(prefix="jinbi-plan-speed-") as scratch:
        for size in sizes:
            results.append(measure_size(size, Path(scratch)))

    command = "bench/plan_speed.py" + ("" if options.sizes == parser.get_default("sizes") else f" --sizes {options.sizes}")
    section, passed = report(results, f".venv/bin/python {command} --record")
    print(section)
    if options.record:
        record_section(SECTION, section)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
