"""A chain one plan away from a target state that needs 21 actions of all eight kinds, with its plan file.

`build_world` starts an anvil of its own with the suite deployed. It applies
the committed devnet state and settles its bookings, books one more
allocation and leaves it open, and moves the clock to the first coupon's
payment date. The target state then blocks five addresses, unblocks one,
adds five investors and changes four, cancels the open booking, books three
allocations and pays the due coupon: 21 actions in 7 transactions. `jinbi
plan --out` writes the plan file once, simulated, and the chain is
snapshotted. `World.new_case` reverts to that snapshot, and
`assert_converged_once` checks the chain after an apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli_support import (
    Workspace,
    converge,
    edit_yaml,
    made_up_address,
    make_workspace,
    plan_on_chain,
    revert,
    snapshot,
)

from reconciler.chain import artifacts
from reconciler.devnet import LocalChain, dev_account
from reconciler.devnet_ops import parse_moment, settle_open_bookings, warp

TRANSACTIONS = 7
BOOKINGS_AFTER = 13  # ALLOC-0001 to 0009 settled, 0011 cancelled, 0012 to 0014 booked
BOOKING_CANCELLED, BOOKING_BOOKED = 3, 1
NEW_BLOCKED = [made_up_address(f"crash/blocked/{number}") for number in range(5)]
NEW_INVESTORS = [made_up_address(f"crash/investor/{number}") for number in range(5)]
DELISTED = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"
CHANGED_INVESTORS = {
    "0x0BBA75eafd6Eb15A2ADDd316Ff1a5591d3c2b408": {"kyc": False},
    "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0": {"jurisdiction": "AU"},
    "0x0aeff8372Ae8Db427bD48756E55904Ac3098C36B": {"lockup_until": "2027-06-30T00:00:00Z"},
    "0x0EA6E8B246DdfE6d6aAa12caf1B6E16CD80352d0": {"kyc": True},
}
OPEN_BOOKING = {
    "partition": "144A",
    "investor": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "amount": "5000",
    "price": "1.000000",
    "trade_date": "2026-12-01",
}


@dataclass
class World:
    """The chain, workspace and plan file, and the values at the snapshot."""

    chain: LocalChain
    workspace: Workspace
    plan_file: Path
    plan: dict[str, Any]
    snapshot_id: str
    nonce_before: int
    treasury_before: int

    def apply_args(self, *options: str) -> tuple[str, ...]:
        state_dir = str(self.workspace.state_dir)
        return ("apply", "--env", "devnet", "--state-dir", state_dir, str(self.plan_file), *options)

    def new_case(self, name: str) -> Path:
        """Return the chain to the snapshot, and a fresh working folder for the case."""
        revert(self.chain.w3, self.snapshot_id)
        # A new block after the revert, because anvil may lose the head block's state there (see tests/conftest.py).
        self.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.snapshot_id = snapshot(self.chain.w3)
        folder = self.workspace.root / "cases" / name
        folder.mkdir(parents=True)
        return folder

    def contract(self, name: str, artifact: str) -> Any:
        return self.chain.w3.eth.contract(address=getattr(self.chain.deployment, name), abi=artifacts.load(artifact).abi)

    def coupon_amount(self) -> int:
        (payment,) = [item for item in self.plan["transactions"] if item["function"] == "CorporateActions.payCoupon"]
        return int(payment["call"]["arguments"][-1]["value"])


def build_world(root: Path) -> World:
    """Start a chain, bring it one plan away from the target state, and write that plan's file under ROOT."""
    chain = LocalChain.start()
    try:
        workspace = make_workspace(root, chain.deployment, chain.url)
        w3 = chain.w3

        # The committed state, settled; then one open booking, and the clock at the first coupon's payment date.
        converge(w3, workspace.state_dir)
        settle_open_bookings(chain.port)
        edit_yaml(workspace.env_dir / "allocations.yaml", lambda document: _add_open_booking(document))
        converge(w3, workspace.state_dir)
        warp(chain.port, parse_moment("2026-12-31"))

        # The reviewed plan of the target state, simulated so that it records the values it sets.
        _edit_to_target(workspace)
        plan_file = root / "plan.json"
        state_dir = str(workspace.state_dir)
        planned = workspace.jinbi("plan", "--env", "devnet", "--state-dir", state_dir, "--out", str(plan_file))
        assert planned.returncode == 0, planned.describe()

        usdc = w3.eth.contract(address=chain.deployment.usdc, abi=artifacts.load("MockUSDC").abi)
        return World(
            chain=chain,
            workspace=workspace,
            plan_file=plan_file,
            plan=json.loads(plan_file.read_text()),
            snapshot_id=snapshot(w3),
            nonce_before=w3.eth.get_transaction_count(dev_account().address),
            treasury_before=usdc.functions.balanceOf(chain.deployment.treasury).call(),
        )
    except BaseException:
        chain.stop()
        raise


def _add_open_booking(document: dict[str, Any]) -> None:
    document["allocations"]["ALLOC-0011"] = dict(OPEN_BOOKING)


def _edit_to_target(workspace: Workspace) -> None:
    def sanctions(document: dict[str, Any]) -> None:
        for address in NEW_BLOCKED:
            document["blocked"][address] = {"source": "OFAC-SDN", "listed_on": "2026-12-20"}
        document["blocked"][DELISTED]["delisted_on"] = "2026-12-20"

    def investors(document: dict[str, Any]) -> None:
        for number, address in enumerate(NEW_INVESTORS):
            document["investors"][address] = {
                "ref": f"INV-{100 + number:04d}", "kyc": True, "qib": True, "jurisdiction": "US",
            }  # fmt: skip
        for address, fields in CHANGED_INVESTORS.items():
            document["investors"][address].update(fields)

    def allocations(document: dict[str, Any]) -> None:
        document["allocations"]["ALLOC-0011"]["status"] = "cancelled"
        bookings = {
            "ALLOC-0012": (NEW_INVESTORS[0], "10000", "1.000000"),
            "ALLOC-0013": (NEW_INVESTORS[1], "20000", "0.999500"),
            "ALLOC-0014": ("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "5000", "1.000000"),
        }
        for booking_id, (investor, amount, price) in bookings.items():
            document["allocations"][booking_id] = {
                "partition": "144A", "investor": investor, "amount": amount, "price": price,
                "trade_date": "2026-12-20",
            }  # fmt: skip

    edit_yaml(workspace.env_dir / "sanctions.yaml", sanctions)
    edit_yaml(workspace.env_dir / "investors.yaml", investors)
    edit_yaml(workspace.env_dir / "allocations.yaml", allocations)


def assert_converged_once(world: World, other_transactions: int = 0) -> None:
    """Check that the chain matches the target state and that every effect of the plan happened once.

    OTHER_TRANSACTIONS counts the transactions from the signer's account that the test sent besides the plan's.
    """
    w3 = world.chain.w3
    assert not plan_on_chain(w3, world.workspace.state_dir).has_changes

    # One mined transaction per planned transaction: no resend took a nonce of its own.
    expected_nonce = world.nonce_before + TRANSACTIONS + other_transactions
    assert w3.eth.get_transaction_count(dev_account().address) == expected_nonce

    # Each booking exists once, with the status the YAML gives it.
    bookings = world.contract("dvp_settlement", "DvPSettlement").functions.bookingsPage(0, 100).call()
    ids = [booking[0].rstrip(b"\0").decode() for booking in bookings]
    assert len(ids) == BOOKINGS_AFTER
    assert len(set(ids)) == BOOKINGS_AFTER
    statuses = {booking[0].rstrip(b"\0").decode(): booking[5] for booking in bookings}
    assert statuses["ALLOC-0011"] == BOOKING_CANCELLED
    assert [statuses[f"ALLOC-{number:04d}"] for number in (12, 13, 14)] == [BOOKING_BOOKED] * 3

    # The coupon was paid once, and the treasury paid exactly its amount.
    corporate_actions = world.contract("corporate_actions", "CorporateActions")
    assert corporate_actions.functions.cycleCount().call() == 1
    usdc = world.contract("usdc", "MockUSDC")
    treasury = world.chain.deployment.treasury
    assert usdc.functions.balanceOf(treasury).call() == world.treasury_before - world.coupon_amount()
    assert usdc.functions.allowance(treasury, corporate_actions.address).call() == 0
