"""`run_apply` through a fault-injecting JSON-RPC proxy: it converges or fails clearly, and never duplicates an effect.

The chain and plan file come from target_world.py (21 actions in 7
transactions, a booking and a coupon payment among them). Between apply and
anvil sits tests/support/rpc_proxy.py with seeded random faults: dropped
connections before and after anvil handled the request, HTTP 500 and 429,
lost responses, and delays past the client's timeout, after which the
delayed request still reaches anvil. The apply runs in this process so that
its RPC timeout can be a fraction of a second. When it fails, a rerun
without faults must converge; either way each effect happened once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from target_world import World, assert_converged_once

from reconciler.chain.rpc import RetryPolicy as TransportRetry
from reconciler.errors import JinbiError
from reconciler.execution import RetryPolicy, Timeouts
from reconciler.execution.run import ApplyOutput, ApplyRequest, run_apply
from support.rpc_proxy import RANDOM_FAULT_KINDS, MethodFaults, Phase, RandomFaults, fault_proxy

RPC_TIMEOUT = 0.25  # seconds per JSON-RPC request
DELAY = 0.6  # seconds a delayed request waits in the proxy: past the timeout
SEEDS = (11, 12, 13, 14)


def apply_request(world: World, folder: Path) -> ApplyRequest:
    return ApplyRequest(
        env="devnet",
        state_dir=world.workspace.state_dir,
        plan_file=world.plan_file,
        auto_approve=True,
        journal_dir=folder / "journal",
        lock_dir=folder / "locks",
        audit_dir=folder / "audit",
        rpc_timeout=RPC_TIMEOUT,
        rpc_retry=TransportRetry(attempts=4, first_wait=0.01, max_wait=0.05),
        timeouts=Timeouts(poll_interval=0.05, replace_after=60.0, receipt_timeout=30.0, retry=RetryPolicy(3, 0.05)),
    )


def apply_once(request: ApplyRequest) -> tuple[list[str], JinbiError | None]:
    """Run one apply and return what it showed and the error it raised, if any."""
    shown: list[str] = []
    try:
        run_apply(request, ApplyOutput(show=shown.append, confirm=lambda question: False))
    except JinbiError as error:
        return shown, error
    return shown, None


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{seed}" for seed in SEEDS])
def test_random_faults_never_duplicate_effects(
    target_world: World, seed: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = target_world.new_case(f"faults-{seed}")
    request = apply_request(target_world, folder)
    monkeypatch.setenv("JINBI_PRIVATE_KEY", target_world.workspace.environ()["JINBI_PRIVATE_KEY"])
    faults = MethodFaults(random=RandomFaults(seed=seed, rate=0.25, delay=DELAY, limit=25))
    caplog.set_level(logging.WARNING)

    with fault_proxy(target_world.chain.url, faults) as proxy:
        monkeypatch.setenv("JINBI_RPC_URL", proxy.url)
        shown, error = apply_once(request)

    # Faults reached the sends, and the apply either converged or raised an error with a hint.
    assert faults.log, "no fault was injected"
    assert faults.injected["eth_sendRawTransaction"] >= 1
    if error is None:
        assert shown[-1].startswith("Apply complete: the chain matches the YAML")
    else:
        assert error.hint, f"{error.message} has no hint"
        monkeypatch.setenv("JINBI_RPC_URL", target_world.chain.url)
        shown, rerun_error = apply_once(request)
        assert rerun_error is None, rerun_error.message
    assert "failed temporarily, retrying in" in caplog.text
    assert_converged_once(target_world)


def test_fault_sequence_repeats_for_a_seed() -> None:
    first = RandomFaults(seed=SEEDS[0], rate=0.25)
    second = RandomFaults(seed=SEEDS[0], rate=0.25)
    methods = ["batch", "eth_chainId", "eth_sendRawTransaction", "eth_getTransactionReceipt"] * 50

    assert [first.draw(method, 0) for method in methods] == [second.draw(method, 0) for method in methods]


def test_every_fault_kind_is_drawn() -> None:
    faults = RandomFaults(seed=SEEDS[0], rate=0.25)
    drawn = {faults.draw("eth_sendRawTransaction", 0) for _ in range(200)}
    assert drawn == {None, *RANDOM_FAULT_KINDS}


def test_lost_send_responses_never_duplicate_effects(target_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = target_world.new_case("lost-send-responses")
    request = apply_request(target_world, folder)
    monkeypatch.setenv("JINBI_PRIVATE_KEY", target_world.workspace.environ()["JINBI_PRIVATE_KEY"])
    seen: set[bytes] = set()

    def lose_first_response(number: int, method: str, phase: Phase, body: bytes) -> bool:
        """Drop the connection after anvil accepted each signed transaction the first time it arrives."""
        if method != "eth_sendRawTransaction" or phase is not Phase.ANSWERED:
            return False
        raw = json.loads(body)["params"][0].encode()
        first = raw not in seen
        seen.add(raw)
        return first

    faults = MethodFaults(hook=lose_first_response)
    with fault_proxy(target_world.chain.url, faults) as proxy:
        monkeypatch.setenv("JINBI_RPC_URL", proxy.url)
        shown, error = apply_once(request)

    assert error is None, error.message if error else ""
    assert len(seen) == 7
    assert faults.seen["eth_sendRawTransaction"] == 14  # each transaction once lost, once resent
    assert_converged_once(target_world)


@pytest.mark.parametrize("phase", [Phase.RECEIVED, Phase.ANSWERED], ids=["before-anvil", "after-anvil"])
def test_outage_fails_clearly_then_rerun_converges(
    target_world: World, phase: Phase, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = target_world.new_case(f"outage-{phase.value}")
    request = apply_request(target_world, folder)
    monkeypatch.setenv("JINBI_PRIVATE_KEY", target_world.workspace.environ()["JINBI_PRIVATE_KEY"])
    transactions: list[bytes] = []

    def outage_from_fourth_send(number: int, method: str, at: Phase, body: bytes) -> bool:
        """Drop every connection that carries the fourth signed transaction or a later one, at PHASE."""
        if method != "eth_sendRawTransaction" or at is not phase:
            return False
        raw = json.loads(body)["params"][0].encode()
        if raw not in transactions:
            transactions.append(raw)
        return transactions.index(raw) >= 3

    with fault_proxy(target_world.chain.url, MethodFaults(hook=outage_from_fourth_send)) as proxy:
        monkeypatch.setenv("JINBI_RPC_URL", proxy.url)
        shown, error = apply_once(request)

    assert error is not None
    assert error.message.startswith("4 of 7 transactions were not confirmed: #3 pending: ")
    assert "sending failed, so the node may or may not have it: ConnectionError: connection failed" in error.message
    assert error.hint is not None and error.hint.startswith("rerun `jinbi apply` with the same plan")
    assert len(transactions) == 4  # nothing after the failed send was signed and sent

    monkeypatch.setenv("JINBI_RPC_URL", target_world.chain.url)
    shown, rerun_error = apply_once(request)
    assert rerun_error is None, rerun_error.message if rerun_error else ""
    assert_converged_once(target_world)
