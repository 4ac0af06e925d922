"""The GitOps loop on a local repository and anvil: branch, plan, merge, apply, drift, adopt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gitops_support import NEWCOMER, REGS, Workspace, make_workspace, set_on_chain

from reconciler.chain.packing import PackedInvestor
from reconciler.desired import load_state
from reconciler.execution.run import read_plan_file

PLAN_ARGS = ("plan", "--env", "devnet", "--state-dir", "state", "--no-simulate")
DRIFT_ARGS = ("drift", "--env", "devnet", "--state-dir", "state")

# The pull request's plan comment. The values that change from run to run
# (block, hashes, commits) are filled in from the plan file and the repository.
EXPECTED_COMMENT = """\
<!-- jinbi-plan environment=devnet digest={digest} part=1/1 -->
### JINBI plan for devnet

Plan digest {digest_escaped}

Chain 31337 at block {block} ({block_hash}), git commit {head}, signer 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, \
not simulated.

Branch onboard-newcomer, author Compliance Officer &#60;compliance&#64;&#8203;example&#46;com&#62;, \
merge base {base_short} with main: 1 file changed.

| change | count |
|---|---:|
| investors to update | 1 |
| investors to add | 1 |
| transactions | 1 |

<details><summary>Investors&#58; 2 to change</summary>

| | item | change | source |
|---|---|---|---|
| <code>&#126;</code> | 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC | would change jurisdiction SG -&#62; HK (restrictive) \
| [investors&#46;yaml&#58;8](<state/devnet/investors.yaml#L8>), last changed in {edit_short} |
| <code>&#43;</code> | 0x90F79bf6EB2c4f870365E785982E1f101E93b906 | would add&#58; kyc true, qib false, jurisdiction FR, \
lockup&#95;until none | [investors&#46;yaml&#58;14](<state/devnet/investors.yaml#L14>), last changed in {edit_short} |

</details>

<details><summary>Transactions: 1</summary>

| # | call | items | to | gas (estimate) | stages |
|---:|---|---:|---|---:|---|
| 1 | ComplianceRegistry&#46;setInvestors | 2 | 0x5FbDB2315678afecb367f032d93F642f64180aa3 | 118,000 | restrictive/permissive |

</details>

<details><summary>Files changed since the merge base&#58; 1</summary>

| file |
|---|
| state&#47;devnet&#47;investors&#46;yaml |

</details>


**Plan&#58; 1 investor to update, 1 investor to add in 1 transaction&#46;**
"""


@pytest.fixture
def workspace(chain: Any, tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "repo", chain.url)


def open_pull_request(workspace: Workspace) -> str:
    """On a new branch, move INV-0002 to HK and onboard INV-0003; return the commit."""
    workspace.git("checkout", "--quiet", "-b", "onboard-newcomer")
    workspace.edit("investors.yaml", 'jurisdiction: "SG"', 'jurisdiction: "HK"')
    with (workspace.env_dir / "investors.yaml").open("a", encoding="utf-8") as file:
        file.write(f'  "{NEWCOMER}":\n    ref: INV-0003\n    kyc: true\n    qib: false\n    jurisdiction: "FR"\n')
    return workspace.commit("Onboard INV-0003 and move INV-0002 to HK")


def test_gitops_loop(chain: Any, workspace: Workspace) -> None:
    base = workspace.git("rev-parse", "HEAD")
    workspace.apply()

    # The pull request: its plan comment names each YAML line and the commit that last changed it.
    edit = open_pull_request(workspace)
    planned = workspace.jinbi(*PLAN_ARGS, "--format", "markdown", "--out", "plan.json")
    assert planned.returncode == 0, planned.stderr
    document = json.loads((workspace.root / "plan.json").read_text(encoding="utf-8"))
    assert document["git"] == {
        "commit": edit,
        "branch": "onboard-newcomer",
        "author": "Compliance Officer <compliance@example.com>",
        "base_ref": "main",
        "merge_base": base,
        "changed_files": ["state/devnet/investors.yaml"],
    }
    assert [action["source"]["commit"] for action in document["actions"]] == [edit, edit]
    assert planned.stdout == EXPECTED_COMMENT.format(
        digest=document["digest"],
        digest_escaped=document["digest"].replace(":", "&#58;"),
        block=document["block"]["number"],
        block_hash=document["block"]["hash"],
        head=edit,
        base_short=base[:12],
        edit_short=edit[:12],
    )

    # The same inputs give the same plan file, byte for byte, and it passes the plan file's schema.
    again = workspace.jinbi(*PLAN_ARGS, "--format", "json")
    assert again.stdout == (workspace.root / "plan.json").read_text(encoding="utf-8")
    environment = load_state(workspace.state_dir, "devnet").environment
    assert read_plan_file(workspace.root / "plan.json", environment)["git"]["branch"] == "onboard-newcomer"

    # Merge and apply: the chain then matches the YAML at HEAD.
    workspace.merge("onboard-newcomer", "Merge onboard-newcomer")
    workspace.apply()
    clean = workspace.jinbi(*DRIFT_ARGS)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.splitlines()[-1] == "No drift: the chain matches the YAML at HEAD."

    # Someone revokes INV-0002's KYC straight on chain: drift reports it as changed outside.
    set_on_chain(chain, PackedInvestor(REGS, False, False, "HK", 0))
    drifted = workspace.jinbi(*DRIFT_ARGS)
    assert drifted.returncode == 2, drifted.stderr
    lines = drifted.stdout.splitlines()
    assert lines[2:4] == [
        "changed outside the reconciler (1):",
        f"  investors {REGS} kyc: YAML true, chain false (state/devnet/investors.yaml:6)",
    ]
    assert lines[-1].startswith("Drift: 1 changed outside the reconciler, 0 pending in an unapplied commit.")

    # --write adopts the chain's value in the YAML; once committed, drift is gone.
    adopted = workspace.jinbi(*DRIFT_ARGS, "--write")
    assert adopted.returncode == 2, adopted.stderr
    assert "adopted 1 on-chain value in the YAML" in adopted.stdout
    assert workspace.git("diff", "--stat") == (
        "state/devnet/investors.yaml | 3 ++-\n 1 file changed, 2 insertions(+), 1 deletion(-)"
    )
    assert f'"{REGS}":\n    ref: INV-0002\n    kyc: false\n' in (workspace.env_dir / "investors.yaml").read_text()
    workspace.commit("Adopt the revoked KYC of INV-0002")
    after = workspace.jinbi(*DRIFT_ARGS)
    assert after.returncode == 0, after.stdout + after.stderr


def test_unapplied_commit_is_pending(chain: Any, workspace: Workspace) -> None:
    workspace.apply()
    workspace.edit("investors.yaml", 'jurisdiction: "SG"', 'jurisdiction: "HK"')
    workspace.commit("Move INV-0002 to HK")

    drifted = workspace.jinbi(*DRIFT_ARGS)
    assert drifted.returncode == 2, drifted.stderr
    assert drifted.stdout.splitlines()[2:4] == [
        "pending in an unapplied commit (1):",
        f"  investors {REGS} jurisdiction: YAML HK, chain SG (state/devnet/investors.yaml:8)",
    ]


def test_drift_without_any_apply_recorded(chain: Any, workspace: Workspace) -> None:
    drifted = workspace.jinbi(*DRIFT_ARGS, "--format", "markdown")
    assert drifted.returncode == 2, drifted.stderr
    assert drifted.stdout.startswith("<!-- jinbi-drift environment=devnet -->\n### JINBI drift in devnet\n")
    assert "last applied commit none recorded" in drifted.stdout
    rows = [line for line in drifted.stdout.splitlines() if line.startswith("| pending")]
    assert len(rows) == 4  # two investors, one blocked address, one allocation, all wanted by HEAD
