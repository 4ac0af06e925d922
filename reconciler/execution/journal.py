"""The write-ahead journal of an apply: one JSON file per environment and plan digest.

Before a transaction is sent, the journal records it with its nonce, its hash
and its signed bytes. After each step, it records the new state. A rerun
after a crash at any point reads the journal and rebroadcasts what may not
have reached the node. It then waits for what is pending, skips what is
mined, and signs only the transactions that have no record yet.

States of a transaction record: signed -> sent -> mined | failed. States of
each signed attempt at the record's nonce (the first one and every
replacement with raised fees): signed -> sent -> mined | failed | replaced,
or rejected when the node refused it. Every attempt's hash stays in the file,
so a crash during a replacement still finds whichever attempt was mined.

The file contains signed transactions, which the node publishes anyway, and
never the key. It is written atomically: a temporary file in the same folder,
fsync, rename over the old file, fsync of the folder. Callers:
`reconciler.execution.apply`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import JournalError

if TYPE_CHECKING:
    from reconciler.execution.transactions import TransactionRequest

DEFAULT_JOURNAL_DIR = Path(".jinbi") / "journal"
FORMAT_VERSION = 1

# Plan digests are "sha256:<hex>"; anything else that could leave the folder is rejected.
_DIGEST_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?$")
_ENVIRONMENT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


class State(StrEnum):
    """The state of a transaction record or of one signed attempt."""

    SIGNED = "signed"  # recorded before sending; the node may or may not have it
    SENT = "sent"  # the node accepted it
    MINED = "mined"  # in a block with status 1, with the required confirmations
    FAILED = "failed"  # in a block with status 0, or its nonce went to another transaction
    REPLACED = "replaced"  # attempts only: another attempt at the same nonce took its place
    REJECTED = "rejected"  # attempts only: the node refused it, so it never entered the mempool


FINAL_STATES = frozenset({State.MINED, State.FAILED})


@dataclass
class Attempt:
    """One signed transaction at a record's nonce: the first one or a replacement with raised fees."""

    tx_hash: str  # 0x-prefixed
    raw_transaction: str  # 0x-prefixed signed bytes, rebroadcast as they are on a rerun
    max_fee_per_gas: int  # wei
    max_priority_fee_per_gas: int  # wei
    state: State
    signed_at: str  # ISO 8601 UTC
    error: str | None = None  # why the node rejected it


@dataclass
class TransactionRecord:
    """The journal entry of one planned transaction."""

    index: int
    description: str
    to: str
    data_sha256: str  # of the calldata as hex text, to check that a rerun sends the same plan
    value: int
    gas_limit: int
    nonce: int
    state: State
    attempts: list[Attempt] = field(default_factory=list)
    mined_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    error: str | None = None  # the decoded revert reason, or why the nonce was lost

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def calldata_digest(data: str) -> str:
    """Return the sha256 hex digest of DATA, 0x-prefixed calldata, lowercased first."""
    return hashlib.sha256(data.lower().encode("ascii")).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journal:
    """The journal of one plan in one environment, loaded from its file when it exists."""

    def __init__(self, environment: str, plan_digest: str, *, directory: Path = DEFAULT_JOURNAL_DIR) -> None:
        if not _ENVIRONMENT_PATTERN.match(environment):
            raise JournalError(f"invalid environment name {environment!r} for a journal file")
        if not _DIGEST_PATTERN.match(plan_digest):
            raise JournalError(f"invalid plan digest {plan_digest!r}: expected a form such as sha256:<hex>")
        self.environment = environment
        self.plan_digest = plan_digest
        # A colon is legal in a POSIX file name but not on every file system a CI cache may use.
        self.path = directory / environment / f"{plan_digest.replace(':', '-')}.json"
        self.chain_id: int | None = None
        self.sender: str | None = None
        self.created: str = utc_now()
        self.records: dict[int, TransactionRecord] = {}
        if self.path.exists():
            self._load()

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def bind(self, chain_id: int, sender: str) -> None:
        """Set the chain and sender of a new journal, or check those of an existing one.

        Raises JournalError when the journal was written for another chain or signer.
        """
        if self.chain_id is None and self.sender is None:
            self.chain_id, self.sender = chain_id, sender
            return
        if self.chain_id != chain_id:
            raise JournalError(
                f"journal {self.path} was written for chain id {self.chain_id}, "
                f"but the RPC node is on chain id {chain_id}",
                hint="point the environment's RPC URL at the chain the plan was applied to",
            )
        if self.sender != sender:
            raise JournalError(
                f"journal {self.path} was written for signer {self.sender}, but the signer is {sender}",
                hint="resume an interrupted apply with the signer that started it",
            )

    def check_requests(self, requests: Sequence[TransactionRequest]) -> None:
        """Raise JournalError unless every record has the target, calldata, value and gas limit of its request."""
        for index, record in sorted(self.records.items()):
            request = requests[index] if index < len(requests) else None
            if (
                request is None
                or record.to != request.to
                or record.data_sha256 != calldata_digest(request.data)
                or record.value != request.value
                or record.gas_limit != request.gas_limit
            ):
                raise JournalError(
                    f"journal {self.path} does not match the plan at transaction #{index}: "
                    "its target, calldata, value or gas limit differ",
                    hint="the journal belongs to another version of this plan; apply the plan file it was made for",
                )

    def save(self) -> None:
        """Write the whole journal atomically; after a crash the file is either the old or the new version."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = self.to_document()
        payload = (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, payload)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, self.path)
        _fsync_directory(self.path.parent)

    def to_document(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "environment": self.environment,
            "plan_digest": self.plan_digest,
            "chain_id": self.chain_id,
            "sender": self.sender,
            "created": self.created,
            "updated": utc_now(),
            "transactions": [asdict(self.records[index]) for index in sorted(self.records)],
        }

    def _load(self) -> None:
        hint = (
            "move the file aside and rerun: without a journal the contracts still reject every reused "
            "id, so nothing is paid or booked twice, but transactions that already took effect are sent again"
        )
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            message = f"journal {self.path} is unreadable: {type(error).__name__}: {error}"
            raise JournalError(message, hint=hint) from error
        if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
            raise JournalError(f"journal {self.path} is not a version {FORMAT_VERSION} journal", hint=hint)
        if document.get("environment") != self.environment or document.get("plan_digest") != self.plan_digest:
            raise JournalError(
                f"journal {self.path} belongs to environment {document.get('environment')!r} and plan "
                f"{document.get('plan_digest')!r}, not {self.environment!r} and {self.plan_digest!r}",
                hint=hint,
            )
        try:
            self.chain_id = document["chain_id"]
            self.sender = document["sender"]
            self.created = document["created"]
            for raw in document["transactions"]:
                attempts = [Attempt(**{**item, "state": State(item["state"])}) for item in raw["attempts"]]
                record = TransactionRecord(**{**raw, "state": State(raw["state"]), "attempts": attempts})
                self.records[record.index] = record
        except (KeyError, TypeError, ValueError) as error:
            message = f"journal {self.path} is malformed: {type(error).__name__}: {error}"
            raise JournalError(message, hint=hint) from error


def _fsync_directory(directory: Path) -> None:
    """Make a rename in DIRECTORY durable; some file systems do not support it, which is harmless here."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
