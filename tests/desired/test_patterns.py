"""Schema patterns follow ECMA-262, as JSON Schema specifies: `$` never matches before a final line feed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from desired_support import StateTree, only

from reconciler.desired.patterns import ecma_regex
from reconciler.desired.schema import SCHEMA_FILES, StrictValidator, load_schema

NZ_INVESTOR = "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0"  # the first investor of the sample, lines 7-11
ALLOCATION_1 = (
    '{partition: "144A", investor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", amount: "250000", '
    'price: "1.000000", trade_date: "2026-09-01"}'
)
JURISDICTION_HINT = "a jurisdiction is an ISO 3166-1 alpha-2 code in two capital letters, such as US or SG"


def replace_in(tree: StateTree, name: str, old: str, new: str) -> None:
    path = tree.env_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the regular expressions -------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        pytest.param("^[A-Z]{2}$", "DE", True, id="plain"),
        pytest.param("^[A-Z]{2}$", "DE\n", False, id="final-line-feed"),
        pytest.param("^a$|^b$", "b\n", False, id="alternative"),
        pytest.param("^a(?=$)", "a\n", False, id="lookahead"),
        pytest.param("^[$]$", "$", True, id="dollar-in-class"),
        pytest.param(r"^\$$", "$", True, id="escaped-dollar"),
        pytest.param("^[]$]+$", "]$", True, id="bracket-first-in-class"),
        pytest.param("^[^]$]+$", "ab", True, id="negated-bracket-first-in-class"),
        pytest.param("^a$", "a\nb", False, id="no-multiline"),
    ],
)
def test_ecma_regex_end_of_input(pattern: str, text: str, matches: bool) -> None:
    assert (ecma_regex(pattern).search(text) is not None) is matches


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        pytest.param({"type": "string", "pattern": "^[A-Z]{2}$"}, "DE\n", id="pattern"),
        pytest.param({"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}, {"key\n": 1}, id="propertyNames"),
        pytest.param(
            {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}, "additionalProperties": False},
            {"key\n": 1},
            id="patternProperties-and-additionalProperties",
        ),
        pytest.param(
            {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}},
            {"key": "not an integer"},
            id="patternProperties-still-applied",
        ),
    ],
)
def test_validator_class_rejects_final_line_feed(schema: dict[str, Any], instance: object) -> None:
    assert not StrictValidator(schema).is_valid(instance)


def test_validator_class_accepts_exact_match() -> None:
    schema = {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "integer"}}, "additionalProperties": False}

    assert StrictValidator(schema).is_valid({"key": 1})


def all_patterns(node: object) -> list[str]:
    """Return every `pattern` value and `patternProperties` key of a schema."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append(value)
            if key == "patternProperties" and isinstance(value, dict):
                found.extend(value)
            found.extend(all_patterns(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(all_patterns(item))
    return found


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schemas_use_common_regex_subset(kind: str) -> None:
    # Where Python and ECMA-262 still differ: \d, \w and \s outside ASCII, `.` and a carriage return.
    schema = load_schema(kind)
    patterns = all_patterns(schema)

    assert patterns
    for pattern in patterns:
        assert not re.search(r"\\[dDwWsS]", pattern), pattern
        assert not re.search(r"(?<!\\)\.", re.sub(r"\[[^\]]*\]", "", pattern)), pattern
    assert "unevaluatedProperties" not in str(schema)


# --- the state files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "old", "new", "message", "hint", "position"),
    [
        pytest.param(
            "investors.yaml",
            'jurisdiction: "NZ"',
            'jurisdiction: "DE\\n"',
            f'investor {NZ_INVESTOR}: jurisdiction "DE\\n" is invalid',
            JURISDICTION_HINT,
            (11, 19),
            id="jurisdiction-quoted",
        ),
        pytest.param(
            "investors.yaml",
            'jurisdiction: "NZ"\n',
            "jurisdiction: |\n      NZ\n",
            f'investor {NZ_INVESTOR}: jurisdiction "NZ\\n" is invalid',
            JURISDICTION_HINT,
            (11, 19),
            id="jurisdiction-block-scalar",
        ),
        pytest.param(
            "investors.yaml",
            "ref: INV-0031",
            'ref: "INV-0031\\n"',
            f'investor {NZ_INVESTOR}: ref "INV-0031\\n" is invalid',
            "a ref is 1 to 64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit, such as INV-0001",
            (8, 10),
            id="ref",
        ),
        pytest.param(
            "allocations.yaml",
            f"  ALLOC-0001: {ALLOCATION_1}\n",
            f'  ALLOC-0001: {ALLOCATION_1}\n  "ALLOC-0001\\n": {ALLOCATION_1}\n',
            'allocation "ALLOC-0001\\n" is invalid',
            "an allocation id is 1 to 32 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "such as ALLOC-0001",
            (7, 3),
            id="allocation-id-beside-same-id",
        ),
        pytest.param(
            "allocations.yaml",
            'amount: "250000"',
            'amount: "250000\\n"',
            'allocation ALLOC-0001: amount "250000\\n" is invalid',
            "write a decimal number in quotes, with a dot and without sign, exponent or thousands separators, "
            'such as "1000" or "1.25"',
            (6, 99),
            id="amount",
        ),
        pytest.param(
            "coupons.yaml",
            '"2": {period: "2027-Q1"',
            '"2": {period: "2027-Q1", rate_bps: 125, record_date: "2027-03-15", payment_date: "2027-03-31"}\n'
            '  "2\\n": {period: "2027-Q2"',
            'coupon cycle "2\\n" is invalid',
            'a coupon cycle id is a positive whole number without leading zeros, written in quotes, such as "1"',
            (7, 3),
            id="coupon-id-beside-same-id",
        ),
        pytest.param(
            "coupons.yaml",
            'period: "2026-Q4"',
            'period: "2026-Q4\\n"',
            'coupon cycle 1: period "2026-Q4\\n" is invalid',
            "a period is a year and a quarter, such as 2026-Q4",
            (5, 17),
            id="period",
        ),
        pytest.param(
            "environment.yaml",
            "rpc_url_env: JINBI_RPC_URL",
            'rpc_url_env: "JINBI_RPC_URL\\n"',
            'rpc_url_env "JINBI_RPC_URL\\n" is invalid',
            "write the name of an environment variable in capitals, such as JINBI_RPC_URL",
            (8, 14),
            id="rpc-url-env",
        ),
        pytest.param(
            "environment.yaml",
            "  XAU/USD: {",
            '  "XAU/USD\\n": {',
            'price feed "XAU/USD\\n" is invalid',
            "a feed is named by its pair in capitals, such as XAU/USD",
            (25, 3),
            id="feed-name",
        ),
        pytest.param(
            "environment.yaml",
            'treasury: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"',
            'treasury: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\\n"',
            'treasury "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\\n" is invalid',
            "an address is 0x followed by 40 hexadecimal digits, written in quotes",
            (10, 11),
            id="treasury-address",
        ),
        pytest.param(
            "sanctions.yaml",
            'A3": {source: OFAC-SDN',
            'A3": {source: "OFAC-SDN\\n"',
            'sanctions entry 0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3: source "OFAC-SDN\\n" is invalid',
            "a source is 1 to 64 letters, digits, '.', '_', '/' or '-', such as OFAC-SDN",
            (6, 58),
            id="source",
        ),
    ],
)
def test_final_line_feed_rejected(
    tree: StateTree, name: str, old: str, new: str, message: str, hint: str, position: tuple[int, int]
) -> None:
    replace_in(tree, name, old, new)

    error = only(tree.errors())

    assert error.message == message
    assert error.hint == hint
    assert (error.file, error.line, error.column) == (tree.file(name), *position)
