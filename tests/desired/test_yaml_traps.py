"""YAML's implicit typing: every trap is either kept exactly as written or rejected at its line.

Each rejected spelling has a test asserting the message, hint, line and
column. The right spelling of the same value is a test of its own.
"""

from __future__ import annotations

import pytest
from desired_support import StateTree, only

from reconciler.desired.loader import load_document
from reconciler.desired.schema import schema_for_kind

INVESTOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def investors_file(*, key: str = f'"{INVESTOR}"', **fields: str) -> str:
    """An Investors file with one investor; FIELDS replace the written YAML of ref, kyc, qib, jurisdiction.

    Lines: 1 schema line, 2 kind, 3 investors:, 4 the address, 5 ref, 6 kyc, 7 qib, 8 jurisdiction, 9+ extra.
    """
    values = {"ref": "INV-0001", "kyc": "true", "qib": "true", "jurisdiction": '"US"', **fields}
    body = "".join(f"    {name}: {value}\n" if value != "" else f"    {name}:\n" for name, value in values.items())
    return f"kind: Investors\ninvestors:\n  {key}:\n{body}"


def coupons_file(rate_bps: str, *, key: str = '"1"') -> str:
    """A CouponCycles file with one cycle. Lines: 4 the id, 5 period, 6 rate_bps, 7 record_date, 8 payment_date."""
    return (
        "kind: CouponCycles\n"
        "cycles:\n"
        f"  {key}:\n"
        "    period: 2026-Q4\n"
        f"    rate_bps: {rate_bps}\n"
        "    record_date: 2026-12-15\n"
        "    payment_date: 2026-12-31\n"
    )


@pytest.fixture
def bare(tree: StateTree) -> StateTree:
    """The sample tree with only its environment file, so each test adds the one file it is about."""
    for path in tree.env_dir.iterdir():
        if path.name != "environment.yaml":
            path.unlink()
    return tree


# --- booleans: only true and false -------------------------------------------

ONLY_TRUE_FALSE = "only true and false are booleans here: write kyc: true or kyc: false"


@pytest.mark.parametrize(
    ("written", "expected", "hint"),
    [
        pytest.param("yes", "yes", ONLY_TRUE_FALSE, id="yes"),
        pytest.param("no", "no", ONLY_TRUE_FALSE, id="no"),
        pytest.param("on", "on", ONLY_TRUE_FALSE, id="on"),
        pytest.param("off", "off", ONLY_TRUE_FALSE, id="off"),
        pytest.param("y", "y", ONLY_TRUE_FALSE, id="y"),
        pytest.param("N", "N", ONLY_TRUE_FALSE, id="N"),
        pytest.param("True", "True", ONLY_TRUE_FALSE, id="True-title-case"),
        pytest.param("FALSE", "FALSE", ONLY_TRUE_FALSE, id="FALSE-capitals"),
        pytest.param('"true"', '"true"', "remove the quotes: write kyc: true", id="quoted-true"),
        pytest.param("1", "1", "write kyc: true or kyc: false", id="one"),
    ],
)
def test_boolean_spelling_rejected(bare: StateTree, written: str, expected: str, hint: str) -> None:
    bare.write("investors.yaml", investors_file(kyc=written))

    error = only(bare.errors())

    assert error.message == f"investor {INVESTOR}: kyc must be true or false, found {expected}"
    assert error.hint == hint
    assert (error.file, error.line, error.column) == (bare.file("investors.yaml"), 6, 10)


@pytest.mark.parametrize("written", ["true", "false"])
def test_boolean_true_false_accepted(bare: StateTree, written: str) -> None:
    bare.write("investors.yaml", investors_file(kyc=written))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.investors[INVESTOR].kyc is (written == "true")


# --- country codes that YAML 1.1 reads as booleans ---------------------------


@pytest.mark.parametrize("code", ["NO", "ON", "Y"])
def test_country_code_kept_as_written(bare: StateTree, code: str) -> None:
    # NO is Norway; ON and Y are no countries, so they fail as country codes, never as booleans.
    bare.write("investors.yaml", investors_file(jurisdiction=code))

    result = bare.read()

    if code == "NO":
        assert result.diagnostics == []
        assert result.state.investors[INVESTOR].jurisdiction == "NO"
        return
    error = only(result.diagnostics)
    assert error.message.startswith(f"investor {INVESTOR}: jurisdiction {code} ")
    assert (error.line, error.column) == (8, 19)


# --- integers: decimal digits only -------------------------------------------

DIGITS_ONLY = (
    "write the number in decimal digits only (no plus sign, fraction, underscore or leading zero): rate_bps: {}"
)
GENERIC_INTEGER = "write a whole number in decimal digits, such as rate_bps: 125"


@pytest.mark.parametrize(
    ("written", "expected", "hint"),
    [
        pytest.param("1000.0", "1000.0", DIGITS_ONLY.format(1000), id="float-1000.0"),
        pytest.param("125.5", "125.5", GENERIC_INTEGER, id="fraction"),
        pytest.param("1e3", "1e3", GENERIC_INTEGER, id="exponent"),
        pytest.param("1_000", "1_000", DIGITS_ONLY.format(1000), id="underscore"),
        pytest.param("0125", "0125", DIGITS_ONLY.format(125), id="octal-in-yaml-1.1"),
        pytest.param("0o175", "0o175", GENERIC_INTEGER, id="octal-in-yaml-1.2"),
        pytest.param("0x7d", "0x7d", GENERIC_INTEGER, id="hexadecimal"),
        pytest.param("+125", "+125", DIGITS_ONLY.format(125), id="plus-sign"),
        pytest.param("2:05", "2:05", GENERIC_INTEGER, id="sexagesimal"),
        pytest.param(".inf", ".inf", GENERIC_INTEGER, id="infinity"),
        pytest.param(".nan", ".nan", GENERIC_INTEGER, id="not-a-number"),
        pytest.param('"125"', '"125"', "remove the quotes: write rate_bps: 125", id="quoted"),
    ],
)
def test_integer_spelling_rejected(bare: StateTree, written: str, expected: str, hint: str) -> None:
    bare.write("coupons.yaml", coupons_file(written))

    error = only(bare.errors())

    assert error.message == f"coupon cycle 1: rate_bps must be a whole number, found {expected}"
    assert error.hint == hint
    assert (error.line, error.column) == (6, 15)


def test_integer_decimal_digits_accepted(bare: StateTree) -> None:
    bare.write("coupons.yaml", coupons_file("125"))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.coupon_cycles["1"].rate_bps == 125


# --- null: empty, ~ and null are values no field accepts ---------------------


@pytest.mark.parametrize(
    ("written", "expected", "hint", "column"),
    [
        pytest.param("~", "~", "write a value; quote it if ~ is meant as text", 10, id="tilde"),
        pytest.param("null", "null", "write a value; quote it if null is meant as text", 10, id="null"),
        pytest.param("NULL", "NULL", "write a value; quote it if NULL is meant as text", 10, id="NULL"),
        pytest.param("", "an empty value", "write a value after ref:", 9, id="empty"),
    ],
)
def test_null_rejected(bare: StateTree, written: str, expected: str, hint: str, column: int) -> None:
    bare.write("investors.yaml", investors_file(ref=written))

    error = only(bare.errors())

    assert error.message == f"investor {INVESTOR}: ref must be text, found {expected}"
    assert error.hint == hint
    assert (error.line, error.column) == (5, column)


def test_quoted_null_word_is_text(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file(ref='"null"'))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.investors[INVESTOR].ref == "null"


# --- text fields keep plain scalars exactly as written -----------------------


def test_unquoted_address_key_keeps_leading_zeros(bare: StateTree) -> None:
    # YAML 1.1 reads 0x0000…0abc as the integer 2748.
    bare.write("investors.yaml", investors_file(key="0x0000000000000000000000000000000000000abc"))

    result = bare.read()

    assert result.diagnostics == []
    assert list(result.state.investors) == ["0x0000000000000000000000000000000000000aBc"]


def test_unquoted_address_value_kept(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file())
    bare.write(
        "allocations.yaml",
        "kind: Allocations\nallocations:\n"
        f"  A-1: {{partition: 144A, investor: {INVESTOR.lower()}, amount: 10, price: 1, trade_date: 2026-09-01}}\n",
    )

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.allocations["A-1"].investor == INVESTOR


def test_ref_with_leading_zeros_kept(bare: StateTree) -> None:
    # YAML 1.1 reads 0012 as the octal integer 10.
    bare.write("investors.yaml", investors_file(ref="0012"))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.investors[INVESTOR].ref == "0012"


def test_unquoted_datetime_kept_and_converted_as_utc(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file(lockup_until="2027-01-15T00:00:00Z"))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.investors[INVESTOR].lockup_until == 1_799_971_200


def test_unquoted_dates_and_period_kept(bare: StateTree) -> None:
    bare.write("coupons.yaml", coupons_file("125"))

    cycle = bare.read().state.coupon_cycles["1"]

    assert (cycle.period, cycle.record_date, cycle.payment_date) == ("2026-Q4", 1_797_292_800, 1_798_675_200)


def test_unquoted_amount_exact(bare: StateTree) -> None:
    # As a float, 1234567890.123456789 would be 1234567890.1234567.
    bare.write("investors.yaml", investors_file())
    bare.write(
        "allocations.yaml",
        "kind: Allocations\nallocations:\n"
        f"  A-1: {{partition: 144A, investor: {INVESTOR}, amount: 1234567890.123456789, price: 1.10, "
        "trade_date: 2026-09-01}\n",
    )

    allocation = bare.read().state.allocations["A-1"]

    assert allocation.amount == 1_234_567_890_123_456_789_000_000_000
    assert allocation.price == 1_100_000


def test_unquoted_coupon_id_is_text(bare: StateTree) -> None:
    bare.write("coupons.yaml", coupons_file("125", key="1"))

    result = bare.read()

    assert result.diagnostics == []
    assert list(result.state.coupon_cycles) == ["1"]


def test_unquoted_partition_kept(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file())
    bare.write(
        "allocations.yaml",
        "kind: Allocations\nallocations:\n"
        f"  A-1: {{partition: 144A, investor: {INVESTOR}, amount: 10, price: 1, trade_date: 2026-09-01}}\n",
    )

    assert bare.read().state.allocations["A-1"].partition.value == "144A"


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("NO", id="NO-is-false-in-yaml-1.1"),
        pytest.param("yes", id="yes-is-true-in-yaml-1.1"),
        pytest.param("Off", id="Off-is-false-in-yaml-1.1"),
        pytest.param("y", id="y-is-true-in-yaml-1.1"),
        pytest.param("2026-03-15", id="date"),
        pytest.param("0x00ff", id="hexadecimal-with-leading-zeros"),
        pytest.param("0012", id="octal-in-yaml-1.1"),
        pytest.param("0o17", id="octal-in-yaml-1.2"),
        pytest.param("1e3", id="float-exponent"),
        pytest.param("1_000", id="underscore-integer"),
        pytest.param("1.50", id="float-trailing-zero"),
    ],
)
def test_plain_text_kept_exactly(bare: StateTree, written: str) -> None:
    # ref is a text field, so every one of these YAML 1.1 readings is refused in favour of the text as written.
    path = bare.write("investors.yaml", investors_file(ref=written))

    result = bare.read()
    loaded = load_document(path, str(path), schema_for_kind).data

    assert result.diagnostics == []
    assert loaded["investors"][INVESTOR]["ref"] == written
    assert result.state.investors[INVESTOR].ref == written


def test_country_code_no_kept_in_loader(bare: StateTree) -> None:
    path = bare.write("investors.yaml", investors_file(jurisdiction="NO"))

    loaded = load_document(path, str(path), schema_for_kind).data

    assert loaded["investors"][INVESTOR]["jurisdiction"] == "NO"
    assert bare.read().state.investors[INVESTOR].jurisdiction == "NO"


def test_unquoted_address_key_keeps_every_digit(bare: StateTree) -> None:
    # YAML 1.1 reads 0x000000000000000000000000000000000000dead as the integer 57005.
    written = "0x000000000000000000000000000000000000dead"
    body = f"kind: Sanctions\nblocked:\n  {written}: {{source: OFAC-SDN, listed_on: 2024-09-27}}\n"
    path = bare.write("sanctions.yaml", body)

    loaded = load_document(path, str(path), schema_for_kind).data
    result = bare.read()

    assert list(loaded["blocked"]) == [written]
    assert result.diagnostics == []
    assert list(result.state.sanctions) == ["0x000000000000000000000000000000000000dEaD"]


def test_unquoted_timestamp_kept_as_text_in_loader(bare: StateTree) -> None:
    path = bare.write("investors.yaml", investors_file(lockup_until="2027-01-15T00:00:00Z"))

    loaded = load_document(path, str(path), schema_for_kind).data

    assert loaded["investors"][INVESTOR]["lockup_until"] == "2027-01-15T00:00:00Z"


def test_unquoted_dates_kept_as_text_in_loader(bare: StateTree) -> None:
    path = bare.write("coupons.yaml", coupons_file("125"))

    cycle = load_document(path, str(path), schema_for_kind).data["cycles"]["1"]

    assert (cycle["period"], cycle["record_date"], cycle["payment_date"]) == ("2026-Q4", "2026-12-15", "2026-12-31")
    assert cycle["rate_bps"] == 125


# --- duplicate keys ----------------------------------------------------------


def test_duplicate_field_names_both_lines(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file() + "    kyc: false\n")

    error = only(bare.errors())

    assert error.message == "duplicate key kyc: first on line 6, again on line 9"
    assert error.hint == "remove one of the two entries; plain YAML would silently keep only the last one"
    assert (error.line, error.column, error.code) == (9, 5, "yaml.duplicate-key")


def test_duplicate_entry_keeps_first(bare: StateTree) -> None:
    body = (
        investors_file()
        + f'  "{INVESTOR}":\n    ref: INV-0002\n    kyc: false\n    qib: false\n    jurisdiction: "DE"\n'
    )
    bare.write("investors.yaml", body)

    result = bare.read()

    error = only(result.diagnostics)
    assert error.message == f"duplicate key {INVESTOR}: first on line 4, again on line 9"
    assert result.state.investors[INVESTOR].ref == "INV-0001"


def test_two_spellings_of_one_address_are_duplicates(bare: StateTree) -> None:
    body = (
        investors_file()
        + f'  "{INVESTOR.lower()}":\n    ref: INV-0002\n    kyc: true\n    qib: true\n    jurisdiction: "US"\n'
    )
    bare.write("investors.yaml", body)

    error = only(bare.errors())

    assert error.message == f"investor {INVESTOR.lower()} is the same address as {INVESTOR} on line 4"
    assert error.hint == "keep one entry per address: addresses that differ only in letter case are the same address"
    assert (error.line, error.column, error.code) == (9, 3, "duplicate-address")


# --- YAML features that hide what a value is ---------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message", "line", "column"),
    [
        pytest.param(
            "kind: Investors\ninvestors:\n  base: &base {ref: INV-0001}\n  x: *base\n",
            "yaml.alias",
            "YAML alias *base is not supported",
            5,
            6,
            id="alias",
        ),
        pytest.param(
            f'kind: Investors\ninvestors:\n  "{INVESTOR}":\n    <<: {{kyc: true}}\n',
            "yaml.merge-key",
            "YAML merge keys (<<) are not supported",
            5,
            5,
            id="merge-key",
        ),
        pytest.param(
            f'kind: Investors\ninvestors:\n  "{INVESTOR}":\n    ref: !!int 12\n',
            "yaml.tag",
            "explicit YAML tag !!int is not supported",
            5,
            10,
            id="tag-int",
        ),
        pytest.param(
            f'kind: Investors\ninvestors:\n  "{INVESTOR}":\n    ref: !!binary aGk=\n',
            "yaml.tag",
            "explicit YAML tag !!binary is not supported",
            5,
            10,
            id="tag-binary",
        ),
        pytest.param(
            f'kind: Investors\ninvestors:\n  "{INVESTOR}": !!python/object {{ref: x}}\n',
            "yaml.tag",
            "explicit YAML tag !!python/object is not supported",
            4,
            49,
            id="tag-python-object",
        ),
        pytest.param(
            "kind: Investors\ninvestors:\n  ? [a, b]\n  : 1\n",
            "yaml.complex-key",
            "a mapping key must be text, found a list or a mapping",
            4,
            5,
            id="complex-key",
        ),
        pytest.param(
            "kind: Investors\ninvestors: {}\n---\nkind: Investors\n",
            "yaml.multiple-documents",
            "file holds more than one YAML document",
            4,
            1,
            id="two-documents",
        ),
        pytest.param(
            "kind: Investors\ninvestors:\n\t{}\n",
            "yaml.syntax",
            "invalid YAML: found character that cannot start any token (while scanning for the next token)",
            4,
            1,
            id="tab-indentation",
        ),
    ],
)
def test_yaml_feature_rejected(bare: StateTree, body: str, code: str, message: str, line: int, column: int) -> None:
    bare.write("investors.yaml", body)

    errors = [each for each in bare.errors() if each.code == code]

    error = only(errors)
    assert error.message == message
    assert (error.line, error.column) == (line, column)


def test_str_tag_accepted(bare: StateTree) -> None:
    bare.write("investors.yaml", investors_file(ref="!!str 0012"))

    result = bare.read()

    assert result.diagnostics == []
    assert result.state.investors[INVESTOR].ref == "0012"


def test_empty_file_rejected(bare: StateTree) -> None:
    (bare.env_dir / "investors.yaml").write_text("", encoding="utf-8")

    error = only(bare.errors())

    assert (error.message, error.line, error.column) == ("file is empty", 1, 1)


def test_non_utf8_file_rejected(bare: StateTree) -> None:
    (bare.env_dir / "investors.yaml").write_bytes(b"kind: Investors\ninvestors: {\xff}\n")

    error = only(bare.errors())

    assert error.message == "file is not valid UTF-8 (invalid start byte)"
    assert error.hint == "save it as UTF-8"
