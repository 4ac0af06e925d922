"""The committed state/devnet: a realistic sample that validates and copies no real data."""

from __future__ import annotations

from pathlib import Path

import pytest
from desired_support import ANVIL_ACCOUNTS, SAMPLE_DIR
from eth_account import Account

from reconciler import PROJECT_ROOT
from reconciler.desired import ReadResult, read_state
from reconciler.desired.schema import SCHEMA_LINE_PREFIX
from reconciler.desired.values import parse_address
from reconciler.model import SECONDS_PER_DAY, AllocationStatus, Partition

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@pytest.fixture(scope="module")
def sample() -> ReadResult:
    return read_state(PROJECT_ROOT / "state", "devnet")


def test_sample_validates(sample: ReadResult) -> None:
    assert sample.diagnostics == []


def test_sample_is_realistic(sample: ReadResult) -> None:
    state = sample.state
    booked = [each for each in state.allocations.values() if each.status is AllocationStatus.BOOKED]

    assert 20 <= len(state.investors) < 100
    assert len({investor.jurisdiction for investor in state.investors.values()}) >= 10
    assert {allocation.partition for allocation in booked} == {Partition.RULE_144A, Partition.REG_S}
    assert any(not investor.kyc for investor in state.investors.values())
    assert 8 <= len(state.sanctions) <= 12
    assert [entry.blocked for entry in state.sanctions.values()].count(False) == 1
    assert sorted(state.coupon_cycles) == ["1", "2"]
    assert sorted(state.cap_table_snapshots) == ["2026-Q3"]
    assert sorted(state.custody_attestations) == ["monthly-custody-202609"]


def test_allocations_go_to_anvil_accounts(sample: ReadResult) -> None:
    investors = sample.state.investors
    allocations = list(sample.state.allocations.values())

    assert {allocation.investor for allocation in allocations} <= set(ANVIL_ACCOUNTS)
    assert any(
        investors[each.investor].jurisdiction == "US" for each in allocations if each.partition is Partition.RULE_144A
    )
    assert any(
        investors[each.investor].jurisdiction != "US" for each in allocations if each.partition is Partition.RULE_144A
    )
    for allocation in allocations:
        if allocation.partition is Partition.REG_S:
            lockup = investors[allocation.investor].lockup_until
            assert lockup is not None
            assert lockup >= allocation.trade_date + 40 * SECONDS_PER_DAY


def test_anvil_accounts_match_mnemonic() -> None:
    Account.enable_unaudited_hdwallet_features()
    derived = [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").address for index in range(1, 10)
    ]

    assert derived == ANVIL_ACCOUNTS


def test_committed_yaml_has_schema_line() -> None:
    files = sorted((PROJECT_ROOT / "state").rglob("*.y*ml"))

    assert files
    for path in files:
        first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert first_line.startswith(SCHEMA_LINE_PREFIX + "../../schemas/"), path
        assert (path.parent / first_line[len(SCHEMA_LINE_PREFIX) :]).resolve().is_file(), path


def test_sample_copies_no_ofac_address(sample: ReadResult, shared_data: Path) -> None:
    listed: set[str] = set()
    for snapshot in (shared_data / "ofac-eth").glob("sanctioned-eth-*.txt"):
        listed |= {
            parse_address(line.strip()) for line in snapshot.read_text(encoding="utf-8").splitlines() if line.strip()
        }

    assert listed
    assert not listed & set(sample.state.sanctions)
    assert not listed & set(sample.state.investors)


def test_sample_has_one_file_per_kind() -> None:
    assert sorted(path.name for path in SAMPLE_DIR.iterdir()) == [
        "allocations.yaml",
        "attestations.yaml",
        "cap-tables.yaml",
        "coupons.yaml",
        "environment.yaml",
        "investors.yaml",
        "pause.yaml",
        "roles.yaml",
        "sanctions.yaml",
    ]
