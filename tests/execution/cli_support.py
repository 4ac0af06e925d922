"""Helpers of the command-line tests: a workspace per chain, `jinbi` runs, state edits and the key scan.

A workspace is a temporary folder with a copy of state/devnet whose
environment file names the test chain's contracts. Every command runs with
the workspace (or a folder under it) as its working folder, so the journal
and lock files under .jinbi/ land there, and with JINBI_RPC_URL and
JINBI_PRIVATE_KEY set as the merge job sets them.

`Workspace.jinbi` runs the installed `jinbi` executable. `Workspace.forked`
runs the same entry point in a process forked from a forkserver that has
imported the reconciler already (cli_child.py), for tests that run the
command dozens of times. Every output of both is kept for the key scan.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cli_child import CliRun, run_cli
from execution_support import KEY_SPELLINGS
from web3 import Web3

from reconciler import PROJECT_ROOT
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.devnet import DEV_PRIVATE_KEY, dev_account, write_environment
from reconciler.planning.plan import Plan, PlanOptions, build_plan

JINBI = Path(sys.executable).parent / "jinbi"
ENV = "devnet"

# The forkserver imports these before it forks, so each forked command starts with them loaded.
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(
    ["cli_child", "reconciler.cli", "reconciler.execution.run", "reconciler.planning.run", "reconciler.chain.observe"]
)


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit code (-9 when it was killed) and its output."""

    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@dataclass
class Workspace:
    """A state folder for one test chain, and every output of the commands run on it."""

    root: Path
    state_dir: Path
    rpc_url: str
    outputs: list[tuple[str, str]] = field(default_factory=list)
    runs: int = 0

    @property
    def env_dir(self) -> Path:
        return self.state_dir / ENV

    def environ(self, rpc_url: str | None = None) -> dict[str, str]:
        """Return the environment of a command: this process's, without JINBI_ variables, plus the RPC URL and key."""
        variables = {name: value for name, value in os.environ.items() if not name.startswith("JINBI_")}
        variables["JINBI_RPC_URL"] = rpc_url or self.rpc_url
        variables["JINBI_PRIVATE_KEY"] = DEV_PRIVATE_KEY
        return variables

    def jinbi(
        self,
        *args: str,
        cwd: Path | None = None,
        rpc_url: str | None = None,
        stdin: str | None = None,
        environ: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> Completed:
        """Run the `jinbi` executable with ARGS and return its exit code and output."""
        completed = subprocess.run(
            [str(JINBI), *args],
            cwd=cwd or self.root,
            env=environ or self.environ(rpc_url),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return self._keep(args, Completed(completed.returncode, completed.stdout, completed.stderr))

    def start_jinbi(self, *args: str, cwd: Path, rpc_url: str | None = None) -> subprocess.Popen[str]:
        """Start the `jinbi` executable with ARGS in the background; collect it with `finish`."""
        return subprocess.Popen(
            [str(JINBI), *args],
            cwd=cwd,
            env=self.environ(rpc_url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str], timeout: float = 60) -> Completed:
        """Wait for a command that `start_jinbi` started and return its exit code and output."""
        stdout, stderr = process.communicate(timeout=timeout)
        arguments = tuple(str(argument) for argument in process.args[1:])  # type: ignore[index]
        return self._keep(arguments, Completed(process.returncode, stdout, stderr))

    def forked(
        self,
        *args: str,
        cwd: Path | None = None,
        rpc_url: str | None = None,
        kill_at_save: int | None = None,
        kill_when: str = "after",
        record: Path | None = None,
        timeout: float = 60,
    ) -> Completed:
        """Run `reconciler.cli.main` with ARGS in a process forked from the preloaded forkserver."""
        self.runs += 1
        cwd = cwd or self.root
        stdout, stderr = cwd / f"run-{self.runs}.out", cwd / f"run-{self.runs}.err"
        run = CliRun(
            args=args,
            env=self.environ(rpc_url),
            cwd=str(cwd),
            stdout=str(stdout),
            stderr=str(stderr),
            kill_at_save=kill_at_save,
            kill_when=kill_when,
            record=None if record is None else str(record),
        )
        process = _FORKSERVER.Process(target=run_cli, args=(run,))
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise AssertionError(f"jinbi {' '.join(args)} did not finish within {timeout:g} s")
        assert process.exitcode is not None
        completed = Completed(process.exitcode, _read(stdout), _read(stderr))
        return self._keep(args, completed)

    def _keep(self, args: tuple[str, ...], completed: Completed) -> Completed:
        label = "jinbi " + " ".join(args)
        self.outputs += [(f"{label} stdout", completed.stdout), (f"{label} stderr", completed.stderr)]
        return completed


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def make_workspace(root: Path, deployment: Any, rpc_url: str) -> Workspace:
    """Copy state/devnet under ROOT and write its environment file for DEPLOYMENT."""
    state_dir = root / "state"
    shutil.copytree(PROJECT_ROOT / "state" / ENV, state_dir / ENV)
    write_environment(state_dir / ENV / "environment.yaml", deployment)
    return Workspace(root=root, state_dir=state_dir, rpc_url=rpc_url)


# --- desired state edits -----------------------------------------------------


def edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load the YAML file at PATH, let CHANGE edit the document, and write it back after the same header comments."""
    text = path.read_text(encoding="utf-8")
    header = [line for line in text.splitlines(keepends=True) if line.startswith("#")]
    header = header[: next((n for n, line in enumerate(text.splitlines()) if not line.startswith("#")), len(header))]
    document = yaml.safe_load(text)
    change(document)
    path.write_text("".join(header) + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def made_up_address(label: str) -> str:
    """Return an EIP-55 address derived from LABEL's hash, which no key is known for."""
    return Web3.to_checksum_address(Web3.keccak(text=f"jinbi-test/{label}")[-20:])


# --- the chain -----------------------------------------------------------------


def plan_on_chain(w3: Web3, state_dir: Path) -> Plan:
    """Plan the devnet state under STATE_DIR against W3's chain as it is now, with the dev account as signer."""
    desired = load_state(state_dir, ENV)
    observation = observe(w3, desired.environment)
    return build_plan(desired, observation, PlanOptions(signer=dev_account().address, allow_mass_change=True))


def converge(w3: Web3, state_dir: Path) -> int:
    """Send the plan of STATE_DIR from anvil's unlocked accounts, in order; return the number of transactions."""
    plan = plan_on_chain(w3, state_dir)
    for transaction in plan.transactions:
        tx_hash = w3.eth.send_transaction(
            {"from": transaction.sender, "to": transaction.to, "data": transaction.data, "gas": transaction.gas_estimate}
        )
        assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1, transaction.function.qualified_name
    return len(plan.transactions)


def snapshot(w3: Web3) -> str:
    reply = w3.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
    return str(reply["result"])


def revert(w3: Web3, snapshot_id: str) -> None:
    reply = w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
    assert reply.get("result") is True, reply


# --- the key scan --------------------------------------------------------------


def written_texts(root: Path) -> list[tuple[str, str]]:
    """Return the path and text of every file under ROOT."""
    return [(str(path), path.read_text(errors="replace")) for path in sorted(root.rglob("*")) if path.is_file()]


def texts_with_key(texts: list[tuple[str, str]]) -> list[str]:
    """Return the label of each text that contains the development key in any spelling."""
    return [label for label, text in texts if any(spelling in text for spelling in KEY_SPELLINGS)]
