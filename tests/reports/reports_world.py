"""A chain with three months of history for the report tests: settlements, transfers, a force transfer, a coupon.

`build_world` starts an anvil of its own with the suite deployed, applies a
copy of the committed devnet state (with INV-0004 made a QIB and given a 144A
booking, so one holder has both partitions) and settles every booking. Then:

- 2026-11-10: INV-0005 sends 1,000 RegS to INV-0007 (a secondary transfer before the record date).
- 2026-12-20: force transfer ORDER-2026-001 moves 500 RegS from INV-0009 to INV-0006,
  and INV-0005's transfer to an unregistered address is rejected.
- 2026-12-31: `jinbi apply` pays coupon cycle 1 (record date 2026-12-15). The statements
  are written to `before/`, then INV-0001 sends 2,000 144A to INV-0002, and the
  statements are written again to `after/`.
- The cap-table snapshot of 2026-Q4 is recorded, and a block is mined on 2027-01-02.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from reconciler import PROJECT_ROOT, cli
from reconciler.chain import artifacts
from reconciler.devnet import DEV_PRIVATE_KEY, LocalChain, dev_account, write_environment
from reconciler.devnet_ops import parse_moment, settle_open_bookings, warp

JINBI = Path(sys.executable).parent / "jinbi"
ENV = "devnet"
TOKEN = 10**18

INV_0001 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # 144A
INV_0002 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # 144A
INV_0004 = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # RegS, and 144A through ALLOC-0011
INV_0005 = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # RegS
INV_0006 = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"  # RegS
INV_0007 = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"  # RegS
INV_0009 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # RegS
UNREGISTERED = "0x000000000000000000000000000000000000dEaD"

# A 144A booking with an amount whose share of the coupon cannot come out even.
BOTH_PARTITIONS_144A = "12345.678901234567890123"
NOVEMBER_TRANSFER = 1_000 * TOKEN  # INV-0005 -> INV-0007, RegS
FORCE_TRANSFER = 500 * TOKEN  # INV-0009 -> INV-0006, RegS
DECEMBER_TRANSFER = 2_000 * TOKEN  # INV-0001 -> INV-0002, 144A, after the record date
SNAPSHOT_PERIOD = "2026-Q4"
# The committed state files the world applies; files of other kinds are left out.
STATE_FILES = ("investors.yaml", "sanctions.yaml", "allocations.yaml", "coupons.yaml")
SNAPSHOT_CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@dataclass
class World:
    """The chain and the state folder, with the statements written before and after the December transfer."""

    chain: LocalChain
    root: Path
    state_dir: Path
    before: Completed  # `jinbi report coupons` before the December transfer, into root/before
    after: Completed  # the same after it, into root/after
    paid_amount: int  # USDC base units of cycle 1, as CorporateActions recorded it

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    def jinbi(self, *args: str, cwd: Path | None = None) -> Completed:
        """Run the `jinbi` executable in ROOT (or CWD) against this world's chain."""
        environ = {name: value for name, value in os.environ.items() if not name.startswith("JINBI_")}
        environ["JINBI_RPC_URL"] = self.chain.url
        environ["JINBI_PRIVATE_KEY"] = DEV_PRIVATE_KEY
        completed = subprocess.run(
            [str(JINBI), *args],
            cwd=cwd or self.root,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Completed(completed.returncode, completed.stdout, completed.stderr)

    def run(self, *args: str, cwd: Path | None = None) -> Completed:
        """Run `reconciler.cli.main` with ARGS in this process, as the executable would, and return its output.

        Faster than `jinbi` by the seconds it takes a new process to import the reconciler.
        """
        stdout, stderr = io.StringIO(), io.StringIO()
        saved = (os.getcwd(), sys.argv, os.environ.get("JINBI_RPC_URL"))
        os.environ["JINBI_RPC_URL"] = self.chain.url
        os.chdir(cwd or self.root)
        sys.argv = ["jinbi", *args]
        code = 0
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                cli.main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            os.chdir(saved[0])
            sys.argv = saved[1]
            if saved[2] is None:
                del os.environ["JINBI_RPC_URL"]
            else:
                os.environ["JINBI_RPC_URL"] = saved[2]
        return Completed(code, stdout.getvalue(), stderr.getvalue())

    def contract(self, key: str, artifact: str) -> Contract:
        return self.w3.eth.contract(address=getattr(self.chain.deployment, key), abi=artifacts.load(artifact).abi)


def partition_id(name: str) -> bytes:
    return name.encode("ascii").ljust(32, b"\0")


def _send(call: Any, sender: str, *, gas: int | None = None) -> Any:
    options: dict[str, Any] = {"from": sender}
    if gas is not None:
        options["gas"] = gas  # skips the estimate, so a transaction that reverts is still mined
    receipt = call.w3.eth.wait_for_transaction_receipt(call.transact(options))
    return receipt


def _edit_state(env_dir: Path) -> None:
    """Make INV-0004 a QIB and give it a 144A booking next to its RegS one."""
    investors = env_dir / "investors.yaml"
    text = investors.read_text(encoding="utf-8")
    block = f'  "{INV_0004}":\n    ref: INV-0004\n    kyc: true\n    qib: false\n'
    assert block in text
    investors.write_text(text.replace(block, block.replace("qib: false", "qib: true")), encoding="utf-8")
    allocations = env_dir / "allocations.yaml"
    booking = (
        f'  ALLOC-0011: {{partition: "144A", investor: "{INV_0004}", amount: "{BOTH_PARTITIONS_144A}", '
        'price: "1.000000", trade_date: "2026-09-01"}\n'
    )
    allocations.write_text(allocations.read_text(encoding="utf-8") + booking, encoding="utf-8")


def build_world(root: Path) -> World:
    """Start a chain and give it the history in the module docstring; stop the chain if anything fails."""
    chain = LocalChain.start()
    try:
        return _build(chain, root)
    except BaseException:
        chain.stop()
        raise


def _build(chain: LocalChain, root: Path) -> World:
    state_dir = root / "state"
    (state_dir / ENV).mkdir(parents=True)
    for name in STATE_FILES:
        shutil.copy(PROJECT_ROOT / "state" / ENV / name, state_dir / ENV / name)
    write_environment(state_dir / ENV / "environment.yaml", chain.deployment)
    _edit_state(state_dir / ENV)
    world = World(chain, root, state_dir, Completed(0, "", ""), Completed(0, "", ""), 0)
    apply_args = ("apply", "--env", ENV, "--state-dir", str(state_dir), "--auto-approve", "--no-simulate", "--no-git-notes")
    token = world.contract("security_token", "CompliantSecurityToken")
    admin = dev_account().address

    # October: the bookings of the YAML, settled by their investors.
    applied = world.run(*apply_args)
    assert applied.returncode == 0, applied.describe()
    assert len(settle_open_bookings(chain.port)) == 10

    # November: a secondary transfer before the record date.
    warp(chain.port, parse_moment("2026-11-10"))
    assert _send(token.functions.transferByPartition(partition_id("RegS"), INV_0007, NOVEMBER_TRANSFER), INV_0005)["status"] == 1

    # December, after the record date: a force transfer and a rejected transfer.
    warp(chain.port, parse_moment("2026-12-20"))
    order = token.functions.forceTransfer(
        partition_id("ORDER-2026-001"), partition_id("RegS"), INV_0009, INV_0006, FORCE_TRANSFER, "Case 26-CV-0042"
    )
    assert _send(order, admin)["status"] == 1
    rejected = token.functions.transferByPartition(partition_id("RegS"), UNREGISTERED, TOKEN)
    assert _send(rejected, INV_0005, gas=300_000)["status"] == 0

    # The payment date: the coupon is paid, and the statements are written before and after a transfer.
    warp(chain.port, parse_moment("2026-12-31"))
    applied = world.run(*apply_args)
    assert applied.returncode == 0, applied.describe()
    paid = world.contract("corporate_actions", "CorporateActions").functions.cycle(1).call()
    world.paid_amount = int(paid[5])
    report_args = ("report", "coupons", "--env", ENV, "--state-dir", str(state_dir), "--cycle", "1")
    world.before = world.jinbi(*report_args, "--out", str(root / "before"))
    assert _send(token.functions.transferByPartition(partition_id("144A"), INV_0002, DECEMBER_TRANSFER), INV_0001)["status"] == 1
    world.after = world.jinbi(*report_args, "--out", str(root / "after"))

    # The quarter's cap-table snapshot, and a block in January, so December has ended.
    bridge = world.contract("transfer_agent_bridge", "TransferAgentBridge")
    assert _send(bridge.functions.recordSnapshots([(SNAPSHOT_PERIOD, SNAPSHOT_CID)]), admin)["status"] == 1
    warp(chain.port, parse_moment("2027-01-02"))
    return world
