"""`jinbi report coupons`: entitlements at the record date, rounding, files per holder, and its errors."""

from __future__ import annotations

import csv
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from reports_world import (
    BOTH_PARTITIONS_144A,
    DECEMBER_TRANSFER,
    ENV,
    INV_0001,
    INV_0002,
    INV_0004,
    INV_0005,
    INV_0006,
    INV_0007,
    INV_0009,
    NOVEMBER_TRANSFER,
    TOKEN,
    World,
)

from reconciler.desired import read_state
from reconciler.desired.values import parse_date
from reconciler.errors import ReportError
from reconciler.model import CouponCycle, Partition
from reconciler.money import coupon_amount
from reconciler.reports.coupons import allocate, coupon_statements

INV_0003 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
INV_0008 = "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"
RECORD_DAY_END = 1_797_379_199  # 2026-12-15T23:59:59Z

# Balances at the end of the record date: the settled bookings and November's transfer.
# The force transfer and the transfer of 2026-12-31 come after it and must not count.
RECORD_BALANCES = {
    INV_0001: {"144A": 250_000 * TOKEN, "RegS": 0},
    INV_0002: {"144A": 100_000 * TOKEN, "RegS": 0},
    INV_0003: {"144A": 75_000 * TOKEN, "RegS": 0},
    INV_0004: {"144A": int(Decimal(BOTH_PARTITIONS_144A) * TOKEN), "RegS": 50_000 * TOKEN},
    INV_0005: {"144A": 0, "RegS": 120_000 * TOKEN - NOVEMBER_TRANSFER},
    INV_0006: {"144A": 0, "RegS": 30_000 * TOKEN + TOKEN // 2},
    INV_0007: {"144A": 0, "RegS": 80_000 * TOKEN + NOVEMBER_TRANSFER},
    INV_0008: {"144A": 60_000 * TOKEN, "RegS": 0},
    INV_0009: {"144A": 0, "RegS": 45_000 * TOKEN},
}
TOTAL_BALANCE = sum(sum(balances.values()) for balances in RECORD_BALANCES.values())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def summary_rows(folder: Path) -> dict[str, dict[str, str]]:
    return {row["holder"]: row for row in read_csv(folder / "summary.csv")}


def statement_path(folder: Path, holder: str, suffix: str) -> Path:
    return folder / f"holder-{holder.lower()}.{suffix}"


def record_block(world: World) -> int:
    """Find the record-date block by reading every block's timestamp."""
    latest = world.w3.eth.block_number
    stamps = [int(world.w3.eth.get_block(number)["timestamp"]) for number in range(latest + 1)]
    return max(number for number, stamp in enumerate(stamps) if stamp <= RECORD_DAY_END)


# --- the paid cycle ------------------------------------------------------------


def test_report_exits_0_and_prints_totals(world: World) -> None:
    folder = world.root / "before"

    assert world.before.returncode == 0, world.before.describe()
    assert world.before.stderr == ""
    lines = world.before.stdout.splitlines()
    assert lines[0] == (
        f"wrote 9 holder statements (CSV and markdown) and the summary of coupon cycle 1 (2026-Q4, paid) to {folder}/"
    )
    assert lines[1].startswith(f"record date 2026-12-15: balances at block {record_block(world)} (2026-11-10T")
    assert lines[2].startswith(f"amount {Decimal(world.paid_amount) / 10**6:.6f} USDC, distributed ")


def test_entitlements_sum_to_amount_minus_remainder(world: World) -> None:
    rows = summary_rows(world.root / "before")

    holders = {holder: row for holder, row in rows.items() if holder.startswith("0x")}
    distributed = sum(int(row["entitlement_usdc_base_units"]) for row in holders.values())
    remainder = int(rows["remainder"]["entitlement_usdc_base_units"])
    assert world.paid_amount == coupon_amount(TOTAL_BALANCE, 10**6, 125)
    assert distributed + remainder == world.paid_amount
    assert int(rows["total"]["entitlement_usdc_base_units"]) == distributed
    assert int(rows["total"]["balance_base_units"]) == TOTAL_BALANCE


def test_entitlements_round_down_with_remainder(world: World) -> None:
    rows = summary_rows(world.root / "before")

    for holder, balances in RECORD_BALANCES.items():
        held = sum(balances.values())
        assert int(rows[holder]["entitlement_usdc_base_units"]) == world.paid_amount * held // TOTAL_BALANCE, holder
    remainder = int(rows["remainder"]["entitlement_usdc_base_units"])
    assert 0 < remainder < len(RECORD_BALANCES)


def test_balances_are_those_of_record_date(world: World) -> None:
    rows = summary_rows(world.root / "before")

    assert sorted(holder for holder in rows if holder.startswith("0x")) == sorted(RECORD_BALANCES, key=str.lower)
    for holder, balances in RECORD_BALANCES.items():
        assert int(rows[holder]["balance_144A_base_units"]) == balances["144A"], holder
        assert int(rows[holder]["balance_RegS_base_units"]) == balances["RegS"], holder


def test_holder_in_both_partitions_counts_both(world: World) -> None:
    (row,) = read_csv(statement_path(world.root / "before", INV_0004, "csv"))

    balances = RECORD_BALANCES[INV_0004]
    assert int(row["balance_144A_base_units"]) == balances["144A"]
    assert int(row["balance_RegS_base_units"]) == balances["RegS"]
    assert int(row["balance_base_units"]) == balances["144A"] + balances["RegS"]
    expected = world.paid_amount * (balances["144A"] + balances["RegS"]) // TOTAL_BALANCE
    assert int(row["entitlement_usdc_base_units"]) == expected


def test_transfer_after_record_date_changes_nothing(world: World) -> None:
    before, after = world.root / "before", world.root / "after"

    assert world.after.returncode == 0, world.after.describe()
    names = sorted(path.name for path in before.iterdir())
    assert names == sorted(path.name for path in after.iterdir())
    for name in names:
        assert (before / name).read_bytes() == (after / name).read_bytes(), name


def test_statement_csv_content(world: World) -> None:
    (row,) = read_csv(statement_path(world.root / "before", INV_0007, "csv"))

    entitlement = world.paid_amount * RECORD_BALANCES[INV_0007]["RegS"] // TOTAL_BALANCE
    rows = summary_rows(world.root / "before")
    assert row["environment"] == ENV
    assert row["chain_id"] == "31337"
    assert row["cycle_id"] == "1"
    assert row["period"] == "2026-Q4"
    assert row["status"] == "paid"
    assert row["rate_bps"] == "125"
    assert row["record_date"] == "2026-12-15"
    assert row["record_block"] == str(record_block(world))
    assert row["record_block_hash"] == world.w3.eth.get_block(record_block(world))["hash"].to_0x_hex()
    assert row["payment_date"] == "2026-12-31"
    assert row["paid_at"].startswith("2026-12-31T")
    assert row["holder"] == INV_0007
    assert row["balance_144A_base_units"] == "0"
    assert row["balance_RegS_base_units"] == str(81_000 * TOKEN)
    assert row["total_balance_base_units"] == str(TOTAL_BALANCE)
    assert row["cycle_amount_usdc_base_units"] == str(world.paid_amount)
    assert row["entitlement_usdc_base_units"] == str(entitlement)
    assert row["entitlement_usdc"] == f"{Decimal(entitlement) / 10**6:.6f}"
    assert row["remainder_usdc_base_units"] == rows["remainder"]["entitlement_usdc_base_units"]


def test_statement_markdown_content(world: World) -> None:
    text = statement_path(world.root / "before", INV_0004, "md").read_text(encoding="utf-8")

    balances = RECORD_BALANCES[INV_0004]
    entitlement = world.paid_amount * (balances["144A"] + balances["RegS"]) // TOTAL_BALANCE
    lines = text.splitlines()
    assert lines[0] == "# Coupon statement: coupon cycle 1 (2026-Q4), paid"
    assert f"Holder: `{INV_0004}`" in lines
    assert f"| Balance 144A | {BOTH_PARTITIONS_144A} JINBI |" in lines
    assert "| Balance RegS | 50000 JINBI |" in lines
    assert f"| **Entitlement** | **{Decimal(entitlement) / 10**6:.6f} USDC** ({entitlement} base units) |" in lines
    assert f"| Record block hash | `{world.w3.eth.get_block(record_block(world))['hash'].to_0x_hex()}` |" in lines
    assert "Projected" not in text


def test_summary_markdown_lists_every_holder(world: World) -> None:
    text = (world.root / "before" / "summary.md").read_text(encoding="utf-8")

    for holder in RECORD_BALANCES:
        assert f"| `{holder}` |" in text, holder
    assert "| **Remainder** (undistributed) |" in text
    assert "9 holders; distributed " in text


# --- the default folder, a projected cycle, errors -------------------------------


def test_default_folder_under_working_directory(world: World, workdir: Path) -> None:
    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "1", cwd=workdir)

    assert completed.returncode == 0, completed.describe()
    folder = workdir / "reports" / ENV / "coupons" / "1"
    assert "to reports/devnet/coupons/1/" in completed.stdout.splitlines()[0]
    assert (folder / "summary.csv").read_bytes() == (world.root / "before" / "summary.csv").read_bytes()
    assert len(list(folder.iterdir())) == 2 * len(RECORD_BALANCES) + 2


def test_unpaid_cycle_is_projected(world: World, workdir: Path) -> None:
    state_dir = workdir / "state"
    shutil.copytree(world.state_dir, state_dir)
    coupons = state_dir / ENV / "coupons.yaml"
    text = coupons.read_text(encoding="utf-8")
    assert 'record_date: "2027-03-15"' in text
    coupons.write_text(text.replace('record_date: "2027-03-15"', 'record_date: "2027-01-01"'), encoding="utf-8")

    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(state_dir), "--cycle", "2", "--out", "out", cwd=workdir)

    assert completed.returncode == 0, completed.describe()
    assert "(2027-Q1, projected)" in completed.stdout.splitlines()[0]
    projected = coupon_amount(TOTAL_BALANCE, 10**6, 125)
    rows = summary_rows(workdir / "out")
    (row,) = read_csv(statement_path(workdir / "out", INV_0001, "csv"))
    assert row["status"] == "projected"
    assert row["paid_at"] == ""
    assert row["cycle_amount_usdc_base_units"] == str(projected)
    assert row["balance_144A_base_units"] == str(250_000 * TOKEN - DECEMBER_TRANSFER)
    distributed = int(rows["total"]["entitlement_usdc_base_units"])
    assert distributed + int(rows["remainder"]["entitlement_usdc_base_units"]) == projected
    text = statement_path(workdir / "out", INV_0001, "md").read_text(encoding="utf-8")
    assert "**Projected:** the cycle is not paid yet." in text


def test_unknown_cycle_exits_1(world: World, workdir: Path) -> None:
    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "9", cwd=workdir)

    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.startswith("error: coupon cycle 9 not found: CorporateActions has not paid it at block ")
    assert "does not define it (its cycles: 1, 2)" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (workdir / "reports").exists()


def test_record_date_after_chain_time_exits_1(world: World, workdir: Path) -> None:
    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "2", cwd=workdir)

    assert completed.returncode == 1
    assert completed.stderr.startswith(
        "error: coupon cycle 2 has record date 2027-03-15, which ends at 2027-03-15T23:59:59Z, "
        "but the chain's latest block "
    )
    assert "so the record-date balances are not final yet" in completed.stderr
    assert not (workdir / "reports").exists()


@pytest.mark.parametrize("cycle", ["abc", "0", "-1", "01"], ids=["word", "zero", "negative", "leading-zero"])
def test_invalid_cycle_id_exits_1(world: World, workdir: Path, cycle: str) -> None:
    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), f"--cycle={cycle}", cwd=workdir)

    assert completed.returncode == 1
    assert completed.stderr.splitlines()[0] == f"error: invalid coupon cycle id {cycle!r}"


def copied_state(world: World, workdir: Path, old: str, new: str) -> Path:
    """Copy the world's state folder into WORKDIR, replacing OLD by NEW in coupons.yaml."""
    state_dir = workdir / "state"
    shutil.copytree(world.state_dir, state_dir)
    coupons = state_dir / ENV / "coupons.yaml"
    text = coupons.read_text(encoding="utf-8")
    assert old in text
    coupons.write_text(text.replace(old, new), encoding="utf-8")
    return state_dir


def test_invalid_coupons_file_exits_1(world: World, workdir: Path) -> None:
    state_dir = copied_state(world, workdir, "rate_bps: 125", 'rate_bps: "a lot"')

    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(state_dir), "--cycle", "1", cwd=workdir)

    assert completed.returncode == 1
    assert completed.stdout == ""
    first = completed.stderr.splitlines()[0]
    assert first.startswith(f"error: {state_dir / ENV / 'coupons.yaml'}:")
    assert 'rate_bps must be a whole number, found "a lot"' in first
    assert "run `jinbi validate --env devnet`" in completed.stderr
    assert not (workdir / "reports").exists()


def test_record_date_before_chain_is_rejected(world: World) -> None:
    # The rules of coupons.yaml order the cycles after the paid one, so the early cycle is given directly.
    environment = read_state(world.state_dir, ENV).environment
    assert environment is not None
    early = CouponCycle("3", "2019-Q4", 125, parse_date("2020-01-15"), parse_date("2020-01-31"))

    with pytest.raises(ReportError) as raised:
        coupon_statements(world.w3, environment, {"3": early}, "3")

    assert raised.value.message.startswith(
        "coupon cycle 3 has record date 2020-01-15, which ends at 2020-01-15T23:59:59Z, "
        "before the chain's first block (block 0 at 2026-"
    )
    assert raised.value.hint == "check record_date of cycle 3 in coupons.yaml: it must fall after the chain started"


@pytest.mark.parametrize("target", ["file", "under-file"], ids=["existing-file", "parent-is-file"])
def test_out_at_file_exits_1(world: World, workdir: Path, target: str) -> None:
    (workdir / "taken").write_text("not a folder\n", encoding="utf-8")
    out = workdir / "taken" if target == "file" else workdir / "taken" / "statements"

    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "1", "--out", str(out), cwd=workdir)

    assert completed.returncode == 1
    assert completed.stderr.startswith(f"error: cannot write the coupon statements to the folder {out}: ")
    assert "hint: give --out a folder: a path that does not exist yet or is a folder, not a file" in completed.stderr
    assert "unexpected" not in completed.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into folders without write permission")
def test_out_in_read_only_folder_exits_1(world: World, workdir: Path) -> None:
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)

    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "1", "--out", str(locked / "out"), cwd=workdir)

    assert completed.returncode == 1
    assert "Permission denied" in completed.stderr
    assert "hint: give --out a folder you can write to" in completed.stderr


def test_former_holder_statements_are_removed(world: World, workdir: Path) -> None:
    out = workdir / "out"
    out.mkdir()
    former = "0x" + "ab" * 20
    for name in (f"holder-{former}.csv", f"holder-{former}.md", "notes.txt", "holder-notes.md"):
        (out / name).write_text("from an earlier run\n", encoding="utf-8")

    completed = world.run("report", "coupons", "--env", ENV, "--state-dir", str(world.state_dir), "--cycle", "1", "--out", str(out), cwd=workdir)

    assert completed.returncode == 0, completed.describe()
    assert not (out / f"holder-{former}.csv").exists()
    assert not (out / f"holder-{former}.md").exists()
    assert (out / "notes.txt").exists()
    assert (out / "holder-notes.md").exists()
    assert completed.stdout.splitlines()[-1] == (
        "removed 2 statement file(s) of an earlier run whose holder has none now: "
        f"holder-{former}.csv, holder-{former}.md"
    )


# --- the rule itself -------------------------------------------------------------


def test_allocate_leaves_out_empty_holders() -> None:
    balances = {"0xB": {Partition.RULE_144A: 1, Partition.REG_S: 1}, "0xa": {Partition.RULE_144A: 0, Partition.REG_S: 0}}

    (only,) = allocate(10, balances)

    assert only.holder == "0xB"
    assert only.amount == 10


def test_allocate_without_balance_gives_nothing() -> None:
    assert allocate(10, {}) == ()


@given(
    amount=st.integers(min_value=0, max_value=10**15),
    held=st.lists(st.tuples(st.integers(0, 10**24), st.integers(0, 10**24)), min_size=1, max_size=30),
)
@example(amount=10, held=[(1, 0), (1, 0), (1, 0)])
def test_allocate_never_exceeds_amount(amount: int, held: list[tuple[int, int]]) -> None:
    balances = {f"0x{index:040x}": {Partition.RULE_144A: a, Partition.REG_S: b} for index, (a, b) in enumerate(held)}

    entitlements = allocate(amount, balances)

    distributed = sum(entitlement.amount for entitlement in entitlements)
    assert distributed <= amount
    assert amount - distributed < max(len(entitlements), 1) or not entitlements
