"""Parsers and writers for the value types of the desired state.

Each parser takes the text as written in YAML and returns the model value, or
raises `ValueFormatError` with a message that completes the sentence
"<field> <value> ..." and a hint. The schema layer registers the parsers as
JSON Schema format checkers, so the same code validates and converts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pycountry
from eth_utils.address import to_checksum_address
from multiformats import CID

from reconciler.model import SECONDS_PER_DAY

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
_ADDRESS_RE = re.compile(ADDRESS_PATTERN)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ValueFormatError(ValueError):
    """A value with the right type but invalid content.

    `shape_matched` is true when the text has the general form of the value
    type (four-two-two digits for a date) but its content is wrong (month 13),
    which makes this error the better explanation among alternatives.
    """

    def __init__(self, message: str, hint: str, *, shape_matched: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.shape_matched = shape_matched


# --- addresses ---------------------------------------------------------------

_checksummed: dict[str, str] = {}


def parse_address(text: str) -> str:
    """Return the EIP-55 form of an address written in all lowercase, all uppercase or EIP-55.

    Mixed case is a checksum: it must match, so a mistyped character is caught
    instead of silently naming another address.
    """
    cached = _checksummed.get(text)
    if cached is not None:
        return cached
    if not _ADDRESS_RE.fullmatch(text):
        raise ValueFormatError(
            "is not an Ethereum address",
            "write 0x followed by 40 hexadecimal digits, in quotes",
            shape_matched=False,
        )
    digits = text[2:]
    checksummed: str = to_checksum_address(text)
    if digits != digits.lower() and digits != digits.upper() and checksummed != text:
        raise ValueFormatError(
            "has an invalid EIP-55 checksum (its mixed upper and lower case letters do not match)",
            "check the address against its source, because a mistyped character breaks the checksum; "
            "an address written in all lowercase is accepted and normalised",
        )
    _checksummed[text] = checksummed
    return checksummed


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def parse_account_address(text: str) -> str:
    """Parse an address as `parse_address` does, and reject the zero address.

    Every address in the state files names an account or a contract, and every
    JINBI contract rejects the zero address as an investor, a blocked address
    or the treasury.
    """
    address = parse_address(text)
    if address == ZERO_ADDRESS:
        raise ValueFormatError(
            "is the zero address, which the JINBI contracts reject",
            "check the address against its source: 0x followed by 40 zeros is no one's account",
        )
    return address


# --- jurisdictions -----------------------------------------------------------


def parse_country(text: str) -> str:
    """Return TEXT when it is an ISO 3166-1 alpha-2 code known to pycountry."""
    if pycountry.countries.get(alpha_2=text) is None:
        raise ValueFormatError(
            "is not an ISO 3166-1 alpha-2 country code",
            "use the two capital letters of ISO 3166-1, such as US, DE, SG or GB (not UK)",
        )
    return text


# --- IPFS content identifiers ------------------------------------------------

# The limit bounds the stored string and with it the gas of a record. A CIDv1
# of a SHA-512 digest in base32 has 110 characters.
MAX_CID_LENGTH = 128
_CID_HINT = (
    "write the CID that IPFS returned for the uploaded document, such as "
    '"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG" (version 0) or "bafy…" or "bafk…" (version 1)'
)


def parse_cid(text: str) -> str:
    """Return TEXT when it decodes as an IPFS CID of version 0 or 1 (multiformats' `CID.decode`).

    The text is kept as written, because the contracts store it as a string.
    """
    if len(text) > MAX_CID_LENGTH:
        raise ValueFormatError(
            f"is not an IPFS CID: it has {len(text)} characters, more than {MAX_CID_LENGTH}", _CID_HINT
        )
    try:
        cid = CID.decode(text)
    except (ValueError, KeyError, IndexError):
        # multiformats 0.3 raises KeyError subclasses for an unknown multibase
        # prefix or codec, ValueError subclasses for invalid digits or lengths,
        # and IndexError for a multibase prefix with nothing after it.
        raise ValueFormatError("is not an IPFS CID (version 0 or 1)", _CID_HINT, shape_matched=False) from None
    if cid.hashfun.name == "identity":
        raise ValueFormatError(
            "is an identity CID: it carries its content inline instead of a hash of a document, so it proves nothing",
            _CID_HINT,
        )
    return text


def cid_multihash(text: str) -> bytes:
    """Return the multihash of CID TEXT, the same for every version and base that names the same content."""
    return bytes(CID.decode(text).digest)


# --- dates and times ---------------------------------------------------------


def parse_date(text: str) -> int:
    """Return the Unix seconds of 00:00:00 UTC on the ISO 8601 calendar date TEXT (YYYY-MM-DD)."""
    if not _DATE_RE.fullmatch(text):
        raise ValueFormatError(
            "is not a date",
            'write the date as YYYY-MM-DD in quotes, such as "2026-12-15"',
            shape_matched=False,
        )
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise ValueFormatError(f"is not a valid date: {error}", "check the month and the day") from None
    return _seconds(datetime(day.year, day.month, day.day, tzinfo=UTC), text)


def parse_utc_datetime(text: str) -> int:
    """Return the Unix seconds of an ISO 8601 date-time in UTC, such as 2027-01-15T00:00:00Z.

    The offset must be Z or +00:00, so the value never depends on a time zone,
    and the time is in whole seconds, the chain's unit.
    """
    match = _DATE_TIME_RE.fullmatch(text)
    if match is None:
        raise ValueFormatError(
            "is not a date-time",
            'write it as YYYY-MM-DDTHH:MM:SSZ in quotes, such as "2027-01-15T00:00:00Z"',
            shape_matched=False,
        )
    day_text, hour, minute, second, fraction, offset = match.groups()
    if offset is None:
        raise ValueFormatError(
            "has no time zone",
            f'times are in UTC: write "{text}Z" if that is the UTC time',
        )
    if offset not in ("Z", "+00:00"):
        raise ValueFormatError(
            f"is not in UTC (offset {offset})",
            f'convert it to UTC and end it with Z, such as "{_utc_equivalent(text)}"',
        )
    if fraction is not None:
        raise ValueFormatError("has a fraction of a second", "times are in whole seconds: remove the fraction")
    try:
        day = date.fromisoformat(day_text)
        moment = datetime(day.year, day.month, day.day, int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as error:
        raise ValueFormatError(f"is not a valid date-time: {error}", "check the date and the time") from None
    return _seconds(moment, text)


def parse_date_or_datetime(text: str) -> int:
    """Parse a UTC date-time, or a date meaning 00:00:00 UTC on that day."""
    if _DATE_RE.fullmatch(text):
        return parse_date(text)
    return parse_utc_datetime(text)


def _seconds(moment: datetime, text: str) -> int:
    if moment < _EPOCH:
        raise ValueFormatError("is before 1970-01-01", "the chain stores times as Unix seconds from 1970 on")
    return (moment - _EPOCH) // timedelta(seconds=1)


def _utc_equivalent(text: str) -> str:
    # Only used in hints: the same instant written in UTC, when Python can read the text.
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return "2027-01-15T00:00:00Z"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_date(seconds: int) -> str:
    """Write Unix SECONDS at 00:00:00 UTC as YYYY-MM-DD; raise ValueError for any other time of day."""
    if seconds % SECONDS_PER_DAY:
        raise ValueError(f"{seconds} is not at 00:00:00 UTC, so it cannot be written as a date")
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d")


def format_datetime(seconds: int) -> str:
    """Write Unix SECONDS as an ISO 8601 date-time in UTC, such as 2027-01-15T00:00:00Z.

    A value outside the years 1 to 9999, which a chain may return as any
    uint256, is written plainly as "Unix time N, out of range" instead.
    """
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return f"Unix time {seconds}, out of range"
    # isoformat pads the year to four digits, which strftime's %Y does not do on every platform.
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
