"""The account that signs an apply's transactions, loaded from the process environment.

Two sources, exactly one of which must be set:

- `JINBI_PRIVATE_KEY`: the key as 64 hex digits, with or without 0x;
- `JINBI_KEYSTORE`: the path of an encrypted keystore file (the JSON format of
  geth and `cast wallet`), decrypted with the password in `JINBI_KEYSTORE_PASSWORD`.

No message, repr or exception raised here contains the key or the password:
errors name the variable and the problem, and are raised `from None` so that
the library error, which may quote its input, is not chained. Callers:
`jinbi apply` and the tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount

from reconciler.errors import SignerError

PRIVATE_KEY_VARIABLE = "JINBI_PRIVATE_KEY"
KEYSTORE_VARIABLE = "JINBI_KEYSTORE"
KEYSTORE_PASSWORD_VARIABLE = "JINBI_KEYSTORE_PASSWORD"

SOURCES_HINT = (
    f"set {PRIVATE_KEY_VARIABLE} to the signer's key, or {KEYSTORE_VARIABLE} to an encrypted "
    f"keystore file and {KEYSTORE_PASSWORD_VARIABLE} to its password"
)


class Signer:
    """A local account that signs transactions; its repr and str show only the address."""

    __slots__ = ("_account", "address")

    def __init__(self, account: LocalAccount) -> None:
        self._account = account
        self.address: str = account.address  # EIP-55

    def sign_transaction(self, transaction: Mapping[str, Any]) -> SignedTransaction:
        """Sign TRANSACTION (a type 2 transaction dict with chainId and nonce) and return the signed form."""
        signed: SignedTransaction = self._account.sign_transaction(dict(transaction))
        return signed

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would copy the key into whatever stores the pickle.
        raise TypeError("a Signer cannot be pickled, because it contains a private key")


def load_signer(environ: Mapping[str, str] | None = None) -> Signer:
    """Load the signer from ENVIRON (by default os.environ).

    Raises SignerError when no source or both are set, the key is not 32 bytes
    of hex, the keystore file is missing or malformed, or the password is wrong.
    """
    variables = os.environ if environ is None else environ
    key = variables.get(PRIVATE_KEY_VARIABLE, "").strip()
    keystore = variables.get(KEYSTORE_VARIABLE, "").strip()
    if key and keystore:
        raise SignerError(
            f"both {PRIVATE_KEY_VARIABLE} and {KEYSTORE_VARIABLE} are set, so the signer is ambiguous",
            hint=f"unset one of them: {PRIVATE_KEY_VARIABLE} or {KEYSTORE_VARIABLE}",
        )
    if key:
        return Signer(_account_from_key(key))
    if keystore:
        password = variables.get(KEYSTORE_PASSWORD_VARIABLE)
        if password is None:
            raise SignerError(
                f"{KEYSTORE_PASSWORD_VARIABLE} is not set: it must contain the password of the keystore {keystore}",
                hint=f"export {KEYSTORE_PASSWORD_VARIABLE} with the keystore's password",
            )
        return Signer(_account_from_keystore(Path(keystore), password))
    raise SignerError("no signer configured: the signing key is missing", hint=SOURCES_HINT)


def _account_from_key(key: str) -> LocalAccount:
    digits = key.removeprefix("0x").removeprefix("0X")
    # Positions only: the characters themselves may be part of the key.
    bad = [str(place) for place, character in enumerate(digits, start=1) if character not in "0123456789abcdefABCDEF"]
    if len(digits) != 64 or bad:
        found = f"found {len(digits)} characters"
        if bad:
            places = ", ".join(bad[:8]) + (f" and {len(bad) - 8} more" if len(bad) > 8 else "")
            noun, verb = ("character", "is") if len(bad) == 1 else ("characters", "are")
            found += f", and {noun} {places} after any 0x {verb} not hex"
        raise SignerError(
            f"{PRIVATE_KEY_VARIABLE} is not a valid private key: expected 64 hex digits with or without 0x, {found}",
            hint=SOURCES_HINT,
        )
    try:
        account: LocalAccount = Account.from_key("0x" + digits)
    except ValueError:
        # Zero, or not below the order of the secp256k1 curve.
        raise SignerError(
            f"{PRIVATE_KEY_VARIABLE} is not a valid private key: the value is outside the secp256k1 key range",
            hint=SOURCES_HINT,
        ) from None
    return account


def _account_from_keystore(path: Path, password: str) -> LocalAccount:
    try:
        keyfile = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignerError(
            f"keystore file not found: {path} (from {KEYSTORE_VARIABLE})",
            hint=f"set {KEYSTORE_VARIABLE} to the path of an existing keystore file",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SignerError(
            f"keystore file {path} is unreadable or not JSON: {type(error).__name__}",
            hint="use a keystore file written by geth, `cast wallet` or eth-account",
        ) from None
    if not isinstance(keyfile, dict) or "crypto" not in {name.lower() for name in keyfile}:
        raise SignerError(
            f"keystore file {path} is not an encrypted keystore: it has no crypto section",
            hint="use a keystore file written by geth, `cast wallet` or eth-account",
        )
    try:
        key = Account.decrypt(keyfile, password)
    except ValueError as error:
        # eth-account raises ValueError("MAC mismatch") for a wrong password.
        if "mac mismatch" in str(error).lower():
            raise SignerError(
                f"wrong password for keystore file {path}: decryption failed",
                hint=f"check {KEYSTORE_PASSWORD_VARIABLE}",
            ) from None
        raise SignerError(
            f"keystore file {path} could not be decrypted: it is malformed or uses an unsupported format",
            hint="use a keystore file written by geth, `cast wallet` or eth-account",
        ) from None
    except (KeyError, TypeError, NotImplementedError):
        raise SignerError(
            f"keystore file {path} could not be decrypted: it is malformed or uses an unsupported format",
            hint="use a keystore file written by geth, `cast wallet` or eth-account",
        ) from None
    account: LocalAccount = Account.from_key(key)
    return account
