"""The signer from JINBI_PRIVATE_KEY or an encrypted keystore, and errors that never echo a secret."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from eth_account import Account
from execution_support import KEY_SPELLINGS

from reconciler.devnet import DEV_PRIVATE_KEY
from reconciler.errors import SignerError
from reconciler.execution import load_signer

DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    # pbkdf2 with few iterations keeps the test fast; the default scrypt takes about a second.
    path = tmp_path / "signer.json"
    path.write_text(json.dumps(Account.encrypt(DEV_PRIVATE_KEY, PASSWORD, kdf="pbkdf2", iterations=1000)))
    return path


def assert_no_secret(text: str) -> None:
    for spelling in (*KEY_SPELLINGS, PASSWORD):
        assert spelling not in text


@pytest.mark.parametrize(
    "key",
    [DEV_PRIVATE_KEY, DEV_PRIVATE_KEY.removeprefix("0x"), f"  {DEV_PRIVATE_KEY}\n"],
    ids=["with-0x", "without-0x", "surrounding-space"],
)
def test_key_from_environment(key: str) -> None:
    assert load_signer({"JINBI_PRIVATE_KEY": key}).address == DEV_ADDRESS


def test_key_from_keystore(keystore: Path) -> None:
    signer = load_signer({"JINBI_KEYSTORE": str(keystore), "JINBI_KEYSTORE_PASSWORD": PASSWORD})

    assert signer.address == DEV_ADDRESS


def test_repr_shows_only_address() -> None:
    signer = load_signer({"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY})

    assert repr(signer) == f"Signer(address={DEV_ADDRESS})"
    assert str(signer) == repr(signer)


def test_pickling_rejected() -> None:
    signer = load_signer({"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY})

    with pytest.raises(TypeError, match="cannot be pickled, because it contains a private key"):
        pickle.dumps(signer)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "no signer configured: the signing key is missing"),
        (
            {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY[:-1]},
            "JINBI_PRIVATE_KEY is not a valid private key: "
            "expected 64 hex digits with or without 0x, found 63 characters",
        ),
        (
            {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY[:-1] + "g"},
            "JINBI_PRIVATE_KEY is not a valid private key: "
            "expected 64 hex digits with or without 0x, found 64 characters, and character 64 after any 0x is not hex",
        ),
        (
            {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY[:-4] + "zzzz"},
            "JINBI_PRIVATE_KEY is not a valid private key: expected 64 hex digits with or without 0x, "
            "found 64 characters, and characters 61, 62, 63, 64 after any 0x are not hex",
        ),
        (
            {"JINBI_PRIVATE_KEY": "0x" + "00" * 32},
            "JINBI_PRIVATE_KEY is not a valid private key: the value is outside the secp256k1 key range",
        ),
        (
            {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY, "JINBI_KEYSTORE": "/nonexistent/signer.json"},
            "both JINBI_PRIVATE_KEY and JINBI_KEYSTORE are set, so the signer is ambiguous",
        ),
        (
            {"JINBI_KEYSTORE": "/nonexistent/signer.json", "JINBI_KEYSTORE_PASSWORD": PASSWORD},
            "keystore file not found: /nonexistent/signer.json (from JINBI_KEYSTORE)",
        ),
    ],
    ids=["missing", "short", "not-hex", "four-not-hex", "zero", "both-sources", "keystore-missing"],
)
def test_invalid_configuration_rejected(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SignerError) as caught:
        load_signer(environ)

    assert caught.value.message == message
    # No library error, which may quote its input, travels along with the message.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    assert_no_secret(f"{caught.value} {caught.value.hint} {caught.value!r}")


def test_wrong_password_rejected(keystore: Path) -> None:
    with pytest.raises(SignerError) as caught:
        load_signer({"JINBI_KEYSTORE": str(keystore), "JINBI_KEYSTORE_PASSWORD": "wrong"})

    assert caught.value.message == f"wrong password for keystore file {keystore}: decryption failed"
    assert caught.value.hint == "check JINBI_KEYSTORE_PASSWORD"
    assert_no_secret(f"{caught.value} {caught.value!r}")


def test_missing_password_rejected(keystore: Path) -> None:
    with pytest.raises(SignerError, match=r"^JINBI_KEYSTORE_PASSWORD is not set: it must contain the password of"):
        load_signer({"JINBI_KEYSTORE": str(keystore)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is unreadable or not JSON: JSONDecodeError"),
        ('{"address": "f39f"}', "is not an encrypted keystore: it has no crypto section"),
        (
            '{"crypto": {"kdf": "none"}, "version": 3}',
            "could not be decrypted: it is malformed or uses an unsupported format",
        ),
    ],
    ids=["not-json", "no-crypto", "malformed-crypto"],
)
def test_malformed_keystore_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "signer.json"
    path.write_text(content)

    with pytest.raises(SignerError) as caught:
        load_signer({"JINBI_KEYSTORE": str(path), "JINBI_KEYSTORE_PASSWORD": PASSWORD})

    assert caught.value.message == f"keystore file {path} {message}"
