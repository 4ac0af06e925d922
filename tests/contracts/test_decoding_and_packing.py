"""decode_revert over every artifact's errors, and the packed investor word in Python."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from hypothesis import example, given
from hypothesis import strategies as st
from web3 import Web3

from reconciler.chain.errors import decode_revert
from reconciler.chain.packing import PackedInvestor, pack_investor, unpack_investor

QIB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PARTITION_144A = b"144A".ljust(32, b"\0")


def selector(signature: str) -> bytes:
    return bytes(Web3.keccak(text=signature))[:4]


# --- decode_revert -----------------------------------------------------------


def test_decodes_custom_error_with_args() -> None:
    data = selector("TransferNotAllowed(bytes32,address,address,uint8)") + encode(
        ["bytes32", "address", "address", "uint8"], [PARTITION_144A, QIB.lower(), QIB, 9]
    )

    error = decode_revert(data)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, QIB, QIB, 9)
    assert error.signature == "TransferNotAllowed(bytes32,address,address,uint8)"


def test_decodes_hex_string_input() -> None:
    data = "0x" + (selector("OrderAlreadyExecuted(bytes32)") + encode(["bytes32"], [b"ORDER-1"])).hex()

    error = decode_revert(data)

    assert error.name == "OrderAlreadyExecuted"
    assert error.args == (b"ORDER-1".ljust(32, b"\0"),)


def test_decodes_openzeppelin_error_from_artifact() -> None:
    data = selector("AccessControlUnauthorizedAccount(address,bytes32)") + encode(
        ["address", "bytes32"], [QIB, bytes(32)]
    )

    assert decode_revert(data).name == "AccessControlUnauthorizedAccount"


def test_decodes_revert_string() -> None:
    data = selector("Error(string)") + encode(["string"], ["insufficient funds"])

    error = decode_revert(data)

    assert (error.name, error.args) == ("Error", ("insufficient funds",))


def test_decodes_panic() -> None:
    data = selector("Panic(uint256)") + encode(["uint256"], [0x11])

    error = decode_revert(data)

    assert (error.name, error.args) == ("Panic", (0x11,))


def test_empty_data_has_no_name() -> None:
    error = decode_revert(b"")

    assert (error.name, error.args) == ("", ())
    assert str(error) == "reverted without data"


def test_unknown_selector_keeps_raw_payload() -> None:
    error = decode_revert(bytes.fromhex("deadbeef") + b"\x01")

    assert error.name == ""
    assert error.signature == "unknown"
    assert error.args == ("0xdeadbeef", b"\x01")
    assert str(error) == "unknown error 0xdeadbeef"


def test_truncated_arguments_raise_value_error() -> None:
    data = selector("OrderAlreadyExecuted(bytes32)") + b"\x01\x02"

    with pytest.raises(ValueError, match="revert data of OrderAlreadyExecuted does not decode"):
        decode_revert(data)


def test_str_names_arguments_and_shows_ascii_ids() -> None:
    data = selector("TransferNotAllowed(bytes32,address,address,uint8)") + encode(
        ["bytes32", "address", "address", "uint8"], [PARTITION_144A, QIB, QIB, 9]
    )

    assert str(decode_revert(data)) == f"TransferNotAllowed(partition='144A', from={QIB}, to={QIB}, reason=9)"


def test_decodes_operator_not_allowed() -> None:
    data = selector("OperatorNotAllowed(address,address,uint8)") + encode(
        ["address", "address", "uint8"], [QIB, QIB, 10]
    )

    error = decode_revert(data)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (QIB, QIB, 10)
    assert str(error) == f"OperatorNotAllowed(operator={QIB}, holder={QIB}, reason=10)"


# --- packed investor word ----------------------------------------------------


def test_pack_layout_matches_registry_format() -> None:
    word = pack_investor(PackedInvestor(QIB, kyc=True, qib=True, jurisdiction="US", lockup_until=0x1234))

    assert word & ((1 << 160) - 1) == int(QIB, 16)
    assert (word >> 160) & 0xFF == 0b11
    assert (word >> 168) & 0xFFFF == 0x5553
    assert word >> 184 == 0x1234


addresses = st.integers(min_value=1, max_value=(1 << 160) - 1).map(
    lambda value: Web3.to_checksum_address(value.to_bytes(20, "big"))
)
jurisdictions = st.none() | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@given(
    address=addresses,
    kyc=st.booleans(),
    qib=st.booleans(),
    jurisdiction=jurisdictions,
    lockup_until=st.integers(min_value=0, max_value=2**64 - 1),
)
@example(address=QIB, kyc=False, qib=False, jurisdiction=None, lockup_until=0)
@example(address=QIB, kyc=True, qib=True, jurisdiction="ZZ", lockup_until=2**64 - 1)
def test_unpack_reverses_pack(address: str, kyc: bool, qib: bool, jurisdiction: str | None, lockup_until: int) -> None:
    investor = PackedInvestor(address, kyc, qib, jurisdiction, lockup_until)

    word = pack_investor(investor)

    assert unpack_investor(word) == investor
    assert word >> 248 == 0


@pytest.mark.parametrize("code", ["us", "U", "USA", "U1", ""])
def test_pack_rejects_invalid_jurisdiction(code: str) -> None:
    with pytest.raises(ValueError, match="invalid jurisdiction"):
        pack_investor(PackedInvestor(QIB, True, True, code, 0))


@pytest.mark.parametrize("lockup_until", [-1, 2**64])
def test_pack_rejects_lockup_out_of_range(lockup_until: int) -> None:
    with pytest.raises(ValueError, match="invalid lockup_until"):
        pack_investor(PackedInvestor(QIB, True, True, "US", lockup_until))


@pytest.mark.parametrize("address", ["0x" + "00" * 20, "0x1234", "not an address"])
def test_pack_rejects_invalid_address(address: str) -> None:
    with pytest.raises(ValueError, match="invalid investor address"):
        pack_investor(PackedInvestor(address, True, True, "US", 0))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(1 << 162, "reserved bits are set", id="flag-bit-2"),
        pytest.param(1 << 250, "reserved bits are set", id="high-byte"),
    ],
)
def test_unpack_rejects_reserved_bits(extra: int, message: str) -> None:
    word = pack_investor(PackedInvestor(QIB, True, True, "US", 0)) | extra

    with pytest.raises(ValueError, match=message):
        unpack_investor(word)


def test_unpack_rejects_zero_address() -> None:
    with pytest.raises(ValueError, match="zero address"):
        unpack_investor(1 << 160)


def test_unpack_rejects_non_letter_jurisdiction() -> None:
    word = int(QIB, 16) | (int.from_bytes(b"u1", "big") << 168)

    with pytest.raises(ValueError, match="invalid jurisdiction"):
        unpack_investor(word)
