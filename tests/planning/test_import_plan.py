"""Property against a real anvil: the YAML that `jinbi import` writes plans to nothing.

Each case brings the session's chain to a state by sending plans, runs the
`jinbi import` command into a temporary state folder, then runs the planning
path of `jinbi plan` (YAML, one observation, build, simulation) on that folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from apply_support import SIGNER, plan_now, send_plan

from reconciler import PROJECT_ROOT
from reconciler.desired import DesiredState, load_state
from reconciler.desired.values import parse_date
from reconciler.model import AllocationStatus, CouponCycle, State
from reconciler.planning.run import PlanRequest, make_plan
from reconciler.planning.simulate import NOTHING_TO_SIMULATE

JINBI = PROJECT_ROOT / ".venv" / "bin" / "jinbi"
COMMITTED = PROJECT_ROOT / "state" / "devnet"
EVERY_FILE = ("environment.yaml", "investors.yaml", "sanctions.yaml", "allocations.yaml", "coupons.yaml")
USDC = 10**6
INVESTOR_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's account 1, the investor of ALLOC-0001


def committed() -> DesiredState:
    return load_state(PROJECT_ROOT / "state", "devnet")


def fresh(chain: Any) -> None:
    """Leave the chain as deployed: nothing registered, blocked, booked or paid."""


def devnet_applied(chain: Any) -> None:
    """Send the plan of the committed devnet state."""
    send_plan(chain, plan_now(committed(), chain))


def lifecycle(chain: Any) -> None:
    """Apply the devnet state, settle a booking, then revoke, unblock, cancel and pay a coupon."""
    desired = committed()
    send_plan(chain, plan_now(desired, chain))

    usdc, dvp = chain.contracts["usdc"], chain.contracts["dvp_settlement"]
    for call, sender in (
        (usdc.functions.transfer(INVESTOR_1, 250_000 * USDC), SIGNER),
        (usdc.functions.approve(dvp.address, 250_000 * USDC), INVESTOR_1),
        (dvp.functions.settle(b"ALLOC-0001".ljust(32, b"\0")), INVESTOR_1),
    ):
        assert chain.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))["status"] == 1

    model = desired.state
    revoked = "0x02eD6bc395722c2d21127B5254F56d93dc0Fe7F0"
    delisted = "0x417568b76BB9809aBa037e3fdfB5BF38CC5561A3"
    edited = State(
        investors={**model.investors, revoked: replace(model.investors[revoked], kyc=False)},
        sanctions={**model.sanctions, delisted: replace(model.sanctions[delisted], delisted_on=parse_date("2026-09-30"))},
        allocations={
            **model.allocations,
            "ALLOC-0009": replace(model.allocations["ALLOC-0009"], status=AllocationStatus.CANCELLED),
        },
        coupon_cycles={"9": CouponCycle("9", "2026-Q1", 125, parse_date("2026-03-15"), parse_date("2026-03-31"))},
    )
    second = plan_now(replace(desired, state=edited), chain)
    assert {verb.name for verb in second.verb_counts()} == {"CANCEL", "UPDATE_INVESTOR", "UNBLOCK", "APPROVE", "PAY_COUPON"}
    send_plan(chain, second)


def jinbi_import(chain: Any, state_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "JINBI_PRIVATE_KEY"}
    environment["JINBI_RPC_URL"] = chain.url
    return subprocess.run(
        [str(JINBI), "import", "--env", "devnet", "--state-dir", str(state_dir)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("bring_chain", "start_files", "counts"),
    [
        (fresh, ("environment.yaml",), (0, 0, 0, 0)),
        (devnet_applied, ("environment.yaml", "allocations.yaml"), (40, 9, 9, 0)),
        (devnet_applied, ("environment.yaml",), (40, 9, 9, 0)),
        (lifecycle, EVERY_FILE, (40, 8, 9, 1)),
    ],
    ids=["fresh-deployment", "devnet-applied-placeholders", "devnet-applied-environment-only", "lifecycle-committed-files"],
)
def test_imported_state_plans_nothing(
    chain: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bring_chain: Callable[[Any], None],
    start_files: tuple[str, ...],
    counts: tuple[int, int, int, int],
) -> None:
    bring_chain(chain)
    # The import starts from some of the committed files: it keeps the refs, sources and
    # dates they hold and writes placeholders for the others.
    state_dir = tmp_path / "state"
    (state_dir / "devnet").mkdir(parents=True)
    for name in start_files:
        shutil.copy(COMMITTED / name, state_dir / "devnet" / name)

    imported = jinbi_import(chain, state_dir)
    assert imported.returncode == 0, imported.stderr
    state = load_state(state_dir, "devnet").state
    assert (len(state.investors), len(state.sanctions), len(state.allocations), len(state.coupon_cycles)) == counts

    monkeypatch.setenv("JINBI_RPC_URL", chain.url)
    plan = make_plan(PlanRequest(env="devnet", state_dir=state_dir, signer=SIGNER))
    assert plan.actions == ()
    assert plan.transactions == ()
    assert plan.warnings == ()
    assert plan.scheduled == ()
    assert plan.simulation == NOTHING_TO_SIMULATE
    assert plan.summary() == "No changes: the chain matches the YAML."
