"""The journal file: atomic writes, round trips, and rejection of journals of another plan, chain or signer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.errors import JournalError
from reconciler.execution import Journal, State
from reconciler.execution.journal import Attempt, TransactionRecord, calldata_digest

DIGEST = "sha256:" + "ab" * 32
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def record(index: int = 0, state: State = State.SENT) -> TransactionRecord:
    attempt = Attempt(
        tx_hash="0x" + "11" * 32,
        raw_transaction="0x02f8",
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=10**9,
        state=state,
        signed_at="2026-01-01T00:00:00.000000Z",
    )
    return TransactionRecord(
        index=index,
        description="ComplianceRegistry.setInvestors (2 items)",
        to="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        data_sha256=calldata_digest("0x1234"),
        value=0,
        gas_limit=400_000,
        nonce=7 + index,
        state=state,
        attempts=[attempt],
    )


def test_path_per_environment_and_digest(tmp_path: Path) -> None:
    journal = Journal("devnet", DIGEST, directory=tmp_path)

    assert journal.path == tmp_path / "devnet" / f"sha256-{'ab' * 32}.json"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    journal = Journal("devnet", DIGEST, directory=tmp_path)
    journal.bind(31337, SENDER)
    journal.records[0] = record(0)
    journal.records[1] = record(1, State.MINED)

    journal.save()
    loaded = Journal("devnet", DIGEST, directory=tmp_path)

    assert loaded.chain_id == 31337
    assert loaded.sender == SENDER
    assert loaded.records == journal.records
    assert loaded.records[1].latest.state is State.MINED


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    journal = Journal("devnet", DIGEST, directory=tmp_path)
    journal.bind(31337, SENDER)
    journal.records[0] = record()

    journal.save()
    journal.save()

    assert os.listdir(journal.path.parent) == [journal.path.name]
    assert json.loads(journal.path.read_text())["transactions"][0]["state"] == "sent"


@pytest.mark.parametrize(
    ("environment", "digest"),
    [("devnet", "../../etc/passwd"), ("devnet", "sha256:ab/cd"), ("../devnet", DIGEST)],
    ids=["digest-parent", "digest-slash", "environment-parent"],
)
def test_path_escaping_names_rejected(tmp_path: Path, environment: str, digest: str) -> None:
    with pytest.raises(JournalError, match=r"^invalid "):
        Journal(environment, digest, directory=tmp_path)


def test_other_chain_rejected(tmp_path: Path) -> None:
    journal = Journal("devnet", DIGEST, directory=tmp_path)
    journal.bind(1, SENDER)
    journal.save()

    with pytest.raises(JournalError, match=r"was written for chain id 1, but the RPC node is on chain id 31337$"):
        Journal("devnet", DIGEST, directory=tmp_path).bind(31337, SENDER)


def test_other_signer_rejected(tmp_path: Path) -> None:
    journal = Journal("devnet", DIGEST, directory=tmp_path)
    journal.bind(31337, SENDER)
    journal.save()

    with pytest.raises(JournalError, match=r"was written for signer 0xf39F.*, but the signer is 0x7099"):
        Journal("devnet", DIGEST, directory=tmp_path).bind(31337, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is unreadable: JSONDecodeError"),
        ('{"version": 99}', "is not a version 1 journal"),
        (
            json.dumps({"version": 1, "environment": "devnet", "plan_digest": "sha256:" + "cd" * 32}),
            "belongs to environment 'devnet' and plan 'sha256:cdcd",
        ),
        (json.dumps({"version": 1, "environment": "devnet", "plan_digest": DIGEST}), "is malformed: KeyError"),
    ],
    ids=["not-json", "other-version", "other-plan", "missing-fields"],
)
def test_unreadable_journal_rejected_with_hint(tmp_path: Path, content: str, message: str) -> None:
    path = Journal("devnet", DIGEST, directory=tmp_path).path
    path.parent.mkdir(parents=True)
    path.write_text(content)

    with pytest.raises(JournalError) as caught:
        Journal("devnet", DIGEST, directory=tmp_path)

    assert message in caught.value.message
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("move the file aside and rerun: without a journal the contracts still reject")
