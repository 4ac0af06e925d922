"""The packed investor word of `ComplianceRegistry.setInvestors`, in Python.

One uint256 carries one investor, so a batch costs one calldata word per
investor. The same word is the data of the registry's `InvestorSet` event.
Bit layout (bit 0 is the least significant):

    bits   0-159  investor address
    bits 160-167  flags: bit 160 kyc, bit 161 qib, bits 162-167 zero
    bits 168-183  jurisdiction, ISO 3166-1 alpha-2 as two ASCII bytes, first
                  letter in bits 176-183 ("US" is 0x5553); 0 for none
    bits 184-247  lockup_until, Unix seconds (uint64); 0 for no lockup
    bits 248-255  zero

The registry reverts on words that break these rules, and so do these
functions. Whether a code is an assigned ISO 3166 country is checked when the
desired state is loaded, not here: the contract accepts any two letters A-Z.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import is_address, to_checksum_address

ADDRESS_BITS = 160
KYC_BIT = 160
QIB_BIT = 161
RESERVED_FLAGS_SHIFT = 162
JURISDICTION_SHIFT = 168
LOCKUP_SHIFT = 184
RESERVED_HIGH_SHIFT = 248

ADDRESS_MASK = (1 << ADDRESS_BITS) - 1
MAX_LOCKUP_UNTIL = (1 << 64) - 1


@dataclass(frozen=True)
class PackedInvestor:
    """One investor's registry record as carried by a packed word."""

    address: str  # EIP-55 checksummed
    kyc: bool
    qib: bool
    jurisdiction: str | None  # two uppercase letters, or None
    lockup_until: int  # Unix seconds, 0 for no lockup


def jurisdiction_to_int(code: str | None) -> int:
    """Return the 16-bit value of a jurisdiction code ("US" -> 0x5553, None -> 0)."""
    if code is None:
        return 0
    if len(code) != 2 or not all("A" <= letter <= "Z" for letter in code):
        raise ValueError(f"invalid jurisdiction {code!r}: expected two uppercase letters A-Z, such as 'US'")
    return (ord(code[0]) << 8) | ord(code[1])


def jurisdiction_from_int(value: int) -> str | None:
    """Return the jurisdiction code of a 16-bit value (0 -> None), the reverse of `jurisdiction_to_int`."""
    if value == 0:
        return None
    code = chr(value >> 8) + chr(value & 0xFF)
    jurisdiction_to_int(code)  # raises on anything but two letters A-Z
    return code


def pack_investor(investor: PackedInvestor) -> int:
    """Return the packed word of INVESTOR, or raise ValueError on a value the registry would reject."""
    if not is_address(investor.address):
        raise ValueError(f"invalid investor address {investor.address!r}")
    address = int(investor.address, 16)
    if address == 0:
        raise ValueError("invalid investor address: the zero address")
    if not 0 <= investor.lockup_until <= MAX_LOCKUP_UNTIL:
        raise ValueError(f"invalid lockup_until {investor.lockup_until}: expected 0 to {MAX_LOCKUP_UNTIL}")
    return (
        address
        | (int(investor.kyc) << KYC_BIT)
        | (int(investor.qib) << QIB_BIT)
        | (jurisdiction_to_int(investor.jurisdiction) << JURISDICTION_SHIFT)
        | (investor.lockup_until << LOCKUP_SHIFT)
    )


def unpack_investor(word: int) -> PackedInvestor:
    """Return the investor that WORD carries, or raise ValueError on a word the registry would reject."""
    if not 0 <= word < 1 << 256:
        raise ValueError(f"invalid packed investor word {word}: not a uint256")
    if (word >> RESERVED_FLAGS_SHIFT) & 0x3F or word >> RESERVED_HIGH_SHIFT:
        raise ValueError(f"invalid packed investor word {word:#066x}: reserved bits are set")
    address = word & ADDRESS_MASK
    if address == 0:
        raise ValueError(f"invalid packed investor word {word:#066x}: zero address")
    return PackedInvestor(
        address=to_checksum_address(address.to_bytes(20, "big")),
        kyc=bool((word >> KYC_BIT) & 1),
        qib=bool((word >> QIB_BIT) & 1),
        jurisdiction=jurisdiction_from_int((word >> JURISDICTION_SHIFT) & 0xFFFF),
        lockup_until=(word >> LOCKUP_SHIFT) & MAX_LOCKUP_UNTIL,
    )
