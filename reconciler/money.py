"""Exact conversions between decimal strings and token base units, and the coupon rule.

Only integers and strings are used, so no amount ever passes through a float.
"""

from __future__ import annotations

import re

BOND_DECIMALS = 18
USDC_DECIMALS = 6
BASIS_POINTS = 10_000
MAX_UINT256 = 2**256 - 1

# A non-negative decimal number with an optional fraction: "1000", "0.5", "1.000000".
DECIMAL_PATTERN = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)


class AmountError(ValueError):
    """A decimal string that cannot be converted to base units."""


class AmountTooLargeError(AmountError):
    """A decimal string whose value in base units does not fit in a uint256."""


def to_base_units(text: str, decimals: int) -> int:
    """Convert a decimal string such as "1.25" to integer base units of a token with DECIMALS.

    Raises AmountError when the text is not a plain decimal number, has more
    fraction digits than the token has decimals, or does not fit in a uint256.
    """
    if not _DECIMAL_RE.fullmatch(text):
        raise AmountError("is not a decimal number such as 1000 or 1.25")
    whole, _, fraction = text.partition(".")
    if len(fraction) > decimals:
        raise AmountError(f"has {len(fraction)} decimal places, but the token has {decimals}")
    scale: int = 10**decimals
    value = int(whole) * scale + int(fraction.ljust(decimals, "0") or "0")
    if value > MAX_UINT256:
        raise AmountTooLargeError("is too large to fit in a uint256")
    return value


def format_base_units(value: int, decimals: int, *, min_places: int = 0) -> str:
    """Write integer base units as a decimal string, with at least MIN_PLACES fraction digits.

    Trailing zeros beyond MIN_PLACES are dropped, so format_base_units(10**18, 18)
    is "1" and format_base_units(10**6, 6, min_places=6) is "1.000000".
    """
    if value < 0:
        raise ValueError(f"negative amount {value}")
    scale: int = 10**decimals
    whole, fraction = divmod(value, scale)
    digits = str(fraction).rjust(decimals, "0") if decimals else ""
    digits = digits.rstrip("0")
    if len(digits) < min_places:
        digits = digits.ljust(min_places, "0")
    return f"{whole}.{digits}" if digits else str(whole)


def coupon_amount(
    outstanding_supply: int,
    face_value_usdc: int,
    rate_bps: int,
    *,
    bond_decimals: int = BOND_DECIMALS,
) -> int:
    """Return a coupon cycle's amount in USDC base units, rounded down.

    OUTSTANDING_SUPPLY is in bond base units, FACE_VALUE_USDC in USDC base
    units per whole bond token and RATE_BPS in basis points of face value for
    the period. Rounding down means the issuer never pays more than the rate.
    """
    one_token: int = 10**bond_decimals
    return outstanding_supply * face_value_usdc * rate_bps // (one_token * BASIS_POINTS)
