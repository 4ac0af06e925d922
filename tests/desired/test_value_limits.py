"""Values a contract would reject or Python cannot convert are rejected at their line, and long values are cut."""

from __future__ import annotations

import pytest
from desired_support import StateTree, only

ZERO = "0x0000000000000000000000000000000000000000"
ZERO_MESSAGE = "is the zero address, which the JINBI contracts reject"
ZERO_HINT = "check the address against its source: 0x followed by 40 zeros is no one's account"
NZ_INVESTOR = "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0"  # line 7 of the sample investors file
FIRST_BLOCKED = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"  # line 6 of the sample sanctions file
US_QIB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # the investor of ALLOC-0001, line 6 of allocations


def replace_in(tree: StateTree, name: str, old: str, new: str) -> None:
    path = tree.env_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the zero address --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "old", "message", "position"),
    [
        pytest.param("investors.yaml", NZ_INVESTOR, f'investor "{ZERO}" {ZERO_MESSAGE}', (7, 3), id="investor-key"),
        pytest.param(
            "sanctions.yaml", FIRST_BLOCKED, f'sanctions entry "{ZERO}" {ZERO_MESSAGE}', (6, 3), id="sanctions-key"
        ),
        pytest.param(
            "environment.yaml",
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            f'treasury "{ZERO}" {ZERO_MESSAGE}',
            (10, 11),
            id="treasury",
        ),
        pytest.param(
            "allocations.yaml",
            f'investor: "{US_QIB}"',
            f'allocation ALLOC-0001: investor "{ZERO}" {ZERO_MESSAGE}',
            (6, 45),
            id="allocation-investor",
        ),
    ],
)
def test_zero_address_rejected(
    tree: StateTree, name: str, old: str, message: str, position: tuple[int, int]
) -> None:
    new = f'investor: "{ZERO}"' if old.startswith("investor:") else ZERO
    replace_in(tree, name, old, new)

    error = only(tree.errors())

    assert error.message == message
    assert error.hint == ZERO_HINT
    assert (error.file, error.line, error.column, error.code) == (tree.file(name), *position, "schema.format")


def test_unquoted_zero_address_key_rejected(tree: StateTree) -> None:
    replace_in(tree, "investors.yaml", f'"{NZ_INVESTOR}":', f"{ZERO}:")

    error = only(tree.errors())

    assert error.message == f'investor "{ZERO}" {ZERO_MESSAGE}'
    assert (error.line, error.column) == (7, 3)


# --- numbers too long to convert ---------------------------------------------


def test_integer_of_5000_digits_rejected(tree: StateTree) -> None:
    replace_in(tree, "coupons.yaml", "rate_bps: 125, record_date", f"rate_bps: {'9' * 5000}, record_date")

    error = only(tree.errors())

    assert error.message == "rate_bps is a whole number of 5,000 digits, longer than any field takes"
    assert error.hint == "no field takes a number of more than 78 digits (2^256 - 1): check the value"
    assert (error.file, error.line, error.column, error.code) == (
        tree.file("coupons.yaml"),
        5,
        38,
        "yaml.integer-too-long",
    )


def test_integer_of_78_digits_reaches_schema(tree: StateTree) -> None:
    digits = str(2**256 - 1)
    replace_in(tree, "coupons.yaml", "rate_bps: 125, record_date", f"rate_bps: {digits}, record_date")

    error = only(tree.errors())

    assert error.message == f"coupon cycle 1: rate_bps must be at most 10000, found {digits[:80]}"
    assert error.code == "schema.range"


def test_long_number_with_fraction_rejected(tree: StateTree) -> None:
    replace_in(tree, "coupons.yaml", "rate_bps: 125, record_date", f"rate_bps: {'9' * 5000}.0, record_date")

    error = only(tree.errors())

    assert error.message == f"coupon cycle 1: rate_bps must be a whole number, found {'9' * 80}… (5,002 characters)"
    assert error.hint == "write a whole number in decimal digits, such as rate_bps: 125"


def test_amount_of_5000_digits_rejected(tree: StateTree) -> None:
    replace_in(tree, "allocations.yaml", 'amount: "250000"', f'amount: "{"1" * 5000}"')

    error = only(tree.errors())

    assert error.message == (
        f'allocation ALLOC-0001: amount "{"1" * 80}"… (5,000 characters) is too large to fit in a uint256'
    )
    assert error.hint == "write the amount in the bond token, not in base units; check the value"
    assert (error.line, error.column, error.code) == (6, 99, "amount.too-large")


def test_amount_of_62_digits_gets_too_large_hint(tree: StateTree) -> None:
    # 62 digits pass the length check, but times 10**18 they exceed a uint256.
    replace_in(tree, "allocations.yaml", 'amount: "250000"', f'amount: "{"9" * 62}"')

    error = only(tree.errors())

    assert error.message == f'allocation ALLOC-0001: amount "{"9" * 62}" is too large to fit in a uint256'
    assert error.hint == "write the amount in the bond token, not in base units; check the value"
    assert error.code == "amount.too-large"


# --- long values are cut in messages -----------------------------------------


def test_long_value_cut_in_message(tree: StateTree) -> None:
    replace_in(tree, "investors.yaml", "ref: INV-0031", f'ref: "{"R" * 200_000}"')

    error = only(tree.errors())

    assert error.message == f'investor {NZ_INVESTOR}: ref "{"R" * 80}"… (200,000 characters) is invalid'
    assert (error.line, error.column) == (8, 10)


def test_long_plain_value_cut_in_message(tree: StateTree) -> None:
    replace_in(tree, "investors.yaml", "ref: INV-0031", f"ref: {'R' * 200_000}")

    error = only(tree.errors())

    assert error.message == f"investor {NZ_INVESTOR}: ref {'R' * 80}… (200,000 characters) is invalid"


def test_long_key_cut_in_message(tree: StateTree) -> None:
    # YAML limits a key written without `?` to 1,024 characters.
    replace_in(tree, "allocations.yaml", "  ALLOC-0001:", f"  ALLOC-{'9' * 994}:")

    error = only(tree.errors())

    assert error.message == f'allocation "ALLOC-{"9" * 74}"… (1,000 characters) is invalid'


# --- environment bounds ------------------------------------------------------


def test_chain_id_above_eip_2294_bound(tree: StateTree) -> None:
    replace_in(tree, "environment.yaml", "chain_id: 31337", "chain_id: 99999999999999999999999999999")

    error = only(tree.errors())

    assert error.message == "chain_id must be at most 9007199254740991, found 99999999999999999999999999999"
    assert error.hint == (
        "a chain id is from 1 to 9007199254740991 (2^53 - 1, the largest EIP-2294 allows), "
        "such as 1 for Ethereum or 31337 for anvil"
    )
    assert (error.line, error.column, error.code) == (7, 11, "schema.range")


def test_chain_id_at_eip_2294_bound_accepted(tree: StateTree) -> None:
    replace_in(tree, "environment.yaml", "chain_id: 31337", "chain_id: 9007199254740991")

    result = tree.read()

    assert result.diagnostics == []
    assert result.environment is not None
    assert result.environment.chain_id == 2**53 - 1


@pytest.mark.parametrize(
    ("old", "new", "message", "hint", "line"),
    [
        pytest.param(
            "security_token: 18",
            "security_token: 8",
            "decimals.security_token must be 18, found 8",
            "the JINBI bond token has 18 decimals: write security_token: 18 "
            "(the chain reader checks it against the deployed contract)",
            21,
            id="bond-token",
        ),
        pytest.param(
            "usdc: 6",
            "usdc: 18",
            "decimals.usdc must be 6, found 18",
            "USDC has 6 decimals: write usdc: 6 (the chain reader checks it against the deployed contract)",
            22,
            id="usdc",
        ),
    ],
)
def test_token_decimals_fixed(tree: StateTree, old: str, new: str, message: str, hint: str, line: int) -> None:
    replace_in(tree, "environment.yaml", old, new)

    error = only(tree.errors())

    assert (error.message, error.hint) == (message, hint)
    assert (error.line, error.code) == (line, "schema.const")
