"""The audit trail: records in git notes and files, and `jinbi audit` after several merges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gitops_support import BLOCKED, QIB, REGS, Workspace, make_workspace

from reconciler.gitops.audit import NOTES_REF


@pytest.fixture
def workspace(chain: Any, tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "repo", chain.url)


def merge_change(workspace: Workspace, branch: str, old: str, new: str, message: str) -> str:
    """Change investors.yaml on BRANCH, merge it into main and apply; return the merge commit."""
    workspace.git("checkout", "--quiet", "-b", branch)
    workspace.edit("investors.yaml", old, new)
    workspace.commit(message)
    merged = workspace.merge(branch, f"Merge {branch}")
    workspace.apply()
    return merged


def notes(workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Return commit -> records of the audit notes."""
    listing = workspace.git("notes", f"--ref={NOTES_REF}", "list").splitlines()
    found = {}
    for line in listing:
        blob, commit = line.split()
        text = workspace.git("cat-file", "blob", blob)
        found[commit] = [json.loads(entry) for entry in text.splitlines() if entry.strip()]
    return found


def test_audit_after_three_merges(chain: Any, workspace: Workspace) -> None:
    first = workspace.git("rev-parse", "HEAD")
    workspace.apply()
    second = merge_change(workspace, "move-to-hk", 'jurisdiction: "SG"', 'jurisdiction: "HK"', "Move INV-0002 to HK")
    third = merge_change(workspace, "lockup", 'jurisdiction: "HK"', 'jurisdiction: "HK"\n    lockup_until: "2027-03-01T00:00:00Z"', "Lock INV-0002 up")
    fourth = merge_change(workspace, "revoke", "qib: false\n    jurisdiction: \"HK\"", "qib: false\n    jurisdiction: \"JP\"", "Move INV-0002 to JP")

    # One note per applied commit, each with one apply record naming that commit.
    recorded = notes(workspace)
    assert sorted(recorded) == sorted([first, second, third, fourth])
    for commit, records in recorded.items():
        assert [record["commit"] for record in records] == [commit]
        assert all(tx["status"] == "confirmed" for tx in records[0]["transactions"])
    last_tx = recorded[fourth][0]["transactions"][0]
    assert last_tx["items"] == [{"kind": "investors", "key": REGS, "address": REGS}]
    assert last_tx["hash"] == chain.w3.eth.get_transaction_receipt(last_tx["hash"])["transactionHash"].to_0x_hex()

    # The record files are there for the workflow to upload.
    files = sorted(path.name for path in (workspace.root / ".jinbi" / "audit" / "devnet").iterdir())
    assert files == sorted(f"{records[0]['plan_digest'].replace(':', '-')}.json" for records in recorded.values())

    # REGS was last written by the fourth merge; QIB's flags and booking only by the first commit.
    answered = workspace.jinbi("audit", "--env", "devnet", "--state-dir", "state", REGS.lower())
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.splitlines() == [
        f"{REGS} in devnet:",
        f"  investor flags: set by commit {fourth} ('Merge revoke', Compliance Officer, "
        f"{commit_date(workspace, fourth)}) in transaction {last_tx['hash']}, block {last_tx['block']} "
        f"(ComplianceRegistry.setInvestors, plan {recorded[fourth][0]['plan_digest']})",
    ]
    qib = workspace.jinbi("audit", "--env", "devnet", "--state-dir", "state", QIB)
    assert qib.returncode == 0, qib.stderr
    lines = qib.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith(f"  investor flags: set by commit {first} ('Add the devnet state'")
    assert lines[2].startswith(f"  allocation ALLOC-0001: set by commit {first} ")
    assert "(DvPSettlement.book, plan " in lines[2]

    blocked = workspace.jinbi("audit", "--env", "devnet", "--state-dir", "state", BLOCKED)
    assert blocked.stdout.splitlines()[1].startswith(f"  blocked status: set by commit {first} ")


def commit_date(workspace: Workspace, commit: str) -> str:
    return workspace.git("show", "-s", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ", commit)


def test_audit_of_an_unknown_address(chain: Any, workspace: Workspace) -> None:
    workspace.apply()
    unknown = workspace.jinbi("audit", "--env", "devnet", "--state-dir", "state", "0x" + "12" * 20)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr.splitlines()[0] == (
        "error: no recorded apply of devnet touched 0x1212121212121212121212121212121212121212"
    )


def test_audit_rejects_a_bad_address(chain: Any, workspace: Workspace) -> None:
    rejected = workspace.jinbi("audit", "--env", "devnet", "--state-dir", "state", "0x123")
    assert rejected.returncode == 1
    assert "0x123 is not an Ethereum address" in rejected.stderr


def test_apply_outside_a_repository_writes_only_the_file(chain: Any, workspace: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    (workspace.root / "state").rename(outside / "state")
    applied = workspace.jinbi("apply", "--env", "devnet", "--state-dir", str(outside / "state"), "--auto-approve", "--no-simulate")
    assert applied.returncode == 0, applied.stderr
    assert "and no git note" in applied.stdout
    assert workspace.git("notes", f"--ref={NOTES_REF}", "list") == ""
