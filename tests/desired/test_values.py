"""Value types: addresses, jurisdictions, amounts in base units, dates and times in UTC."""

from __future__ import annotations

import pytest
from desired_support import StateTree, only

from reconciler.desired.values import (
    ValueFormatError,
    format_date,
    format_datetime,
    parse_address,
    parse_country,
    parse_date,
    parse_utc_datetime,
)
from reconciler.money import AmountError, coupon_amount, format_base_units, to_base_units

EIP55 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


# --- addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(EIP55, id="eip55"),
        pytest.param(EIP55.lower(), id="all-lowercase"),
        pytest.param("0x" + EIP55[2:].upper(), id="all-uppercase"),
    ],
)
def test_address_normalised_to_eip55(written: str) -> None:
    assert parse_address(written) == EIP55


def test_address_wrong_checksum_rejected() -> None:
    mistyped = EIP55[:-1] + "9"  # ...79C9: one digit off, mixed case kept

    with pytest.raises(ValueFormatError) as error:
        parse_address(mistyped)

    assert error.value.message == (
        "has an invalid EIP-55 checksum (its mixed upper and lower case letters do not match)"
    )


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("0x7099", id="too-short"),
        pytest.param(EIP55 + "00", id="too-long"),
        pytest.param("70997970C51812dc3A010C7d01b50e0d17dc79C8", id="no-0x"),
        pytest.param("0x70997970C51812dc3A010C7d01b50e0d17dc79CG", id="not-hex"),
    ],
)
def test_address_shape_rejected(written: str) -> None:
    with pytest.raises(ValueFormatError) as error:
        parse_address(written)

    assert error.value.message == "is not an Ethereum address"


def test_wrong_checksum_reported_at_line(tree: StateTree) -> None:
    allocations = tree.env_dir / "allocations.yaml"
    text = allocations.read_text(encoding="utf-8")
    allocations.write_text(text.replace(EIP55, EIP55[:-1] + "9"), encoding="utf-8")

    errors = [each for each in tree.errors() if each.code == "schema.format"]

    error = only(errors)
    assert error.message == (
        f'allocation ALLOC-0001: investor "{EIP55[:-1]}9" has an invalid EIP-55 checksum '
        "(its mixed upper and lower case letters do not match)"
    )
    assert error.hint == (
        "check the address against its source, because a mistyped character breaks the checksum; "
        "an address written in all lowercase is accepted and normalised"
    )
    assert (error.line, error.column) == (6, 45)


def test_lowercase_investor_matches_eip55_allocation(tree: StateTree) -> None:
    investors = tree.env_dir / "investors.yaml"
    text = investors.read_text(encoding="utf-8")
    investors.write_text(text.replace(EIP55, EIP55.lower()), encoding="utf-8")

    result = tree.read()

    assert result.diagnostics == []
    assert result.state.investors[EIP55].address == EIP55


# --- jurisdictions -----------------------------------------------------------


@pytest.mark.parametrize("code", ["US", "NO", "SG", "GB", "PR"])
def test_country_iso3166_accepted(code: str) -> None:
    assert parse_country(code) == code


@pytest.mark.parametrize("code", ["UK", "XX", "EU"])
def test_country_not_iso3166_rejected(code: str) -> None:
    with pytest.raises(ValueFormatError) as error:
        parse_country(code)

    assert error.value.message == "is not an ISO 3166-1 alpha-2 country code"
    assert error.value.hint == "use the two capital letters of ISO 3166-1, such as US, DE, SG or GB (not UK)"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        pytest.param("XX", "investor {}: jurisdiction XX is not an ISO 3166-1 alpha-2 country code", id="unknown"),
        pytest.param("us", "investor {}: jurisdiction us is invalid", id="lowercase"),
        pytest.param("USA", "investor {}: jurisdiction USA is invalid", id="alpha-3"),
    ],
)
def test_jurisdiction_reported_at_line(tree: StateTree, written: str, message: str) -> None:
    investors = tree.env_dir / "investors.yaml"
    lines = investors.read_text(encoding="utf-8").split("\n")
    index = lines.index(f'  "{EIP55}":') + 4
    assert lines[index] == '    jurisdiction: "US"'
    lines[index] = f"    jurisdiction: {written}"
    investors.write_text("\n".join(lines), encoding="utf-8")

    errors = [each for each in tree.errors() if each.file == tree.file("investors.yaml")]

    error = only(errors)
    assert error.message == message.format(EIP55)
    assert (error.line, error.column) == (index + 1, 19)


# --- amounts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimals", "base_units"),
    [
        pytest.param("1", 18, 10**18, id="one-token"),
        pytest.param("0.000000000000000001", 18, 1, id="smallest-bond-unit"),
        pytest.param("1234567890.123456789012345678", 18, 1_234_567_890_123_456_789_012_345_678, id="18-places"),
        pytest.param("1.000000", 6, 1_000_000, id="one-usdc"),
        pytest.param("0.998500", 6, 998_500, id="price"),
        pytest.param("0.000001", 6, 1, id="smallest-usdc-unit"),
        pytest.param("0", 6, 0, id="zero"),
    ],
)
def test_amount_to_base_units_exact(text: str, decimals: int, base_units: int) -> None:
    assert to_base_units(text, decimals) == base_units


@pytest.mark.parametrize(
    ("text", "decimals", "message"),
    [
        pytest.param("0.0000000000000000001", 18, "has 19 decimal places, but the token has 18", id="19-places"),
        pytest.param("1.0000001", 6, "has 7 decimal places, but the token has 6", id="7-usdc-places"),
        pytest.param("1e3", 18, "is not a decimal number such as 1000 or 1.25", id="exponent"),
        pytest.param("-1", 18, "is not a decimal number such as 1000 or 1.25", id="negative"),
        pytest.param("1,000", 18, "is not a decimal number such as 1000 or 1.25", id="thousands-separator"),
        pytest.param(".5", 18, "is not a decimal number such as 1000 or 1.25", id="no-leading-digit"),
        pytest.param(str(2**256), 0, "is too large to fit in a uint256", id="overflow"),
    ],
)
def test_amount_rejected(text: str, decimals: int, message: str) -> None:
    with pytest.raises(AmountError) as error:
        to_base_units(text, decimals)

    assert str(error.value) == message


@pytest.mark.parametrize(
    ("value", "decimals", "min_places", "text"),
    [
        pytest.param(10**18, 18, 0, "1", id="whole-token"),
        pytest.param(30_000_500_000_000_000_000_000, 18, 0, "30000.5", id="half"),
        pytest.param(1_000_000, 6, 6, "1.000000", id="usdc-full-places"),
        pytest.param(998_500, 6, 6, "0.998500", id="price"),
        pytest.param(1, 18, 0, "0.000000000000000001", id="smallest"),
    ],
)
def test_format_base_units(value: int, decimals: int, min_places: int, text: str) -> None:
    assert format_base_units(value, decimals, min_places=min_places) == text


def test_allocation_amount_places_checked_against_environment(tree: StateTree) -> None:
    allocations = tree.env_dir / "allocations.yaml"
    text = allocations.read_text(encoding="utf-8")
    allocations.write_text(text.replace('amount: "250000"', 'amount: "250000.0000000000000000001"'), encoding="utf-8")

    error = only(tree.errors())

    assert error.message == (
        'allocation ALLOC-0001: amount "250000.0000000000000000001" has 19 decimal places, but the token has 18'
    )
    assert error.hint == "the bond token has 18 decimals: round the value to at most 18 decimal places"
    assert (error.line, error.column, error.code) == (6, 99, "amount.decimals")


def test_price_places_checked_against_usdc(tree: StateTree) -> None:
    allocations = tree.env_dir / "allocations.yaml"
    text = allocations.read_text(encoding="utf-8")
    allocations.write_text(text.replace('price: "0.998500"', 'price: "0.9985001"', 1), encoding="utf-8")

    error = only(tree.errors())

    assert error.message == 'allocation ALLOC-0003: price "0.9985001" has 7 decimal places, but the token has 6'
    assert error.hint == "USDC has 6 decimals: round the value to at most 6 decimal places"
    assert error.line == 8


@pytest.mark.parametrize(
    ("field", "old", "new", "hint"),
    [
        pytest.param(
            "amount",
            'amount: "250000"',
            'amount: "0"',
            "cancel an allocation with status: cancelled instead of a zero amount",
            id="amount",
        ),
        pytest.param(
            "price",
            'price: "1.000000"',
            'price: "0.000000"',
            'write the price in USDC per bond token, such as "1.000000"',
            id="price",
        ),
    ],
)
def test_zero_rejected(tree: StateTree, field: str, old: str, new: str, hint: str) -> None:
    allocations = tree.env_dir / "allocations.yaml"
    text = allocations.read_text(encoding="utf-8")
    allocations.write_text(text.replace(old, new, 1), encoding="utf-8")

    error = only(tree.errors())

    written = new.split(": ")[1]
    assert error.message == f"allocation ALLOC-0001: {field} must be greater than 0, found {written}"
    assert error.hint == hint


@pytest.mark.parametrize(
    ("supply", "face", "rate", "amount"),
    [
        pytest.param(1_000_000 * 10**18, 1_000_000, 125, 12_500 * 10**6, id="one-million-tokens"),
        pytest.param(810_000_500_000_000_000_000_000, 1_000_000, 125, 10_125_006_250, id="sample-supply"),
        pytest.param(1, 1_000_000, 125, 0, id="dust-rounds-down"),
        pytest.param(79_999_999_999_999, 1_000_000, 125, 0, id="just-below-one-unit"),
        pytest.param(80_000_000_000_000, 1_000_000, 125, 1, id="exactly-one-unit"),
    ],
)
def test_coupon_amount_rounds_down(supply: int, face: int, rate: int, amount: int) -> None:
    assert coupon_amount(supply, face, rate) == amount


# --- dates and times ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("1970-01-01", 0, id="epoch"),
        pytest.param("2026-12-15", 1_797_292_800, id="record-date"),
        pytest.param("2028-02-29", 1_835_395_200, id="leap-day"),
    ],
)
def test_date_is_midnight_utc(text: str, seconds: int) -> None:
    assert parse_date(text) == seconds
    assert format_date(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("2027-01-15T00:00:00Z", 1_799_971_200, id="z"),
        pytest.param("2027-01-15T00:00:00+00:00", 1_799_971_200, id="plus-zero"),
        pytest.param("2027-01-15T13:45:10Z", 1_799_971_200 + 13 * 3600 + 45 * 60 + 10, id="afternoon"),
    ],
)
def test_datetime_converted_as_utc(text: str, seconds: int) -> None:
    assert parse_utc_datetime(text) == seconds


def test_datetime_written_in_utc() -> None:
    assert format_datetime(1_799_971_200) == "2027-01-15T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(
            "2025-13-45", "is not a valid date: month must be in 1..12", "check the month and the day", id="month-13"
        ),
        pytest.param(
            "2026-02-30",
            "is not a valid date: day is out of range for month",
            "check the month and the day",
            id="february-30",
        ),
        pytest.param(
            "15.01.2027", "is not a date", 'write the date as YYYY-MM-DD in quotes, such as "2026-12-15"', id="european"
        ),
        pytest.param(
            "20270115",
            "is not a date",
            'write the date as YYYY-MM-DD in quotes, such as "2026-12-15"',
            id="basic-format",
        ),
        pytest.param(
            "1969-12-31",
            "is before 1970-01-01",
            "the chain stores times as Unix seconds from 1970 on",
            id="before-epoch",
        ),
    ],
)
def test_date_rejected(text: str, message: str, hint: str) -> None:
    with pytest.raises(ValueFormatError) as error:
        parse_date(text)

    assert (error.value.message, error.value.hint) == (message, hint)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(
            "2027-01-15T00:00:00+02:00",
            "is not in UTC (offset +02:00)",
            'convert it to UTC and end it with Z, such as "2027-01-14T22:00:00Z"',
            id="offset",
        ),
        pytest.param(
            "2027-01-15T00:00:00",
            "has no time zone",
            'times are in UTC: write "2027-01-15T00:00:00Z" if that is the UTC time',
            id="no-zone",
        ),
        pytest.param(
            "2027-01-15T00:00:00.5Z",
            "has a fraction of a second",
            "times are in whole seconds: remove the fraction",
            id="fraction",
        ),
        pytest.param(
            "2027-01-15T25:00:00Z",
            "is not a valid date-time: hour must be in 0..23",
            "check the date and the time",
            id="hour-25",
        ),
        pytest.param(
            "2027-01-15 00:00:00Z",
            "is not a date-time",
            'write it as YYYY-MM-DDTHH:MM:SSZ in quotes, such as "2027-01-15T00:00:00Z"',
            id="space-separator",
        ),
    ],
)
def test_datetime_rejected(text: str, message: str, hint: str) -> None:
    with pytest.raises(ValueFormatError) as error:
        parse_utc_datetime(text)

    assert (error.value.message, error.value.hint) == (message, hint)


def test_schema_date_format_reported_at_line(tree: StateTree) -> None:
    coupons = tree.env_dir / "coupons.yaml"
    text = coupons.read_text(encoding="utf-8")
    coupons.write_text(text.replace('record_date: "2026-12-15"', 'record_date: "2025-13-45"'), encoding="utf-8")

    error = only(tree.errors())

    assert error.message == 'coupon cycle 1: record_date "2025-13-45" is not a valid date: month must be in 1..12'
    assert (error.line, error.column, error.code) == (5, 56, "schema.format")
