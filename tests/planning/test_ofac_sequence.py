"""Real sanctions lists end to end: every OFAC Ethereum snapshot imported, planned and sent in date order.

The snapshots are the dated extracts of the SDN list's Ethereum addresses
from the `shared_data` folder, read where they are. Each step imports one list
into a copy of the committed devnet state with the product's importer, plans
against the chain of the previous step, sends the plan from anvil's
unlocked development account and reads the chain again.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from apply_support import plan_now, send_plan
from eth_utils.address import to_checksum_address

from reconciler import PROJECT_ROOT
from reconciler.chain.observe import observe
from reconciler.desired import DesiredState, load_state
from reconciler.desired.sanctions_import import import_sanctions
from reconciler.errors import PlanError, ValidationError
from reconciler.model import SanctionsEntry
from reconciler.planning.calls import DEFAULT_GAS_CAP, TX_BASE_GAS, Function
from reconciler.planning.plan import Plan
from reconciler.planning.records import Verb
from reconciler.planning.simulate import simulate_plan

pytestmark = pytest.mark.shared_data

OLDEST = "sanctioned-eth-2022-09-03.txt"
# The committed devnet state has made-up OFAC-SDN entries listed in 2024 and
# 2025, and the importer rejects a list older than the newest entry of its
# source. The real lists are therefore imported under a source of their own,
# which also leaves the committed entries as they are.
SOURCE = "OFAC-SDN-ETH"
# Room for ten blocks a transaction by the gas model, so that the larger
# updates of the sequence are split over several transactions.
SPLIT_GAS_CAP = TX_BASE_GAS + 10 * Function.BLOCK_ADDRESSES.spec.item_gas


def snapshots(shared_data: Path) -> list[Path]:
    """Return the text snapshots in date order: the date follows the same prefix in every name.

    The folder's JSON list is a copy of the newest text snapshot, so it is left out.
    """
    return sorted((shared_data / "ofac-eth").glob("sanctioned-eth-*.txt"))


def listed(path: Path) -> set[str]:
    """Read a snapshot without the product's parser: one address a line, as EIP-55."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {to_checksum_address(line.strip()) for line in lines if line.strip() and not line.startswith("#")}


def keys(plan: Plan, verb: Verb) -> set[str]:
    return {action.key for action in plan.actions if action.verb is verb}


def transactions_of(plan: Plan, function: Function) -> int:
    return sum(1 for transaction in plan.transactions if transaction.function is function)


def fewest_transactions(items: int, function: Function, gas_cap: int) -> int:
    """Return the fewest transactions that carry ITEMS calls of FUNCTION under GAS_CAP by the gas model."""
    spec = function.spec
    per_transaction = (gas_cap - spec.base_gas) // spec.item_gas
    return -(-items // per_transaction)


def blocked_on_chain(chain: Any, desired: DesiredState) -> set[str]:
    return set(observe(chain.w3, desired.environment).state.sanctions)


def active(sanctions: Mapping[str, SanctionsEntry]) -> set[str]:
    """Return the addresses that SANCTIONS blocks: entries without delisted_on."""
    return {address for address, entry in sanctions.items() if entry.blocked}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A copy of the committed devnet state, which the imports rewrite."""
    shutil.copytree(PROJECT_ROOT / "state" / "devnet", tmp_path / "state" / "devnet")
    return tmp_path / "state"


def test_oldest_snapshot_applies_to_fresh_chain(chain: Any, shared_data: Path, state_dir: Path) -> None:
    oldest = snapshots(shared_data)[0]
    assert oldest.name == OLDEST
    committed_blocked = active(load_state(state_dir, "devnet").state.sanctions)

    import_sanctions(state_dir, "devnet", oldest, source=SOURCE)
    desired = load_state(state_dir, "devnet")
    plan = plan_now(desired, chain)

    assert keys(plan, Verb.BLOCK) == committed_blocked | listed(oldest)
    assert keys(plan, Verb.UNBLOCK) == set()
    assert transactions_of(plan, Function.BLOCK_ADDRESSES) == 1
    simulated = simulate_plan(plan, desired, chain.url)
    assert simulated.simulation.startswith(f"simulated on an anvil fork at block {plan.block_number}: ")

    send_plan(chain, simulated)
    assert blocked_on_chain(chain, desired) == committed_blocked | listed(oldest)
    assert not plan_now(desired, chain).has_changes


@pytest.mark.parametrize("revocation_limit", [None, 0], ids=["committed-policy", "no-unblock-without-flag"])
def test_each_update_sends_the_set_difference(
    chain: Any, shared_data: Path, state_dir: Path, revocation_limit: int | None
) -> None:
    paths = snapshots(shared_data)
    assert len(paths) > 1
    if revocation_limit is not None:
        # A lower policy.max_revocations_per_apply makes the real delistings mass changes.
        environment_file = state_dir / "devnet" / "environment.yaml"
        text = environment_file.read_text(encoding="utf-8")
        assert "  max_revocations_per_apply: 25\n" in text
        environment_file.write_text(
            text.replace("  max_revocations_per_apply: 25\n", f"  max_revocations_per_apply: {revocation_limit}\n"),
            encoding="utf-8",
        )
    flagged = []
    committed_blocked = active(load_state(state_dir, "devnet").state.sanctions)
    import_sanctions(state_dir, "devnet", paths[0], source=SOURCE)
    send_plan(chain, plan_now(load_state(state_dir, "devnet"), chain))

    previous = listed(paths[0])
    for path in paths[1:]:
        current = listed(path)
        added, removed = current - previous, previous - current
        limit = load_state(state_dir, "devnet").environment.policy.max_revocations_per_apply
        mass = len(removed) > limit

        # More delistings than the policy allows need the mass-change flag, in the importer and in the plan.
        if mass:
            flagged.append(path.name)
            with pytest.raises(ValidationError):
                import_sanctions(state_dir, "devnet", path, source=SOURCE)
        report = import_sanctions(state_dir, "devnet", path, source=SOURCE, allow_mass_change=mass)
        assert (set(report.added) | set(report.relisted), set(report.delisted)) == (added, removed), path.name
        desired = load_state(state_dir, "devnet")

        # Under the default gas cap, each update fits in one transaction per function.
        plan = plan_now(desired, chain, allow_mass_change=mass)
        assert keys(plan, Verb.BLOCK) == added, path.name
        assert keys(plan, Verb.UNBLOCK) == removed, path.name
        assert plan.verb_counts() == {
            verb: count for verb, count in ((Verb.BLOCK, len(added)), (Verb.UNBLOCK, len(removed))) if count
        }, path.name
        assert fewest_transactions(len(added), Function.BLOCK_ADDRESSES, DEFAULT_GAS_CAP) == (1 if added else 0)
        assert transactions_of(plan, Function.BLOCK_ADDRESSES) == (1 if added else 0), path.name
        assert transactions_of(plan, Function.UNBLOCK_ADDRESSES) == (1 if removed else 0), path.name
        if mass:
            with pytest.raises(PlanError, match="max_revocations_per_apply"):
                plan_now(desired, chain)

        # A small gas cap splits the same actions over the fewest transactions that fit. That plan
        # runs on a fork first and is then sent.
        split = plan_now(desired, chain, allow_mass_change=mass, gas_cap=SPLIT_GAS_CAP)
        assert [(action.verb, action.key) for action in split.actions] == [
            (action.verb, action.key) for action in plan.actions
        ], path.name
        for function, count in ((Function.BLOCK_ADDRESSES, len(added)), (Function.UNBLOCK_ADDRESSES, len(removed))):
            assert transactions_of(split, function) == fewest_transactions(count, function, SPLIT_GAS_CAP), path.name
        split = simulate_plan(split, desired, chain.url)
        assert split.simulation.startswith("simulated on an anvil fork"), path.name
        used = send_plan(chain, split)
        assert all(gas <= transaction.gas_estimate for gas, transaction in zip(used, split.transactions, strict=True))

        assert blocked_on_chain(chain, desired) == committed_blocked | current, path.name
        after = plan_now(desired, chain)
        assert not after.has_changes, path.name
        assert after.warnings == (), path.name
        previous = current

    # The committed limit (25) is above every real update; a limit of 0 flags each update that delists.
    assert (len(flagged) > 0) is (revocation_limit == 0)
