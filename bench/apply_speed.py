"""Speed and gas of `jinbi apply` onboarding 1,000 investors and blocking the 2024-09-27 OFAC list, from an empty chain.

Three ways, each on a fresh `reconciler.devnet.LocalChain` (anvil on a free
127.0.0.1 port with the suite deployed), in the same run:

  apply          `jinbi apply --env devnet --auto-approve`, planning and simulating on an anvil fork first
  apply, no sim  the same with --no-simulate
  naive          one transaction per item, each estimated, signed, sent and awaited before the next,
                 as the runbook's one-`forge script`-per-item procedures do: ComplianceRegistry.setInvestor
                 for each investor, then ComplianceRegistry.blockAddresses([address]) for each address

The desired state is written to a temporary folder. It has 1,000 made-up
investors (even indexes US QIBs, odd indexes Reg S investors in five
countries with a lockup), and the sanctions file that `jinbi sanctions
import` makes from ../shared/data/ofac-eth/sanctioned-eth-2024-09-27.txt
(152 addresses), which is read where it is and never copied. Each apply is the command's wall-clock time,
interpreter start included. Gas is the sum of the receipts' gasUsed; the
apply's transactions come from its journal.

Targets: for each contract function, at most one more transaction than its
total gas divided by the per-transaction gas cap (10,000,000 by default);
apply within 10 s on anvil.

Usage: .venv/bin/python bench/apply_speed.py [--runs N] [--record]
(prints a markdown section; `--record` rewrites the "Apply speed" section of
bench/RESULTS.md; exit 1 if a target is missed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from onboarding_gas import machine
from web3 import Web3

from results import RESULTS, record_section
from reconciler import PROJECT_ROOT
from reconciler.chain import artifacts
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.devnet import DEV_PRIVATE_KEY, GENESIS_TIMESTAMP, LocalChain, dev_account, write_environment
from reconciler.planning.calls import DEFAULT_GAS_CAP, NEW_INVESTOR_GAS, TX_BASE_GAS
from reconciler.planning.plan import PlanOptions, build_plan

SECTION = "## Apply speed"
JINBI = Path(sys.executable).parent / "jinbi"
OFAC_LIST = Path("..") / "shared" / "data" / "ofac-eth" / "sanctioned-eth-2024-09-27.txt"  # from the repository root
INVESTORS = 1_000
REGS_JURISDICTIONS = ("DE", "GB", "SG", "JP", "CH")
LOCKUP_UNTIL = "2026-11-10T00:00:00Z"  # 40 days after the devnet's genesis day
TARGET_SECONDS = 10.0
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/{}.schema.json\n"


@dataclass
class Measurement:
    """One way of reaching the state: its transactions per function, gas and wall time."""

    label: str
    seconds: list[float] = field(default_factory=list)
    transactions: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # function -> count
    gas_used: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # function -> receipts' gas
    estimated: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # function -> gas model's estimate

    @property
    def total_transactions(self) -> int:
        return sum(self.transactions.values())

    @property
    def total_gas(self) -> int:
        return sum(self.gas_used.values())


# --- the desired state -------------------------------------------------------


def investor_address(index: int) -> str:
    return Web3.to_checksum_address(Web3.keccak(b"jinbi-apply-bench" + index.to_bytes(4, "big"))[-20:])


def write_state(state_dir: Path, chain: LocalChain) -> None:
    """Write the devnet state for CHAIN: the generated investors, the imported OFAC list, nothing else."""
    folder = state_dir / "devnet"
    folder.mkdir(parents=True)
    write_environment(folder / "environment.yaml", chain.deployment)
    lines = [SCHEMA_LINE.format("investors"), "kind: Investors\n", "investors:\n"]
    for index in range(INVESTORS):
        lines.append(f'  "{investor_address(index)}":\n    ref: INV-{index:05d}\n    kyc: true\n')
        if index % 2 == 0:
            lines.append('    qib: true\n    jurisdiction: "US"\n')
        else:
            jurisdiction = REGS_JURISDICTIONS[(index // 2) % len(REGS_JURISDICTIONS)]
            lines.append(f'    qib: false\n    jurisdiction: "{jurisdiction}"\n    lockup_until: "{LOCKUP_UNTIL}"\n')
    (folder / "investors.yaml").write_text("".join(lines), encoding="utf-8")
    empty = {"sanctions": ("Sanctions", "blocked"), "allocations": ("Allocations", "allocations"),
             "coupons": ("CouponCycles", "cycles")}  # fmt: skip
    for name, (kind, key) in empty.items():
        (folder / f"{name}.yaml").write_text(f"{SCHEMA_LINE.format(name)}kind: {kind}\n{key}: {{}}\n", encoding="utf-8")

    imported = subprocess.run(
        [str(JINBI), "sanctions", "import", str(OFAC_LIST), "--env", "devnet", "--state-dir", str(state_dir)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if imported.returncode != 0:
        raise SystemExit(f"jinbi sanctions import failed:\n{imported.stderr}")


# --- the three ways ----------------------------------------------------------


def measure_apply(label: str, options: tuple[str, ...], runs: int, folder: Path) -> Measurement:
    """Run `jinbi apply` RUNS times, each on a fresh chain, and read the last run's journal."""
    measurement = Measurement(label)
    for run in range(runs):
        chain = LocalChain.start()
        try:
            workdir = folder / f"{label.replace(' ', '-').replace(',', '')}-{run}"
            state_dir = workdir / "state"
            write_state(state_dir, chain)
            environ = {**os.environ, "JINBI_RPC_URL": chain.url, "JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY}
            command = [str(JINBI), "apply", "--env", "devnet", "--state-dir", str(state_dir), "--auto-approve", *options]
            started = time.monotonic()
            applied = subprocess.run(command, cwd=workdir, env=environ, capture_output=True, text=True, check=False)
            measurement.seconds.append(time.monotonic() - started)
            if applied.returncode != 0 or "Apply complete" not in applied.stdout:
                raise SystemExit(f"{' '.join(command[1:])} failed:\n{applied.stdout}\n{applied.stderr}")
        finally:
            chain.stop()

    (journal,) = [path for path in (workdir / ".jinbi" / "journal" / "devnet").glob("*.json") if not path.name.endswith(".plan.json")]
    for record in json.loads(journal.read_text())["transactions"]:
        function = record["description"].split(" ", 1)[0]
        measurement.transactions[function] += 1
        measurement.gas_used[function] += record["gas_used"]
        measurement.estimated[function] += record["gas_limit"]
    return measurement


def measure_naive(folder: Path) -> Measurement:
    """Send one estimated, signed and awaited transaction per investor and per blocked address."""
    measurement = Measurement("naive, 1 tx per item")
    chain = LocalChain.start()
    try:
        state_dir = folder / "naive" / "state"
        write_state(state_dir, chain)
        desired = load_state(state_dir, "devnet")
        w3 = chain.w3
        registry = w3.eth.contract(address=chain.deployment.compliance_registry, abi=artifacts.load("ComplianceRegistry").abi)
        account = dev_account()
        block = w3.eth.get_block("latest")
        fees = {"maxFeePerGas": 2 * int(block["baseFeePerGas"]) + 10**9, "maxPriorityFeePerGas": 10**9}
        nonce = w3.eth.get_transaction_count(account.address)
        calls = []
        for investor in desired.state.investors.values():
            jurisdiction = investor.jurisdiction.encode("ascii") if investor.jurisdiction else bytes(2)
            lockup = investor.lockup_until or 0
            calls.append(("ComplianceRegistry.setInvestor",
                          registry.functions.setInvestor(investor.address, investor.kyc, investor.qib, jurisdiction, lockup)))  # fmt: skip
        for address in desired.state.sanctions:
            calls.append(("ComplianceRegistry.blockAddresses", registry.functions.blockAddresses([address])))

        started = time.monotonic()
        for function, call in calls:
            gas = call.estimate_gas({"from": account.address})
            transaction = call.build_transaction(
                {"from": account.address, "nonce": nonce, "gas": gas, "chainId": w3.eth.chain_id, **fees}
            )
            signed = account.sign_transaction(transaction)
            receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
            if receipt["status"] != 1:
                raise SystemExit(f"naive {function} failed at nonce {nonce}")
            nonce += 1
            measurement.transactions[function] += 1
            measurement.gas_used[function] += int(receipt["gasUsed"])
            measurement.estimated[function] += gas
        measurement.seconds.append(time.monotonic() - started)

        # The naive way reaches the same state: a plan from it has no changes.
        remaining = build_plan(desired, observe(w3, desired.environment), PlanOptions(signer=account.address))
        if remaining.has_changes:
            raise SystemExit(f"the naive way did not reach the desired state: {remaining.summary()}")
    finally:
        chain.stop()
    return measurement


# --- report --------------------------------------------------------------------


def transaction_checks(measurement: Measurement) -> list[tuple[str, bool]]:
    """Check, per function, that the transactions are at most one more than the total gas over the gas cap."""
    checks = []
    for function, count in sorted(measurement.transactions.items()):
        for basis, gas in (("receipts' gas", measurement.gas_used[function]), ("gas model", measurement.estimated[function])):
            bound = gas / DEFAULT_GAS_CAP + 1
            checks.append(
                (
                    f"{measurement.label}: {function} in at most {bound:.2f} transactions "
                    f"({gas:,} gas by the {basis} / {DEFAULT_GAS_CAP:,} + 1): {count}",
                    count <= bound,
                )
            )
    return checks


def describe_seconds(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return f"{seconds[0]:.2f} s"
    return f"{statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})"


def render(measurements: list[Measurement], checks: list[tuple[str, bool]], runs: int, anvil: str) -> str:
    lines = [
        SECTION,
        "",
        f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `.venv/bin/python bench/apply_speed.py --runs {runs} --record`.",
        "",
        f"- Machine: {machine()}",
        f"- Chain: {anvil} on 127.0.0.1, a fresh chain with the suite deployed for each run; automine",
        f"- State: {INVESTORS:,} new investors (half US QIBs, half Reg S in five countries with a lockup) and the "
        f"152 addresses of {OFAC_LIST.as_posix()}, imported with `jinbi sanctions import`; nothing on chain before",
        f"- apply: `jinbi apply --env devnet --auto-approve [--no-simulate]`, wall clock of the command "
        f"(interpreter start, plan, simulation on a fork, sending, verification), {runs} runs, median with min and max",
        "- naive: per item `eth_estimateGas`, sign, `eth_sendRawTransaction` and wait for the receipt, from one "
        "Python process; the runbook also starts one `forge script` per item, which this leaves out",
        "",
        "| way | transactions | total gas | wall time |",
        "|---|---:|---:|---:|",
    ]
    for measurement in measurements:
        lines.append(
            f"| {measurement.label} | {measurement.total_transactions:,} | {measurement.total_gas:,} | "
            f"{describe_seconds(measurement.seconds)} |"
        )
    lines += ["", "| way | function | transactions | receipts' gas | gas model's estimate |", "|---|---|---:|---:|---:|"]
    for measurement in measurements:
        for function, count in sorted(measurement.transactions.items()):
            lines.append(
                f"| {measurement.label} | {function} | {count:,} | {measurement.gas_used[function]:,} | "
                f"{measurement.estimated[function]:,} |"
            )
    lines += ["", "| target | result |", "|---|---|"]
    lines += [f"| {text} | {'pass' if passed else 'MISS'} |" for text, passed in checks]
    lines += ["", _batching_note(measurements[0]), ""]
    return "\n".join(lines)


def _batching_note(measurement: Measurement) -> str:
    """Explain the setInvestors count from the gas model, which splits the batches, and the receipts."""
    function = "ComplianceRegistry.setInvestors"
    per_transaction = (DEFAULT_GAS_CAP - TX_BASE_GAS) // NEW_INVESTOR_GAS
    per_investor = measurement.gas_used[function] / INVESTORS
    tighter = 48_000
    tighter_count = -(-INVESTORS // ((DEFAULT_GAS_CAP - TX_BASE_GAS) // tighter))
    return (
        f"The planner splits batches by its gas model, {NEW_INVESTOR_GAS:,} gas per new investor plus "
        f"{TX_BASE_GAS:,} per transaction, so a {DEFAULT_GAS_CAP:,} cap holds {per_transaction} new investors and "
        f"{INVESTORS:,} take {measurement.transactions[function]} transactions. The receipts show "
        f"{per_investor:,.0f} gas per investor, transaction overhead included, so by the receipts' gas the same "
        f"investors would fit in {-(-measurement.gas_used[function] // DEFAULT_GAS_CAP)} transactions. With a bound "
        f"of {tighter:,} per new investor they would take "
        f"{tighter_count}. The bound is also each transaction's gas limit, so a tighter one leaves less margin "
        "against running out of gas; the simulation on a fork would catch that before anything is sent, "
        "`--no-simulate` would not."
    )




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each apply way, each on a fresh chain (default 3)")
    parser.add_argument("--record", action="store_true", help="write the result into bench/RESULTS.md")
    arguments = parser.parse_args()
    if not (PROJECT_ROOT / OFAC_LIST).is_file():
        raise SystemExit(f"{OFAC_LIST} not found next to the repository")
    if GENESIS_TIMESTAMP >= int(datetime.fromisoformat(LOCKUP_UNTIL).timestamp()):
        raise SystemExit(f"the lockup {LOCKUP_UNTIL} is not after the devnet's genesis")

    with tempfile.TemporaryDirectory(prefix="jinbi-apply-bench-") as folder:
        measurements = [
            measure_apply("apply", (), arguments.runs, Path(folder)),
            measure_apply("apply, no sim", ("--no-simulate",), arguments.runs, Path(folder)),
            measure_naive(Path(folder)),
        ]
        probe = LocalChain.start()
        try:
            anvil = probe.w3.client_version
        finally:
            probe.stop()

    checks = [check for measurement in measurements[:2] for check in transaction_checks(measurement)]
    for measurement in measurements[:2]:
        median = statistics.median(measurement.seconds)
        checks.append((f"{measurement.label}: at most {TARGET_SECONDS:g} s on anvil: {median:.2f} s", median <= TARGET_SECONDS))
    section = render(measurements, checks, arguments.runs, anvil)
    print(section)
    if arguments.record:
        record_section(SECTION, section)
        print(f"recorded in {RESULTS}", file=sys.stderr)
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
