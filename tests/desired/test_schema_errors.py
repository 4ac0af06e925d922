"""Schema validation: one finding per problem, at the key or value a reviewer must change."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from desired_support import StateTree, only

from reconciler.desired.diagnostics import render_json, render_text
from reconciler.desired.schema import SCHEMA_FILES, load_schema, validator_for

INVESTOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def replace_in(tree: StateTree, name: str, old: str, new: str) -> None:
    path = tree.env_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def investor_line(tree: StateTree, address: str = INVESTOR) -> int:
    """Return the 1-based line of ADDRESS's key in the sample investors file."""
    lines = (tree.env_dir / "investors.yaml").read_text(encoding="utf-8").split("\n")
    return lines.index(f'  "{address}":') + 1


# --- the schemas themselves --------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_is_valid_2020_12(kind: str) -> None:
    schema = load_schema(kind)

    validator_for(kind).check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_shared_definitions_identical() -> None:
    # Each schema file is self-contained for editors, so shared definitions are copies.
    definitions: dict[str, dict[str, object]] = {}
    for kind in SCHEMA_FILES:
        for name, definition in load_schema(kind).get("$defs", {}).items():
            if name in ("address", "decimal"):
                definition = {key: value for key, value in definition.items() if key != "examples"}
                assert definitions.setdefault(name, definition) == definition, f"{kind} $defs/{name} differs"
    assert set(definitions) == {"address", "decimal"}


def test_integers_strict() -> None:
    validator = validator_for("CouponCycles")
    cycle = {"period": "2026-Q4", "rate_bps": 125.0, "record_date": "2026-12-15", "payment_date": "2026-12-31"}

    errors = list(validator.iter_errors({"kind": "CouponCycles", "cycles": {"1": cycle}}))

    assert [error.message for error in errors] == ["125.0 is not of type 'integer'"]


def test_format_checker_on() -> None:
    validator = validator_for("Sanctions")
    entry = {"source": "OFAC-SDN", "listed_on": "2025-13-45"}

    errors = list(validator.iter_errors({"kind": "Sanctions", "blocked": {INVESTOR: entry}}))

    assert [error.validator for error in errors] == ["format"]


# --- wording of each kind of schema error ------------------------------------


def test_missing_required_field(tree: StateTree) -> None:
    replace_in(
        tree,
        "investors.yaml",
        f'  "{INVESTOR}":\n    ref: INV-0001\n    kyc: true\n    qib: true\n',
        f'  "{INVESTOR}":\n    ref: INV-0001\n    kyc: true\n',
    )

    error = only(tree.errors())

    assert error.message == f"investor {INVESTOR}: missing required field qib"
    assert error.hint == "add qib: false"
    assert (error.line, error.column, error.code) == (investor_line(tree), 3, "schema.required")


def test_unknown_field_suggests_closest(tree: StateTree) -> None:
    replace_in(
        tree,
        "investors.yaml",
        f'  "{INVESTOR}":\n    ref: INV-0001\n',
        f'  "{INVESTOR}":\n    ref: INV-0001\n    kcy: true\n',
    )

    error = only(tree.errors())

    assert error.message == f"investor {INVESTOR}: unknown field kcy"
    assert error.hint == "did you mean kyc? allowed fields: jurisdiction, kyc, lockup_until, qib, ref"
    assert (error.line, error.column, error.code) == (investor_line(tree) + 2, 5, "schema.unknown-field")


@pytest.mark.parametrize(
    ("old", "new", "message", "hint", "column"),
    [
        pytest.param(
            'partition: "144A"',
            "partition: 144a",
            "allocation ALLOC-0001: partition must be one of 144A, RegS, found 144a",
            "did you mean 144A?",
            27,
            id="partition-case",
        ),
        pytest.param(
            'partition: "144A"',
            "partition: Reg-S",
            "allocation ALLOC-0001: partition must be one of 144A, RegS, found Reg-S",
            "did you mean RegS?",
            27,
            id="partition-close",
        ),
        pytest.param(
            'trade_date: "2026-09-01"}',
            'trade_date: "2026-09-01", status: void}',
            "allocation ALLOC-0001: status must be one of booked, cancelled, settled, found void",
            "write one of booked, cancelled, settled",
            162,
            id="status",
        ),
    ],
)
def test_enum_value(tree: StateTree, old: str, new: str, message: str, hint: str, column: int) -> None:
    replace_in(tree, "allocations.yaml", old, new)

    error = only(tree.errors())

    assert (error.message, error.hint) == (message, hint)
    assert (error.line, error.column, error.code) == (6, column, "schema.enum")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        pytest.param("0", "coupon cycle 1: rate_bps must be at least 1, found 0", id="zero"),
        pytest.param("10001", "coupon cycle 1: rate_bps must be at most 10000, found 10001", id="above-100-percent"),
    ],
)
def test_rate_bounds(tree: StateTree, written: str, message: str) -> None:
    replace_in(
        tree,
        "coupons.yaml",
        'rate_bps: 125, record_date: "2026-12-15"',
        f'rate_bps: {written}, record_date: "2026-12-15"',
    )

    error = only(tree.errors())

    assert (error.message, error.hint) == (message, "use a value from 1 to 10000")
    assert (error.line, error.column, error.code) == (5, 38, "schema.range")


def test_regs_lockup_days_at_least_40(tree: StateTree) -> None:
    replace_in(tree, "environment.yaml", "regs_lockup_days: 40", "regs_lockup_days: 30")

    error = only(tree.errors())

    assert error.message == "policy.regs_lockup_days must be at least 40, found 30"
    assert error.hint == "use a value from 40 to 3660"
    assert error.file == tree.file("environment.yaml")


@pytest.mark.parametrize(
    ("written", "message", "hint"),
    [
        pytest.param(
            '"2027-13-45"',
            'lockup_until "2027-13-45" is not a valid date: month must be in 1..12',
            "check the month and the day",
            id="date-branch",
        ),
        pytest.param(
            '"2027-01-15T00:00:00+01:00"',
            'lockup_until "2027-01-15T00:00:00+01:00" is not in UTC (offset +01:00)',
            'convert it to UTC and end it with Z, such as "2027-01-14T23:00:00Z"',
            id="date-time-branch",
        ),
        pytest.param(
            '"next year"',
            'lockup_until "next year" is not a date-time',
            'write a UTC date-time such as "2027-01-15T00:00:00Z", or a date such as "2027-01-15"',
            id="neither",
        ),
    ],
)
def test_any_of_best_match(tree: StateTree, written: str, message: str, hint: str) -> None:
    address = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
    replace_in(tree, "investors.yaml", 'lockup_until: "2026-10-15T00:00:00Z"', f"lockup_until: {written}")

    errors = [each for each in tree.errors() if each.file == tree.file("investors.yaml")]

    error = only(errors)
    assert error.message == f"investor {address}: {message}"
    assert error.hint == hint
    assert (error.line, error.column, error.code) == (investor_line(tree, address) + 5, 19, "schema.format")


def test_lockup_date_without_time_is_midnight_utc(tree: StateTree) -> None:
    address = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
    replace_in(tree, "investors.yaml", 'lockup_until: "2026-10-15T00:00:00Z"', 'lockup_until: "2026-10-15"')

    result = tree.read()

    assert result.diagnostics == []
    assert result.state.investors[address].lockup_until == 1_792_022_400


@pytest.mark.parametrize(
    ("name", "old", "new", "message", "hint"),
    [
        pytest.param(
            "allocations.yaml",
            "  ALLOC-0001:",
            '  "ALLOC 0001":',
            'allocation "ALLOC 0001" is invalid',
            "an allocation id is 1 to 32 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "such as ALLOC-0001",
            id="allocation-id-space",
        ),
        pytest.param(
            "allocations.yaml",
            "  ALLOC-0001:",
            "  ALLOC-0001-THIS-ID-IS-LONGER-THAN-32:",
            'allocation "ALLOC-0001-THIS-ID-IS-LONGER-THAN-32" is invalid',
            "an allocation id is 1 to 32 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "such as ALLOC-0001",
            id="allocation-id-over-32-bytes",
        ),
        pytest.param(
            "coupons.yaml",
            '  "1":',
            '  "01":',
            'coupon cycle "01" is invalid',
            'a coupon cycle id is a positive whole number without leading zeros, written in quotes, such as "1"',
            id="coupon-id-leading-zero",
        ),
        pytest.param(
            "sanctions.yaml",
            '  "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3":',
            '  "0x417568b76BB9809aBa037e3fdfB5BF38CC5561":',
            'sanctions entry "0x417568b76BB9809aBa037e3fdfB5BF38CC5561" is invalid',
            "an address is 0x followed by 40 hexadecimal digits, written in quotes",
            id="address-key-short",
        ),
    ],
)
def test_invalid_key(tree: StateTree, name: str, old: str, new: str, message: str, hint: str) -> None:
    replace_in(tree, name, old, new)

    errors = [each for each in tree.errors() if each.file == tree.file(name)]

    error = only(errors)
    assert (error.message, error.hint, error.code) == (message, hint, "schema.key")
    assert error.column == 3


def test_environment_float_chain_id(tree: StateTree) -> None:
    replace_in(tree, "environment.yaml", "chain_id: 31337", "chain_id: 31337.0")

    error = only(tree.errors())

    assert error.message == "chain_id must be a whole number, found 31337.0"
    assert error.hint == (
        "write the number in decimal digits only (no plus sign, fraction, underscore or leading zero): chain_id: 31337"
    )
    assert (error.line, error.column) == (7, 11)


def test_environment_from_devnet_up_validates(tree: StateTree) -> None:
    # `jinbi devnet up` writes the environment file; the schema must accept exactly that shape.
    from reconciler.devnet import render_environment

    committed = tree.read().environment
    assert committed is not None
    deployment = SimpleNamespace(
        treasury=committed.treasury,
        xau_usd_feed=committed.price_feeds["XAU/USD"].address,
        usdc_usd_feed=committed.price_feeds["USDC/USD"].address,
        **vars(committed.contracts),
    )
    (tree.env_dir / "environment.yaml").write_text(render_environment(deployment, {}), encoding="utf-8")

    result = tree.read()

    assert result.diagnostics == []
    assert result.environment == committed


# --- file-level problems -----------------------------------------------------


def test_missing_schema_line(tree: StateTree) -> None:
    path = tree.env_dir / "coupons.yaml"
    path.write_text(path.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")

    error = only(tree.errors())

    assert error.message == "first line is not the yaml-language-server schema line"
    assert error.hint == (
        "start the file with # yaml-language-server: $schema=../../schemas/coupons.schema.json so editors validate it"
    )
    assert (error.line, error.column, error.code) == (1, 1, "schema-line")


def test_schema_line_of_other_kind(tree: StateTree) -> None:
    replace_in(tree, "coupons.yaml", "coupons.schema.json", "investors.schema.json")

    error = only(tree.errors())

    assert error.message == (
        "schema line points at ../../schemas/investors.schema.json, but a CouponCycles file is described by "
        "coupons.schema.json"
    )


def test_unknown_kind(tree: StateTree) -> None:
    replace_in(tree, "coupons.yaml", "kind: CouponCycles", "kind: Coupons")

    error = only(tree.errors())

    assert error.message == "unknown kind Coupons"
    assert error.hint == (
        "use one of Environment, Investors, Sanctions, Allocations, CouponCycles, CapTableSnapshots, "
        "CustodyAttestations, Pause, Roles, ForceTransfers"
    )
    assert (error.line, error.column, error.code) == (3, 7, "kind.unknown")


def test_second_file_of_one_kind(tree: StateTree) -> None:
    tree.write("more-investors.yaml", "kind: Investors\ninvestors: {}\n", schema="investors")

    error = only(tree.errors())

    assert error.message == f"kind Investors is already defined in {tree.file('investors.yaml')}"
    assert (error.file, error.line, error.code) == (tree.file("more-investors.yaml"), 2, "kind.duplicate")


def test_missing_environment(tree: StateTree) -> None:
    (tree.env_dir / "environment.yaml").unlink()

    error = only(tree.errors())

    assert error.message == f"no Environment file in {tree.env_dir}"
    assert error.code == "environment.missing"


def test_every_error_reported_sorted(tree: StateTree) -> None:
    replace_in(tree, "coupons.yaml", "rate_bps: 125, record_date", "rate_bps: 0, record_date")
    replace_in(tree, "allocations.yaml", 'partition: "144A"', "partition: 144a")
    replace_in(tree, "investors.yaml", "kyc: true", "kyc: yes")
    replace_in(tree, "environment.yaml", "confirmations: 1", "confirmations: one")

    errors = tree.errors()

    assert [(each.file, each.code) for each in errors] == [
        (tree.file("allocations.yaml"), "schema.enum"),
        (tree.file("coupons.yaml"), "schema.range"),
        (tree.file("environment.yaml"), "schema.type"),
        (tree.file("investors.yaml"), "schema.type"),
    ]
    assert errors == sorted(errors, key=lambda each: (each.file, each.line, each.column))


def test_render_text_and_json(tree: StateTree) -> None:
    replace_in(tree, "investors.yaml", "kyc: true", "kyc: yes")
    result = tree.read()

    text = render_text(result.env_dir, result.diagnostics, result.counts())
    document = json.loads(render_json("devnet", result.env_dir, result.diagnostics, result.counts()))

    error = result.diagnostics[0]
    assert text.split("\n") == [
        f"{error.file}:{error.line}:10: error: {error.message}",
        "    hint: only true and false are booleans here: write kyc: true or kyc: false",
        f"{result.env_dir}: 1 error in 1 file",
    ]
    assert document["valid"] is False
    assert document["errors"] == [
        {
            "file": error.file,
            "line": error.line,
            "column": 10,
            "code": "schema.type",
            "message": error.message,
            "hint": "only true and false are booleans here: write kyc: true or kyc: false",
        }
    ]
