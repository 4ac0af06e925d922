"""A git repository in a temporary folder with a small devnet state, and `jinbi` run inside it.

The YAML is in the committed format (entries sorted by address), so `jinbi drift --write` changes only
the lines it adopts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import PROJECT_ROOT
from reconciler.chain.packing import PackedInvestor, pack_investor

JINBI = PROJECT_ROOT / ".venv" / "bin" / "jinbi"
SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first development account
QIB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account 1
REGS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil account 2
NEWCOMER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil account 3
BLOCKED = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"

SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/{}.schema.json\n"
INVESTORS = SCHEMA_LINE.format("investors") + f"""kind: Investors
investors:
  "{REGS}":
    ref: INV-0002
    kyc: true
    qib: false
    jurisdiction: "SG"
  "{QIB}":
    ref: INV-0001
    kyc: true
    qib: true
    jurisdiction: "US"
"""
SANCTIONS = SCHEMA_LINE.format("sanctions") + f"""kind: Sanctions
blocked:
  "{BLOCKED}": {{source: OFAC-SDN, listed_on: "2024-11-19"}}
"""
ALLOCATIONS = SCHEMA_LINE.format("allocations") + f"""kind: Allocations
allocations:
  ALLOC-0001: {{partition: "144A", investor: "{QIB}", amount: "1000", price: "1.000000", trade_date: "2026-09-01"}}
"""

# Variables that would change what git or jinbi do, left out of every child's environment.
_DROPPED = ("JINBI_PRIVATE_KEY", "JINBI_KEYSTORE", "JINBI_GIT_BASE", "GITHUB_BASE_REF", "GITHUB_HEAD_REF")


@dataclass
class Workspace:
    """A git repository holding state/devnet, and the chain `jinbi` runs against."""

    root: Path
    rpc_url: str
    clock: int = 1_790_000_000  # commit times, one minute apart, so commits are ordered and reproducible

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def env_dir(self) -> Path:
        return self.state_dir / "devnet"

    def environ(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if key not in _DROPPED}
        environment.update(
            JINBI_RPC_URL=self.rpc_url,
            GIT_AUTHOR_NAME="Compliance Officer",
            GIT_AUTHOR_EMAIL="compliance@example.com",
            GIT_COMMITTER_NAME="Compliance Officer",
            GIT_COMMITTER_EMAIL="compliance@example.com",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
        )
        return environment

    def git(self, *args: str) -> str:
        self.clock += 60
        environment = self.environ()
        environment["GIT_AUTHOR_DATE"] = environment["GIT_COMMITTER_DATE"] = f"{self.clock} +0000"
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=environment, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str) -> str:
        self.git("checkout", "--quiet", "main")
        self.git("merge", "--quiet", "--no-ff", branch, "-m", message)
        return self.git("rev-parse", "HEAD")

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.env_dir / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def jinbi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(JINBI), *args],
            cwd=self.root,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def apply(self) -> subprocess.CompletedProcess[str]:
        """Apply the state at HEAD, without the fork simulation, and check that it converged."""
        applied = self.jinbi("apply", "--env", "devnet", "--state-dir", "state", "--auto-approve", "--no-simulate")
        assert applied.returncode == 0, applied.stderr
        return applied


def make_workspace(root: Path, rpc_url: str) -> Workspace:
    """Create a repository on branch main with the small devnet state committed."""
    root.mkdir()
    workspace = Workspace(root, rpc_url)
    workspace.git("init", "--quiet", "--initial-branch", "main")
    (root / ".gitignore").write_text("/.jinbi/\n/*.json\n", encoding="utf-8")
    workspace.env_dir.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "state" / "devnet" / "environment.yaml", workspace.env_dir / "environment.yaml")
    (workspace.env_dir / "investors.yaml").write_text(INVESTORS, encoding="utf-8")
    (workspace.env_dir / "sanctions.yaml").write_text(SANCTIONS, encoding="utf-8")
    (workspace.env_dir / "allocations.yaml").write_text(ALLOCATIONS, encoding="utf-8")
    workspace.commit("Add the devnet state")
    return workspace


def set_on_chain(chain: Any, *investors: PackedInvestor) -> str:
    """Write investors straight to the registry, as someone outside the reconciler would; return the tx hash."""
    words = [pack_investor(investor) for investor in investors]
    tx_hash = chain.contracts["compliance_registry"].functions.setInvestors(words).transact({"from": SIGNER})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return str(tx_hash.to_0x_hex())
