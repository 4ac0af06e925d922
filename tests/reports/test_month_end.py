"""`jinbi report month-end`: differences and their transfers, snapshots, coupon history, the month's counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from reports_world import (
    DECEMBER_TRANSFER,
    ENV,
    FORCE_TRANSFER,
    INV_0001,
    INV_0002,
    INV_0005,
    INV_0006,
    INV_0007,
    INV_0009,
    NOVEMBER_TRANSFER,
    SNAPSHOT_CID,
    SNAPSHOT_PERIOD,
    World,
)

INV_0003 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DECEMBER_END = 1_798_761_599  # 2026-12-31T23:59:59Z


def month_end(world: World, period: str, *options: str, state_dir: Path | None = None) -> Any:
    """Run the report once per arguments and world; the chain does not change between the tests."""
    key = (id(world), period, options, state_dir)
    if key not in _RUNS:
        _RUNS[key] = _month_end(world, period, *options, state_dir=state_dir)
    return _RUNS[key]


_RUNS: dict[tuple[Any, ...], Any] = {}


def _month_end(world: World, period: str, *options: str, state_dir: Path | None = None) -> Any:
    completed = world.run(
        "report", "month-end", "--env", ENV, "--state-dir", str(state_dir or world.state_dir), "--period", period, *options
    )
    assert completed.returncode == 0, completed.describe()
    assert completed.stderr == ""
    return completed


def month_end_json(world: World, period: str, state_dir: Path | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(month_end(world, period, "--format", "json", state_dir=state_dir).stdout)
    return document


def differences(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(line["holder"], line["partition"]): line for line in document["balances"] if line["difference"] != "0"}


def test_december_is_read_at_its_last_block(world: World) -> None:
    document = month_end_json(world, "2026-12")

    stamps = {n: int(world.w3.eth.get_block(n)["timestamp"]) for n in range(world.w3.eth.block_number + 1)}
    assert document["month_ended"] is True
    assert document["block"]["number"] == max(n for n, stamp in stamps.items() if stamp <= DECEMBER_END)


def test_transfers_explain_differences(world: World) -> None:
    found = differences(month_end_json(world, "2026-12"))

    expected = {
        (INV_0001, "144A"): -DECEMBER_TRANSFER,
        (INV_0002, "144A"): DECEMBER_TRANSFER,
        (INV_0005, "RegS"): -NOVEMBER_TRANSFER,
        (INV_0007, "RegS"): NOVEMBER_TRANSFER,
        (INV_0009, "RegS"): -FORCE_TRANSFER,
        (INV_0006, "RegS"): FORCE_TRANSFER,
    }
    assert {key: int(line["difference"]) for key, line in found.items()} == expected
    assert all(line["explained"] for line in found.values())
    (force,) = found[(INV_0009, "RegS")]["movements"]
    assert force["kind"] == "force transfer"
    assert force["order_id"] == "ORDER-2026-001"
    (transfer,) = found[(INV_0002, "144A")]["movements"]
    assert transfer["kind"] == "transfer"
    assert (transfer["from"], transfer["to"], int(transfer["amount"])) == (INV_0001, INV_0002, DECEMBER_TRANSFER)


def test_text_lists_difference_with_transfer(world: World) -> None:
    text = month_end(world, "2026-12").stdout

    assert text.splitlines()[0].startswith("Month-end 2026-12 of devnet (chain 31337) at block ")
    assert "the last block of the month" in text.splitlines()[0]
    assert (
        f"  {INV_0009} RegS: on chain 44500 JINBI, settled allocations 45000 JINBI, difference -500 JINBI: "
        "explained by 1 movement"
    ) in text.splitlines()
    assert f"    force transfer (order ORDER-2026-001) of 500 JINBI RegS from {INV_0009} to {INV_0006} in block " in text


def test_unexplained_difference_is_flagged(world: World, workdir: Path) -> None:
    state_dir = workdir / "state"
    shutil.copytree(world.state_dir, state_dir)
    allocations = state_dir / ENV / "allocations.yaml"
    text = allocations.read_text(encoding="utf-8")
    assert f'investor: "{INV_0003}", amount: "75000"' in text
    allocations.write_text(text.replace(f'investor: "{INV_0003}", amount: "75000"', f'investor: "{INV_0003}", amount: "70000"'))

    line = differences(month_end_json(world, "2026-12", state_dir=state_dir))[(INV_0003, "144A")]

    assert int(line["difference"]) == 5_000 * 10**18
    assert line["explained"] is False
    assert line["movements"] == []


def test_quarter_snapshot_present_and_month_missing(world: World) -> None:
    snapshots = month_end_json(world, "2026-12")["snapshots"]

    assert [status["period"] for status in snapshots] == ["2026-12", SNAPSHOT_PERIOD]
    assert snapshots[0] == {"period": "2026-12", "recorded": False, "cid": None, "recorded_at": None}
    assert snapshots[1]["recorded"] is True
    assert snapshots[1]["cid"] == SNAPSHOT_CID


def test_snapshot_missing_in_november(world: World) -> None:
    markdown = month_end(world, "2026-11", "--format", "markdown").stdout

    assert "- 2026-11: missing" in markdown.splitlines()
    assert "Q4" not in markdown


def test_coupon_history_up_to_block(world: World) -> None:
    december = month_end_json(world, "2026-12")["coupons"]
    november = month_end_json(world, "2026-11")["coupons"]

    assert [(cycle["cycle"], cycle["period"], int(cycle["amount"])) for cycle in december] == [
        ("1", "2026-Q4", world.paid_amount)
    ]
    assert november == []


def test_counts_of_the_month(world: World) -> None:
    december = month_end_json(world, "2026-12")["month"]
    november = month_end_json(world, "2026-11")["month"]

    assert (december["compliance_rejections"], december["force_transfers"], december["secondary_transfers"]) == (1, 1, 1)
    assert (november["compliance_rejections"], november["force_transfers"], november["secondary_transfers"]) == (0, 0, 1)


def test_running_month_uses_latest_block(world: World) -> None:
    text = month_end(world, "2027-01").stdout

    first = text.splitlines()[0]
    assert f"at the latest block {world.w3.eth.block_number} " in first
    assert first.endswith("the month has not ended, so the figures are not final")


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "error: invalid period '2026-13'"),
        ("December", "error: invalid period 'December'"),
        ("2027-05", "error: period 2027-05 starts at 2027-05-01T00:00:00Z, after the chain's latest block "),
        ("0000-01", "error: invalid period '0000-01'\nhint: give a calendar month as YYYY-MM"),
        (
            "2020-01",
            "error: period 2020-01 ends at 2020-01-31T23:59:59Z, before the chain's first block (block 0 at 2026-",
        ),
    ],
    ids=["month-13", "word", "future", "year-0", "before-chain"],
)
def test_bad_period_exits_1(world: World, period: str, message: str) -> None:
    completed = world.run("report", "month-end", "--env", ENV, "--state-dir", str(world.state_dir), "--period", period)

    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.startswith(message)
