"""Break-glass pause and unpause: sent at once, reason in the audit trail, reported as drift without a Pause file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitops_support import JINBI, SIGNER, Workspace, make_workspace

from reconciler import PROJECT_ROOT
from reconciler.chain import rpc
from reconciler.devnet import free_port
from reconciler.errors import ChainError
from reconciler.execution.breakglass import break_glass
from reconciler.gitops.audit import NOTES_REF

DRIFT_ARGS = ("drift", "--env", "devnet", "--state-dir", "state")
PAUSE_LINE = "  pause security_token: YAML absent, chain paused"


@pytest.fixture
def workspace(chain: Any, tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "repo", chain.url)


def paused(chain: Any) -> bool:
    return bool(chain.contracts["security_token"].functions.paused().call())


def test_pause_is_drift_until_unpaused(chain: Any, workspace: Workspace) -> None:
    workspace.apply()

    # A broken investors file must not hold a pause up: pause reads only the environment file.
    (workspace.env_dir / "investors.yaml").write_text("kind: Investors\ninvestors: [\n", encoding="utf-8")
    block = chain.w3.eth.block_number
    sent = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "signer key may be leaked")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[0].startswith("#0 confirmed: CompliantSecurityToken.pause (block ")
    assert paused(chain)

    # The reason and the transaction are in the record file and in HEAD's note.
    record = json.loads((workspace.root / ".jinbi" / "audit" / "devnet" / f"pause-{block}.json").read_text())
    assert record["type"] == "pause"
    assert record["reason"] == "signer key may be leaked"
    assert record["signer"] == SIGNER
    assert record["commit"] == workspace.git("rev-parse", "HEAD")
    assert record["transactions"][0]["status"] == "confirmed"
    assert record["transactions"][0]["function"] == "CompliantSecurityToken.pause"
    note = workspace.git("notes", f"--ref={NOTES_REF}", "show", "HEAD").splitlines()
    assert json.loads([line for line in note if line][-1]) == record

    # Without a Pause file drift reports the pause, and --write adopts it into a new one.
    workspace.git("checkout", "--", "state/devnet/investors.yaml")
    drifted = workspace.jinbi(*DRIFT_ARGS, "--write")
    assert drifted.returncode == 2, drifted.stderr
    assert drifted.stdout.splitlines()[2:4] == ["changed outside the reconciler (1):", PAUSE_LINE]
    assert drifted.stdout.splitlines()[-1] == f"wrote {Path('state') / 'devnet' / 'pause.yaml'}"
    assert workspace.git("status", "--porcelain") == "?? state/devnet/pause.yaml"
    assert (workspace.env_dir / "pause.yaml").read_text(encoding="utf-8").splitlines()[-2:] == [
        "paused: true",
        'reason: "imported from the chain"',
    ]
    (workspace.env_dir / "pause.yaml").unlink()

    again = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "still investigating")
    assert again.returncode == 0
    assert again.stdout == "the token of devnet is already paused: nothing sent\n"

    lifted = workspace.jinbi("unpause", "--env", "devnet", "--state-dir", "state", "--reason", "key rotated")
    assert lifted.returncode == 0, lifted.stderr
    assert not paused(chain)
    clean = workspace.jinbi(*DRIFT_ARGS)
    assert clean.returncode == 0, clean.stdout


def test_pause_needs_a_reason(chain: Any, workspace: Workspace) -> None:
    missing = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state")
    assert missing.returncode == 1
    assert "Missing option '--reason'" in missing.stderr
    empty = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "  ")
    assert empty.returncode == 1
    assert empty.stderr.splitlines()[0] == "error: the reason is empty"
    assert not paused(chain)


def test_pause_despite_environment_finding(chain: Any, workspace: Workspace) -> None:
    # A duplicate key under checks: stops every other command, but not the break-glass pause.
    environment_file = workspace.env_dir / "environment.yaml"
    text = environment_file.read_text(encoding="utf-8")
    environment_file.write_text(text + "checks:\n  activity_window_hours: 24\n  activity_window_hours: 48\n", encoding="utf-8")
    assert workspace.jinbi("validate", "--env", "devnet", "--state-dir", "state").returncode == 1

    sent = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "incident 42")

    assert sent.returncode == 0, sent.stderr
    assert paused(chain)
    assert "duplicate key" in sent.stderr
    assert "(pausing anyway)" in sent.stderr


def test_pause_without_the_role_sends_nothing(chain: Any, workspace: Workspace) -> None:
    # Anvil's second development account has no role on the token.
    environment = workspace.environ()
    environment["JINBI_PRIVATE_KEY"] = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    refused = subprocess.run(
        [str(JINBI), "pause", "--env", "devnet", "--state-dir", "state", "--reason", "test"],
        cwd=workspace.root, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert refused.returncode == 1
    first = refused.stderr.splitlines()[0]
    assert first.startswith("error: CompliantSecurityToken.pause from 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 would revert: ")
    assert "AccessControlUnauthorizedAccount" in first
    assert "59c6995e" not in refused.stderr
    assert not paused(chain)


def test_pause_in_yaml_not_drift(chain: Any, workspace: Workspace) -> None:
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "pause.yaml", workspace.env_dir / "pause.yaml")
    workspace.commit("Manage the pause state")
    workspace.apply()

    # The break-glass pause writes its state and reason into the Pause file, for a commit.
    sent = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "custodian incident")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[-1] == (
        f"wrote {Path('state') / 'devnet' / 'pause.yaml'}: commit it, or the next apply sends the token back "
        "to the state the committed file asks for"
    )
    pending = workspace.jinbi(*DRIFT_ARGS)
    assert pending.returncode == 2
    assert pending.stdout.splitlines()[3].startswith(
        "  pause security_token paused: YAML false, chain true (state/devnet/pause.yaml:"
    )
    assert pending.stdout.splitlines()[3].endswith("; the work tree already has the chain's value, commit it")

    workspace.commit("Pause: custodian incident")
    clean = workspace.jinbi(*DRIFT_ARGS)
    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.splitlines()[-1] == "No drift: the chain matches the YAML at HEAD."
    planned = workspace.jinbi("plan", "--env", "devnet", "--state-dir", "state", "--no-simulate")
    assert planned.returncode == 0, planned.stderr
    assert "No changes: the chain matches the YAML." in planned.stdout
    assert paused(chain)


@pytest.mark.parametrize("pause", [True, False])
def test_unreachable_node_error_hides_the_url_key(
    workspace: Workspace, pause: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    key = "9aa3d95b3bc440fa88ea12eaa4456161"
    monkeypatch.setenv("JINBI_RPC_URL", f"http://127.0.0.1:{free_port()}/v3/{key}?apikey={key}")
    monkeypatch.delenv("JINBI_PRIVATE_KEY", raising=False)
    fast = rpc.RetryPolicy(attempts=2, first_wait=0.01, max_wait=0.02)

    with pytest.raises(ChainError) as raised:
        break_glass(workspace.root / "state", "devnet", pause=pause, reason="node test", rpc_retry=fast,
                    journal_dir=workspace.root / "journal", lock_dir=workspace.root / "locks")  # fmt: skip

    assert raised.value.message == "reading the pause state of devnet failed: ConnectionError: connection failed"
    reported = f"{raised.value.message}\n{raised.value.hint}\n{caplog.text}\n{capsys.readouterr()}"
    assert "failed temporarily, retrying" in caplog.text
    assert key not in reported


def test_invalid_reason_sends_nothing(chain: Any, workspace: Workspace) -> None:
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "pause.yaml", workspace.env_dir / "pause.yaml")
    workspace.commit("Manage the pause state")
    workspace.apply()
    pause_file = (workspace.env_dir / "pause.yaml").read_text(encoding="utf-8")
    nonce = chain.w3.eth.get_transaction_count(SIGNER)
    token_paused = paused(chain)

    long = workspace.jinbi("unpause" if token_paused else "pause", "--env", "devnet", "--state-dir", "state",
                           "--reason", "x" * 614)  # fmt: skip
    escaped = workspace.jinbi("pause", "--env", "devnet", "--state-dir", "state", "--reason", "ok\x1b[2J")

    assert long.returncode == 1, long.stdout
    assert long.stderr.splitlines()[:2] == [
        "error: the reason is too long (614 characters, at most 500): nothing was sent",
        "hint: shorten --reason to at most 500 characters, and keep the details in the incident record",
    ]
    assert escaped.returncode == 1, escaped.stdout
    assert escaped.stderr.splitlines()[0] == "error: the reason contains the control character U+001B at character 3"
    assert chain.w3.eth.get_transaction_count(SIGNER) == nonce
    assert paused(chain) == token_paused
    assert (workspace.env_dir / "pause.yaml").read_text(encoding="utf-8") == pause_file


def test_pause_after_unpause_is_outside(chain: Any, workspace: Workspace) -> None:
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "pause.yaml", workspace.env_dir / "pause.yaml")
    workspace.edit("pause.yaml", "paused: false", "paused: true")
    workspace.commit("Pause the token")
    workspace.apply()  # the last applied commit wants the token paused
    lifted = workspace.jinbi("unpause", "--env", "devnet", "--state-dir", "state", "--reason", "incident closed")
    assert lifted.returncode == 0, lifted.stderr
    workspace.commit("Unpause: incident closed")
    assert workspace.jinbi(*DRIFT_ARGS).returncode == 0

    chain.contracts["security_token"].functions.pause().transact({"from": SIGNER})
    drifted = workspace.jinbi(*DRIFT_ARGS)

    assert drifted.returncode == 2, drifted.stderr
    lines = drifted.stdout.splitlines()
    assert lines[2] == "changed outside the reconciler (1):"
    assert lines[3].startswith("  pause security_token paused: YAML false, chain true (state/devnet/pause.yaml:")
    assert "pending in an unapplied commit (" not in drifted.stdout


def test_noop_unpause_keeps_the_file(chain: Any, workspace: Workspace) -> None:
    pause_file = workspace.env_dir / "pause.yaml"
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "pause.yaml", pause_file)
    before = pause_file.read_text(encoding="utf-8")

    lifted = workspace.jinbi("unpause", "--env", "devnet", "--state-dir", "state", "--reason", "again")

    assert lifted.returncode == 0, lifted.stderr
    assert lifted.stdout == "the token of devnet is already not paused: nothing sent\n"
    assert pause_file.read_text(encoding="utf-8") == before
