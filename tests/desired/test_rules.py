"""Cross-file rules: each has its own code, message and line, and the right value passes."""

from __future__ import annotations

import pytest
from desired_support import StateTree, only

US_QIB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # ALLOC-0001, 144A, line 6
DE_REGS = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # ALLOC-0004, RegS, line 9
SECOND_US_QIB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # ALLOC-0002 booked, ALLOC-0010 cancelled


def edit(tree: StateTree, name: str, old: str, new: str, *, count: int = 1) -> None:
    path = tree.env_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def edit_investor(tree: StateTree, address: str, old: str, new: str) -> int:
    """Replace OLD by NEW in ADDRESS's entry; return the 1-based line of the entry's key."""
    path = tree.env_dir / "investors.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index(f'  "{address}":')
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    block = "\n".join(lines[start:end])
    assert old in block, f"{old!r} not in the entry of {address}"
    lines[start:end] = block.replace(old, new).split("\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    return start + 1


def test_sample_passes_every_rule(tree: StateTree) -> None:
    assert tree.errors() == []


# --- allocations -------------------------------------------------------------


def test_investor_not_declared(tree: StateTree) -> None:
    stranger = "0x0000000000000000000000000000000000000aBc"
    edit(tree, "allocations.yaml", f'investor: "{US_QIB}"', f'investor: "{stranger}"')

    error = only(tree.errors())

    assert (
        error.message == f"allocation ALLOC-0001: investor {stranger} is not declared in {tree.file('investors.yaml')}"
    )
    assert error.hint == "add the investor with kyc, qib and jurisdiction, or correct the address"
    assert (error.line, error.column, error.code) == (6, 45, "allocation.investor-undeclared")


def test_investor_without_kyc(tree: StateTree) -> None:
    line = edit_investor(tree, US_QIB, "kyc: true", "kyc: false")

    error = only(tree.errors())

    assert error.message == f"allocation ALLOC-0001: investor {US_QIB} has kyc: false"
    assert error.hint == (
        f"book allocations only for KYC'd investors ({tree.file('investors.yaml')}:{line}:3), "
        "or cancel it with status: cancelled; if the investor settled it on chain already, write status: settled"
    )
    assert (error.line, error.column, error.code) == (6, 45, "allocation.investor-not-kyc")


def test_investor_blocked(tree: StateTree) -> None:
    edit(
        tree, "sanctions.yaml", "blocked:\n", f'blocked:\n  "{US_QIB}": {{source: OFAC-SDN, listed_on: "2026-08-20"}}\n'
    )

    error = only(tree.errors())

    assert error.message == f"allocation ALLOC-0001: investor {US_QIB} is blocked (OFAC-SDN, listed on 2026-08-20)"
    assert error.hint == (
        f"cancel the allocation with status: cancelled (sanctions entry at {tree.file('sanctions.yaml')}:6:3); "
        "if the investor settled it on chain already, write status: settled"
    )
    assert (error.line, error.column, error.code) == (6, 45, "allocation.investor-blocked")


def test_delisted_investor_not_blocked(tree: StateTree) -> None:
    entry = f'  "{US_QIB}": {{source: OFAC-SDN, listed_on: "2026-08-20", delisted_on: "2026-08-25"}}\n'
    edit(tree, "sanctions.yaml", "blocked:\n", "blocked:\n" + entry)

    assert tree.errors() == []


def test_144a_needs_qib(tree: StateTree) -> None:
    line = edit_investor(tree, US_QIB, "qib: true", "qib: false")

    error = only(tree.errors())

    assert error.message == (
        "allocation ALLOC-0001: partition 144A needs a qualified institutional buyer, "
        f"but investor {US_QIB} has qib: false"
    )
    assert error.hint == (
        f"book a non-US investor in RegS, or set qib: true ({tree.file('investors.yaml')}:{line}:3) "
        "once QIB status is confirmed"
    )
    assert (error.line, error.column, error.code) == (6, 27, "allocation.144a-needs-qib")


def test_144a_accepts_non_us_qib(tree: StateTree) -> None:
    # ALLOC-0003 is a 144A allocation to a QIB in GB.
    assert tree.read().state.allocations["ALLOC-0003"].partition.value == "144A"
    assert tree.read().state.investors["0x90F79bf6EB2c4f870365E785982E1f101E93b906"].jurisdiction == "GB"
    assert tree.errors() == []


@pytest.mark.parametrize("jurisdiction", ["US", "PR", "VI", "GU"])
def test_regs_needs_non_us_investor(tree: StateTree, jurisdiction: str) -> None:
    edit_investor(tree, DE_REGS, 'jurisdiction: "DE"', f'jurisdiction: "{jurisdiction}"')

    error = only(tree.errors())

    assert error.message == (
        f"allocation ALLOC-0004: partition RegS needs an investor outside the United States, "
        f"but investor {DE_REGS} has jurisdiction {jurisdiction}"
    )
    assert error.hint == "book a US investor in 144A, which needs a QIB"
    assert (error.line, error.column, error.code) == (9, 27, "allocation.regs-needs-non-us")


def test_regs_needs_lockup(tree: StateTree) -> None:
    line = edit_investor(tree, DE_REGS, '\n    lockup_until: "2026-10-15T00:00:00Z"', "")

    error = only(tree.errors())

    assert error.message == (
        "allocation ALLOC-0004: partition RegS needs a lockup until at least 2026-10-11T00:00:00Z "
        f"(40 days after trade_date 2026-09-01), but investor {DE_REGS} has no lockup_until"
    )
    assert error.hint == (
        f'set lockup_until: "2026-10-11T00:00:00Z" or later for the investor ({tree.file("investors.yaml")}:{line}:3)'
    )
    assert (error.line, error.column, error.code) == (9, 27, "allocation.regs-lockup")


def test_regs_lockup_one_second_short(tree: StateTree) -> None:
    edit_investor(tree, DE_REGS, "2026-10-15T00:00:00Z", "2026-10-10T23:59:59Z")

    error = only(tree.errors())

    assert error.message == (
        "allocation ALLOC-0004: partition RegS needs a lockup until at least 2026-10-11T00:00:00Z "
        f"(40 days after trade_date 2026-09-01), but investor {DE_REGS} has lockup_until 2026-10-10T23:59:59Z"
    )
    assert error.code == "allocation.regs-lockup"


def test_regs_lockup_exactly_40_days(tree: StateTree) -> None:
    edit_investor(tree, DE_REGS, "2026-10-15T00:00:00Z", "2026-10-11T00:00:00Z")

    assert tree.errors() == []


def test_regs_lockup_days_from_policy(tree: StateTree) -> None:
    edit(tree, "environment.yaml", "regs_lockup_days: 40", "regs_lockup_days: 60")

    errors = tree.errors()

    # Every RegS allocation of the sample traded on 2026-09-01 with a lockup until 2026-10-15.
    assert [(each.line, each.code) for each in errors] == [
        (line, "allocation.regs-lockup") for line in (9, 10, 11, 12, 14)
    ]
    assert (
        "needs a lockup until at least 2026-10-31T00:00:00Z (60 days after trade_date 2026-09-01)" in errors[0].message
    )


def test_settled_allocation_allows_blocked_holder(tree: StateTree) -> None:
    edit(
        tree, "sanctions.yaml", "blocked:\n", f'blocked:\n  "{US_QIB}": {{source: OFAC-SDN, listed_on: "2026-11-01"}}\n'
    )
    edit_investor(tree, US_QIB, "kyc: true", "kyc: false")
    edit(tree, "allocations.yaml", 'trade_date: "2026-09-01"}', 'trade_date: "2026-09-01", status: settled}')

    result = tree.read()

    assert result.diagnostics == []


def test_cancelled_allocation_not_checked(tree: StateTree) -> None:
    stranger = "0x0000000000000000000000000000000000000aBc"
    edit(
        tree,
        "allocations.yaml",
        f'investor: "{SECOND_US_QIB}", amount: "20000"',
        f'investor: "{stranger}", amount: "20000"',
    )

    result = tree.read()

    assert result.diagnostics == []
    assert result.state.allocations["ALLOC-0010"].status.value == "cancelled"


def test_allocation_with_invalid_investor_entry_not_checked(tree: StateTree) -> None:
    edit_investor(tree, US_QIB, "kyc: true", "kyc: yes")

    error = only(tree.errors())

    assert error.code == "schema.type"


# --- investors and sanctions -------------------------------------------------


def test_duplicate_ref(tree: StateTree) -> None:
    # The investors file is sorted by address, so DE_REGS (line 38) comes before US_QIB (line 97).
    de_line = edit_investor(tree, DE_REGS, "ref: INV-0004", "ref: INV-0001")
    positions = tree.read().positions
    us_ref = positions[("investors", US_QIB, "ref")]

    error = only(tree.errors())

    assert (
        error.message == f"investor {US_QIB}: ref INV-0001 is also the ref of investor {DE_REGS} on line {de_line + 1}"
    )
    assert error.hint == "give each investor address its own ref"
    assert (error.line, error.column, error.code) == (us_ref.line, 10, "investor.duplicate-ref")
    assert (de_line, us_ref.line) == (38, 98)


def test_delisted_before_listed(tree: StateTree) -> None:
    edit(tree, "sanctions.yaml", 'delisted_on: "2025-09-30"', 'delisted_on: "2024-01-01"')

    error = only(tree.errors())

    assert error.message == (
        "sanctions entry 0x793802e0a1F43E3Df52414A2Ea6D9B5F8eDdd34F: "
        "delisted_on 2024-01-01 is before listed_on 2024-05-29"
    )
    assert error.hint == "check both dates against the lists that added and removed the address"
    assert (error.line, error.code) == (7, "sanctions.delisted-before-listed")


# --- coupon cycles -----------------------------------------------------------


def test_coupon_payment_before_record_date(tree: StateTree) -> None:
    edit(tree, "coupons.yaml", 'payment_date: "2026-12-31"', 'payment_date: "2026-12-15"')

    error = only(tree.errors())

    assert error.message == "coupon cycle 1: payment_date 2026-12-15 is not after record_date 2026-12-15"
    assert error.hint == "the record date fixes who is paid, so it comes before the payment date"
    assert (error.line, error.column, error.code) == (5, 84, "coupon.dates-order")


def test_coupon_periods_in_id_order(tree: StateTree) -> None:
    edit(tree, "coupons.yaml", 'period: "2027-Q1"', 'period: "2026-Q4"')

    error = only(tree.errors())

    assert error.message == "coupon cycle 2: period 2026-Q4 is not after period 2026-Q4 of coupon cycle 1"
    assert error.hint == "number the cycles in the order of their periods; each period is paid once"
    assert (error.line, error.column, error.code) == (6, 17, "coupon.period-order")


def test_coupon_record_date_after_previous_payment(tree: StateTree) -> None:
    edit(tree, "coupons.yaml", 'record_date: "2027-03-15"', 'record_date: "2026-12-20"')

    error = only(tree.errors())

    assert (
        error.message == "coupon cycle 2: record_date 2026-12-20 is not after payment_date 2026-12-31 of coupon cycle 1"
    )
    assert error.hint == "a cycle's record date comes after the previous cycle's payment date"
    assert (error.line, error.column, error.code) == (6, 56, "coupon.record-date-order")


def test_coupon_ids_ordered_as_numbers(tree: StateTree) -> None:
    edit(
        tree,
        "coupons.yaml",
        '  "2": {period: "2027-Q1"',
        '  "10": {period: "2027-Q3", rate_bps: 125, record_date: "2027-09-15", payment_date: "2027-09-30"}\n'
        '  "2": {period: "2027-Q1"',
    )

    assert tree.errors() == []


# --- environment -------------------------------------------------------------


def test_environment_name_matches_folder(tree: StateTree) -> None:
    edit(tree, "environment.yaml", "name: devnet", "name: staging")

    error = only(tree.errors())

    assert error.message == "environment name staging does not match its folder devnet"
    assert error.hint == "write name: devnet, or run the command with --env staging"
    assert (error.line, error.column, error.code) == (6, 7, "environment.name")


def test_contracts_have_distinct_addresses(tree: StateTree) -> None:
    edit(
        tree,
        "environment.yaml",
        'usdc: "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853"',
        'usdc: "0x5FbDB2315678afecb367f032d93F642f64180aa3"',
    )

    error = only(tree.errors())

    assert error.message == (
        "contracts.usdc has the same address as contracts.compliance_registry: "
        "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    )
    assert (error.line, error.column, error.code) == (19, 9, "environment.duplicate-contract")


def test_allocation_ids_unique(tree: StateTree) -> None:
    path = tree.env_dir / "allocations.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines.insert(15, lines[5].replace('amount: "250000"', 'amount: "1"'))
    path.write_text("\n".join(lines), encoding="utf-8")

    error = only(tree.errors())

    assert error.message == "duplicate key ALLOC-0001: first on line 6, again on line 16"
    assert error.hint == "remove one of the two entries; plain YAML would silently keep only the last one"
    assert (error.line, error.column, error.code) == (16, 3, "yaml.duplicate-key")
    assert tree.read().state.allocations["ALLOC-0001"].amount == 250_000 * 10**18
