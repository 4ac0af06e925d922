"""The audit trail: which commit authorised which transactions, in git notes and in record files.

Every apply, pause and unpause writes one record: a JSON object with the
environment, the commit, the plan digest (or the break-glass reason) and each
transaction's hash, block and the items it touched. The record goes to
`.jinbi/audit/<env>/<name>.json` for the workflow to upload and, when the
state folder is in a git repository, is appended as one line to the note of
the commit under `refs/notes/jinbi-audit`. One commit's note can hold several
records, one line each, so applies of the same commit to several
environments, and a `cat_sort_uniq` merge of notes, keep every record.

`find_address` finds which commit put an address's current on-chain state
there. It walks HEAD's history newest first and returns, for each item that
concerns the address, the newest confirmed transaction that wrote it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.errors import AuditError, GitError
from reconciler.gitops.metadata import open_repository

if TYPE_CHECKING:
    import git

    from reconciler.model import State

log = logging.getLogger(__name__)

NOTES_REF = "refs/notes/jinbi-audit"
DEFAULT_AUDIT_DIR = Path(".jinbi") / "audit"
FORMAT_VERSION = 1
CONFIRMED = "confirmed"

# The identity of the notes commit when the repository configures none, as on a fresh CI runner.
FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "jinbi",
    "GIT_AUTHOR_EMAIL": "jinbi@localhost",
    "GIT_COMMITTER_NAME": "jinbi",
    "GIT_COMMITTER_EMAIL": "jinbi@localhost",
}


class SentTransaction(Protocol):
    """The fields of one executed transaction that a record keeps (`TransactionOutcome` has them)."""

    @property
    def index(self) -> int: ...

    @property
    def tx_hash(self) -> str | None: ...

    @property
    def block_number(self) -> int | None: ...

    @property
    def status(self) -> Any: ...


# --- building records ---------------------------------------------------------


def apply_record(
    document: Mapping[str, Any], outcomes: Sequence[SentTransaction], state: State, *, commit: str | None
) -> dict[str, Any]:
    """Build the record of one apply of the plan DOCUMENT, with the outcome of each of its transactions.

    STATE, the applied YAML, names the investor of each allocation, so that a
    cancellation counts for its investor too.
    """
    actions_by_transaction: dict[int, list[dict[str, Any]]] = {}
    for action in document["actions"]:
        if action["kind"] is None:
            continue  # the USDC approval concerns no item of the state
        address = _address_of(action["kind"], action["key"], state)
        item = {"kind": action["kind"], "key": action["key"], "address": address}
        actions_by_transaction.setdefault(int(action["transaction"]), []).append(item)

    transactions = []
    for outcome in outcomes:
        planned = document["transactions"][outcome.index]
        transactions.append(
            {
                "index": outcome.index,
                "function": planned["function"],
                "to": planned["to"],
                "hash": outcome.tx_hash,
                "block": outcome.block_number,
                "status": str(getattr(outcome.status, "value", outcome.status)),
                "items": actions_by_transaction.get(outcome.index + 1, []),
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "type": "apply",
        "environment": document["environment"],
        "chain_id": document["chain_id"],
        "commit": commit,
        "plan_digest": document["digest"],
        "planned_at_block": document["block"]["number"],
        "signer": document["signer"],
        "recorded_at": _utc_now(),
        "transactions": transactions,
    }


def break_glass_record(
    kind: str, *, environment: str, chain_id: int, signer: str, reason: str, outcome: SentTransaction,
    function: str, to: str, commit: str | None,
) -> dict[str, Any]:
    """Build the record of a pause or unpause (KIND), with the reason given on the command line."""
    return {
        "format_version": FORMAT_VERSION,
        "type": kind,
        "environment": environment,
        "chain_id": chain_id,
        "commit": commit,
        "reason": reason,
        "signer": signer,
        "recorded_at": _utc_now(),
        "transactions": [
            {
                "index": 0,
                "function": function,
                "to": to,
                "hash": outcome.tx_hash,
                "block": outcome.block_number,
                "status": str(getattr(outcome.status, "value", outcome.status)),
                "items": [],
            }
        ],
    }


def _address_of(kind: str, key: str, state: State) -> str | None:
    if kind in ("investors", "sanctions"):
        return key
    if kind == "allocations" and key in state.allocations:
        return state.allocations[key].investor
    return None


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- writing ------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenRecord:
    """The file a record went to, and the commit whose note contains it (None when no note was written)."""

    path: Path
    note_commit: str | None

    def describe(self) -> str:
        where = f"the git note of commit {self.note_commit} ({NOTES_REF})" if self.note_commit else "no git note"
        return f"audit record written to {self.path} and {where}"


def write_record(
    record: Mapping[str, Any],
    name: str,
    *,
    state_dir: Path,
    audit_dir: Path = DEFAULT_AUDIT_DIR,
    git_notes: bool = True,
) -> WrittenRecord:
    """Write RECORD to AUDIT_DIR/<env>/NAME.json and append it to the note of its commit.

    The note is written only with GIT_NOTES and when STATE_DIR is in a git
    repository that has the record's commit, or HEAD when the record names
    none. Otherwise the skip is logged. Raises GitError when git fails to
    write the note.
    """
    path = record_path(audit_dir, str(record["environment"]), name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    if not git_notes:
        log.info("skipped the git note of the audit record, as requested")
        return WrittenRecord(path, None)
    repository = open_repository(state_dir)
    if repository is None:
        log.info("skipped the git note of the audit record: %s is not in a git repository", state_dir)
        return WrittenRecord(path, None)
    commit = _note_target(repository, record.get("commit"))
    if commit is None:
        return WrittenRecord(path, None)
    append_note(repository, commit, json.dumps(record, sort_keys=True, separators=(",", ":")))
    log.info("appended the audit record to the note of commit %s under %s", commit, NOTES_REF)
    return WrittenRecord(path, commit)


def record_path(audit_dir: Path, environment: str, name: str) -> Path:
    """Return the file of ENVIRONMENT's record NAME under AUDIT_DIR, such as a plan digest or a break-glass name."""
    return audit_dir / environment / f"{name.replace(':', '-')}.json"


def _note_target(repository: git.Repo, commit: object) -> str | None:
    import git

    revision = str(commit) if commit else "HEAD"
    try:
        return str(repository.commit(revision).hexsha)
    except (git.BadName, ValueError):
        log.warning("skipped the git note of the audit record: commit %s is not in the repository", revision)
        return None


def append_note(repository: git.Repo, commit: str, line: str) -> None:
    """Append LINE to COMMIT's note under NOTES_REF, as its own paragraph."""
    import git

    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        handle.write(line + "\n")
    try:
        with repository.git.custom_environment(**_identity(repository)):
            repository.git.notes(f"--ref={NOTES_REF}", "append", "-F", handle.name, commit)
    except git.GitCommandError as error:
        raise GitError(
            f"git notes append on commit {commit} failed: {str(error.stderr).strip()}",
            hint=f"check that the repository is writable; the record file still holds what {NOTES_REF} misses",
        ) from None
    finally:
        os.unlink(handle.name)


def _identity(repository: git.Repo) -> dict[str, str]:
    reader = repository.config_reader()
    if reader.has_option("user", "name") and reader.has_option("user", "email"):
        return {}
    if all(os.environ.get(variable) for variable in FALLBACK_IDENTITY):
        return {}
    return dict(FALLBACK_IDENTITY)


# --- reading ------------------------------------------------------------------


@dataclass(frozen=True)
class NotedRecord:
    """One record of a note, with the commit the note is attached to."""

    commit: str
    record: Mapping[str, Any]


def read_records(repository: git.Repo, environment: str | None = None) -> Iterator[NotedRecord]:
    """Yield the records of HEAD's history, newest commit first and the last-written first within a note.

    ENVIRONMENT, when given, keeps only that environment's records. Lines that
    are not JSON objects are skipped with a warning.
    """
    import git

    try:
        listing = repository.git.notes(f"--ref={NOTES_REF}", "list")
    except git.GitCommandError:
        return  # no notes ref yet
    notes = dict(reversed(line.split()) for line in listing.splitlines() if line.strip())
    if not notes:
        return
    for commit in repository.iter_commits("HEAD"):
        blob = notes.get(commit.hexsha)
        if blob is None:
            continue
        text = repository.git.cat_file("blob", blob)
        for line in reversed(text.splitlines()):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("skipped a line of the audit note of commit %s that is not JSON", commit.hexsha)
                continue
            if not isinstance(record, dict):
                continue
            if environment is None or record.get("environment") == environment:
                yield NotedRecord(commit.hexsha, record)


def last_applied_commit(repository: git.Repo, environment: str) -> str | None:
    """Return the commit of the newest apply of ENVIRONMENT whose transactions were all confirmed, or None."""
    for noted in read_records(repository, environment):
        record = noted.record
        if record.get("type") != "apply":
            continue
        if all(transaction.get("status") == CONFIRMED for transaction in record.get("transactions", [])):
            return noted.commit
    return None


def break_glass_pause_state(repository: git.Repo, environment: str) -> bool | None:
    """Return whether the newest confirmed `jinbi pause` (True) or `unpause` (False) paused the token.

    Returns None when there is none, or when a confirmed apply came after it.
    Records are ordered by the newest block of their transactions, because a
    break-glass record is noted on the HEAD of its time, not on an applied
    commit, and `recorded_at` has whole seconds only.
    """
    newest_apply = -1
    newest_break_glass: tuple[bool, int] | None = None  # (paused, block)
    for noted in read_records(repository, environment):
        record = noted.record
        transactions = record.get("transactions", [])
        if not all(transaction.get("status") == CONFIRMED for transaction in transactions):
            continue
        block = max((int(transaction.get("block") or 0) for transaction in transactions), default=-1)
        if record.get("type") == "apply":
            newest_apply = max(newest_apply, block)
        elif record.get("type") in ("pause", "unpause") and (newest_break_glass is None or block > newest_break_glass[1]):
            newest_break_glass = (record.get("type") == "pause", block)
    if newest_break_glass is None or newest_break_glass[1] <= newest_apply:
        return None
    return newest_break_glass[0]


@dataclass(frozen=True)
class AuditAnswer:
    """The newest confirmed transaction that wrote one item concerning an address."""

    kind: str  # investors, sanctions or allocations
    key: str
    commit: str
    commit_summary: str
    commit_author: str
    commit_date: str  # committer date, ISO 8601 in UTC
    plan_digest: str
    function: str
    tx_hash: str
    block: int

    def describe(self) -> str:
        what = {"investors": "investor flags", "sanctions": "blocked status"}.get(self.kind, f"allocation {self.key}")
        return (
            f"{what}: set by commit {self.commit} ({self.commit_summary!r}, {self.commit_author}, "
            f"{self.commit_date}) in transaction {self.tx_hash}, block {self.block} ({self.function}, "
            f"plan {self.plan_digest})"
        )


def find_address(state_dir: Path, environment: str, address: str) -> list[AuditAnswer]:
    """Find the commit and transaction that last wrote each item of ENVIRONMENT that concerns ADDRESS.

    Items are the investor's flags, its blocked status and its allocations.
    Raises AuditError outside a repository or when no record concerns ADDRESS.
    """
    # NOTE: the chain is not read here, so a value changed outside the reconciler after
    # the recorded write is not noticed; `jinbi drift` reports such changes.
    repository = open_repository(state_dir)
    if repository is None:
        raise AuditError(
            f"{state_dir} is not in a git repository, so there are no audit notes to read",
            hint=f"run this in a clone that has fetched {NOTES_REF}",
        )
    wanted = address.lower()
    answers: dict[tuple[str, str], AuditAnswer] = {}
    for noted in read_records(repository, environment):
        if noted.record.get("type") != "apply":
            continue
        for transaction in reversed(noted.record.get("transactions", [])):
            if transaction.get("status") != CONFIRMED:
                continue
            for item in transaction.get("items", []):
                aspect = (str(item.get("kind")), str(item.get("key")))
                if str(item.get("address") or "").lower() != wanted or aspect in answers:
                    continue
                answers[aspect] = _answer(repository, noted, transaction, aspect)
    if not answers:
        raise AuditError(
            f"no recorded apply of {environment} touched {address}",
            hint=f"check the address; fetch the notes with `git fetch origin {NOTES_REF}:{NOTES_REF}`",
        )
    order = {"investors": 0, "sanctions": 1, "allocations": 2}
    return sorted(answers.values(), key=lambda answer: (order.get(answer.kind, 3), answer.key))


def _answer(repository: git.Repo, noted: NotedRecord, transaction: Mapping[str, Any], aspect: tuple[str, str]) -> AuditAnswer:
    commit = repository.commit(noted.commit)
    date = datetime.fromtimestamp(commit.committed_date, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return AuditAnswer(
        kind=aspect[0],
        key=aspect[1],
        commit=noted.commit,
        commit_summary=str(commit.summary),
        commit_author=str(commit.author.name),
        commit_date=date,
        plan_digest=str(noted.record.get("plan_digest")),
        function=str(transaction.get("function")),
        tx_hash=str(transaction.get("hash")),
        block=int(transaction.get("block") or 0),
    )
