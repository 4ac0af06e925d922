"""The plan as a Safe Transaction Builder batch file, for an issuer whose roles sit behind a Safe multisig.

`safe_batch(plan)` is pure: it returns the batch file's content, with the
plan's transactions in sending order and unchanged (`to`, `value` "0",
`data`). The owners import the file in the Safe{Wallet} Transaction Builder,
which proposes them as one multisend transaction of the Safe, the plan's
signer (`jinbi plan --signer SAFE --safe-batch FILE`).

The file is byte for byte the same for the same plan: `createdAt` is the
plan block's timestamp in milliseconds, not the time of writing, and the
keys keep a fixed order.

`meta.checksum` is computed as the Transaction Builder computes it when it
imports a file (apps/tx-builder/src/lib/checksum.ts in
github.com/safe-global/safe-react-apps): keccak-256 of the UTF-8 bytes of a
serialization of the whole file, without `meta.checksum` and with
`meta.name` set to null. That serialization writes an object as "{", the
JSON array of its keys in sorted order, each value in key order followed by
",", and "}". It writes an array as "[", its items joined by ",", and "]",
and anything else as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from eth_utils.crypto import keccak

from reconciler.errors import PlanError
from reconciler.planning.plan import Plan, plan_digest

BATCH_FORMAT_VERSION = "1.0"


def safe_batch(plan: Plan) -> dict[str, Any]:
    """Return PLAN's transactions as a Transaction Builder batch file sent by the Safe PLAN.signer.

    Raises PlanError when a transaction has another sender than the signer,
    which only the treasury's USDC approval can have.
    """
    for number, transaction in enumerate(plan.transactions, start=1):
        if transaction.sender.lower() != plan.signer.lower():
            raise PlanError(
                f"transaction {number} ({transaction.function.qualified_name}) is sent by {transaction.sender}, "
                f"not by the Safe {plan.signer}, so it cannot be part of the Safe's batch",
                hint="make the Safe the treasury, or have the treasury send the USDC approval before planning",
            )

    count = len(plan.transactions)
    description = (
        f"{plan.summary()} Planned at block {plan.block_number} ({plan.block_hash}) of chain {plan.chain_id}, "
        f"plan {plan_digest(plan)}, git commit {plan.git_commit or 'none'}."
    )
    batch: dict[str, Any] = {
        "version": BATCH_FORMAT_VERSION,
        "chainId": str(plan.chain_id),
        "createdAt": plan.block_timestamp * 1000,
        "meta": {
            "name": f"JINBI {plan.environment.name}: {count} {'transaction' if count == 1 else 'transactions'}",
            "description": description,
            "createdFromSafeAddress": plan.signer,
        },
        "transactions": [
            {"to": transaction.to, "value": "0", "data": transaction.data} for transaction in plan.transactions
        ],
    }
    batch["meta"]["checksum"] = batch_checksum(batch)
    return batch


def safe_batch_json(plan: Plan) -> str:
    """Write the batch file: indented JSON in the fixed key order, with a final newline."""
    return json.dumps(safe_batch(plan), indent=2, ensure_ascii=False) + "\n"


def batch_checksum(batch: Mapping[str, Any]) -> str:
    """Return the Transaction Builder's checksum of BATCH (0x and 64 hex digits); any `meta.checksum` is left out."""
    meta = {key: value for key, value in batch["meta"].items() if key != "checksum"}
    meta["name"] = None
    return checksum_of_serialized({**batch, "meta": meta})


def checksum_of_serialized(value: Any) -> str:
    """Return 0x and the keccak-256 hex digest of VALUE in the Transaction Builder's serialization."""
    return "0x" + keccak(text=serialize(value)).hex()


def serialize(value: Any) -> str:
    """Write VALUE as the Transaction Builder's checksum serialization (see the module docstring)."""
    if isinstance(value, Mapping):
        keys = sorted(value)
        return "{" + _json(keys) + "".join(serialize(value[key]) + "," for key in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(serialize(item) for item in value) + "]"
    return _json(value)


def _json(value: Any) -> str:
    # JavaScript's JSON.stringify: no spaces, and non-ASCII characters as they are.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
