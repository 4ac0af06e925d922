"""Measure `jinbi validate` on a large generated state: 10,000 investors, 1,000 blocked addresses.

The tree is written to a temporary folder: the devnet environment file, 10,000
made-up investors in ten jurisdictions, 1,000 sanctions entries (one in ten
delisted), 1,000 allocations that pass every rule and 8 coupon cycles. The
script times

- the real command, `jinbi validate --env bench --state-dir TMP`, as a subprocess
  (interpreter start and imports included), and
- `read_state` in-process, with the address checksum cache emptied before each run;

and, as a reference, PyYAML's `safe_load` with libyaml plus jsonschema validation
per file, which keeps no positions, types nothing by schema and converts nothing.

Usage: .venv/bin/python bench/validate_speed.py [--runs N] [--record]
`--record` rewrites the "Validate speed" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from results import RESULTS, record_section
from reconciler import PROJECT_ROOT
from reconciler.desired import dump_state, read_state
from reconciler.desired import values as desired_values
from reconciler.desired.schema import load_schema
from reconciler.model import SECONDS_PER_DAY, Allocation, CouponCycle, Investor, Partition, SanctionsEntry, State

INVESTORS = 10_000
BLOCKED = 1_000
ALLOCATIONS = 1_000
LIMIT_SECONDS = 2.0
SECTION = "## Validate speed"
JURISDICTIONS = ["US", "GB", "DE", "SG", "JP", "CH", "FR", "NL", "NO", "LU"]
TRADE_DATE = 1_788_220_800  # 2026-09-01
LOCKUP = TRADE_DATE + 45 * SECONDS_PER_DAY


def made_up_address(label: str) -> str:
    return to_checksum_address(keccak(text=label)[12:])


def build_state() -> State:
    investors = {}
    for index in range(INVESTORS):
        address = made_up_address(f"jinbi-bench-investor-{index}")
        jurisdiction = JURISDICTIONS[index % len(JURISDICTIONS)]
        investors[address] = Investor(
            address=address,
            ref=f"INV-{index:05d}",
            kyc=index % 50 != 49,
            qib=jurisdiction == "US" or index % 3 == 0,
            jurisdiction=jurisdiction,
            lockup_until=None if jurisdiction == "US" else LOCKUP,
        )
    sanctions = {}
    for index in range(BLOCKED):
        address = made_up_address(f"jinbi-bench-blocked-{index}")
        listed = TRADE_DATE - (400 - index % 300) * SECONDS_PER_DAY
        delisted = listed + 30 * SECONDS_PER_DAY if index % 10 == 0 else None
        sanctions[address] = SanctionsEntry(address, "OFAC-SDN", listed, delisted)
    allocations = {}
    eligible = [each for each in investors.values() if each.kyc]
    for index, investor in enumerate(eligible[:ALLOCATIONS]):
        partition = Partition.RULE_144A if investor.qib else Partition.REG_S
        allocation_id = f"ALLOC-{index:05d}"
        allocations[allocation_id] = Allocation(
            allocation_id, partition, investor.address, (index + 1) * 10**21, 1_000_000, TRADE_DATE
        )
    cycles = {}
    for index in range(8):
        year, quarter = divmod(2026 * 4 + 3 + index, 4)
        record = TRADE_DATE + (100 + 91 * index) * SECONDS_PER_DAY
        cycle_id = str(index + 1)
        cycles[cycle_id] = CouponCycle(cycle_id, f"{year}-Q{quarter + 1}", 125, record, record + 14 * SECONDS_PER_DAY)
    return State(investors, sanctions, allocations, cycles)


def write_tree(root: Path) -> Path:
    """Write the benchmark environment `bench` under ROOT and return ROOT."""
    sample = read_state(PROJECT_ROOT / "state", "devnet")
    assert sample.environment is not None, "the committed devnet state must validate"
    folder = root / "bench"
    folder.mkdir(parents=True)
    for name, text in dump_state(build_state(), sample.environment).items():
        (folder / name).write_text(text, encoding="utf-8")
    environment = folder / "environment.yaml"
    environment.write_text(
        environment.read_text(encoding="utf-8").replace("name: devnet", "name: bench"), encoding="utf-8"
    )
    return root


def time_command(root: Path, runs: int) -> tuple[list[float], list[str]]:
    command = [str(Path(sys.executable).with_name("jinbi")), "validate", "--env", "bench", "--state-dir", str(root)]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        timings.append(time.perf_counter() - start)
        if completed.returncode != 0:
            raise SystemExit(f"jinbi validate failed on the benchmark tree:\n{completed.stdout}{completed.stderr}")
    return timings, command


def time_in_process(root: Path, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        desired_values._checksummed.clear()  # every run checksums every address again
        start = time.perf_counter()
        result = read_state(root, "bench")
        timings.append(time.perf_counter() - start)
        assert result.valid, result.diagnostics[:3]
    return timings


def time_plain_reference(root: Path, runs: int) -> list[float]:
    import jsonschema

    kinds = {"environment": "Environment", "investors": "Investors", "sanctions": "Sanctions"}
    kinds |= {"allocations": "Allocations", "coupons": "CouponCycles"}
    validators = {stem: jsonschema.Draft202012Validator(load_schema(kind)) for stem, kind in kinds.items()}
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for stem, validator in validators.items():
            text = (root / "bench" / f"{stem}.yaml").read_text(encoding="utf-8")
            list(validator.iter_errors(yaml.load(text, Loader=yaml.CSafeLoader)))
        timings.append(time.perf_counter() - start)
    return timings


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summary(timings: list[float]) -> str:
    return f"{statistics.median(timings):.2f} s (min {min(timings):.2f}, max {max(timings):.2f})"


def render(
    command_timings: list[float], command: list[str], in_process: list[float], plain: list[float], runs: int, root: Path
) -> str:
    sizes = {path.name: path.stat().st_size for path in sorted((root / "bench").iterdir())}
    median = statistics.median(command_timings)
    verdict = "within" if median <= LIMIT_SECONDS else "over"
    shown_command = " ".join(["jinbi", *command[1:-1], "TMP"])
    lines = [
        SECTION,
        "",
        f"Recorded {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `bench/validate_speed.py --record`.",
        "",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; Python {platform.python_version()}, "
        f"PyYAML {yaml.__version__} with libyaml: {bool(getattr(yaml, '__with_libyaml__', False))}.",
        f"- State: {INVESTORS:,} investors, {BLOCKED:,} sanctions entries, {ALLOCATIONS:,} allocations, "
        "8 coupon cycles "
        f"({sum(sizes.values()) / 1e6:.1f} MB of YAML in {len(sizes)} files), generated in a temporary folder.",
        f"- Runs: {runs} of each; median, with the fastest and slowest run.",
        "",
        "| what | time |",
        "|---|---|",
        f"| `{shown_command}`, subprocess, wall clock | {summary(command_timings)} |",
        f"| `read_state` in-process (load, schema, conversion, rules) | {summary(in_process)} |",
        "| reference: `yaml.load` (CSafeLoader) + jsonschema per file, no positions or conversion "
        f"| {summary(plain)} |",
        "",
        f"The command's median is {verdict} the {LIMIT_SECONDS:.0f} s budget for this size.",
        "",
    ]
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each measurement (default 5)")
    parser.add_argument("--record", action="store_true", help="write the result into bench/RESULTS.md")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jinbi-validate-bench-") as folder:
        root = write_tree(Path(folder))
        command_timings, command = time_command(root, arguments.runs)
        in_process = time_in_process(root, arguments.runs)
        plain = time_plain_reference(root, arguments.runs)
        section = render(command_timings, command, in_process, plain, arguments.runs, root)

    print(section)
    print(
        json.dumps({"command_seconds": command_timings, "in_process_seconds": in_process, "reference_seconds": plain})
    )
    if arguments.record:
        record_section(SECTION, section)
        print(f"recorded in {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
