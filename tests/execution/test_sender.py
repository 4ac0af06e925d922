"""Broadcasting against a real anvil: how node replies are classified, and lost or refused requests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from execution_support import QUICK_RETRY, nonce_of, onboarding_plan, reload, run, set_investors
from support.rpc_proxy import MethodFaults, fault_proxy
from web3 import HTTPProvider, Web3

from reconciler.chain import rpc as chain_rpc
from reconciler.devnet import dev_account
from reconciler.execution import Journal, Signer, State
from reconciler.execution.sender import BroadcastResult, Reply, broadcast

def signed_transfer(chain: Any, account: Any, nonce: int, *, value: int = 1, priority_fee: int = 10**9) -> str:
    transaction = {
        "type": 2,
        "chainId": 31337,
        "nonce": nonce,
        "to": chain.accounts[9],
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": priority_fee,
    }
    return Web3.to_hex(account.sign_transaction(transaction).raw_transaction)


@pytest.fixture
def dev(chain: Any) -> Any:
    return dev_account()


def nonce_of_pending(chain: Any, account: Any) -> int:
    return int(chain.w3.eth.get_transaction_count(account.address, "pending"))


# --- classification of node replies -------------------------------------------


def test_first_broadcast_accepted(chain: Any, dev: Any) -> None:
    raw = signed_transfer(chain, dev, nonce_of_pending(chain, dev))

    assert broadcast(chain.w3, raw, "a transfer", QUICK_RETRY) == BroadcastResult(Reply.ACCEPTED)


def test_same_transaction_twice_already_known(chain: Any, dev: Any, manual_mining: None) -> None:
    raw = signed_transfer(chain, dev, nonce_of_pending(chain, dev))
    broadcast(chain.w3, raw, "a transfer", QUICK_RETRY)

    result = broadcast(chain.w3, raw, "a transfer", QUICK_RETRY)

    assert result.reply is Reply.ALREADY_KNOWN


def test_mined_transaction_again_nonce_too_low(chain: Any, dev: Any) -> None:
    raw = signed_transfer(chain, dev, nonce_of_pending(chain, dev))
    broadcast(chain.w3, raw, "a transfer", QUICK_RETRY)
    # anvil may mine a moment after it accepted the transaction.
    chain.w3.eth.wait_for_transaction_receipt(Web3.keccak(hexstr=raw), timeout=10)

    result = broadcast(chain.w3, raw, "a transfer", QUICK_RETRY)

    assert result.reply is Reply.NONCE_TOO_LOW


def test_same_nonce_same_fees_underpriced(chain: Any, dev: Any, manual_mining: None) -> None:
    nonce = nonce_of_pending(chain, dev)
    broadcast(chain.w3, signed_transfer(chain, dev, nonce, value=1), "a transfer", QUICK_RETRY)

    result = broadcast(chain.w3, signed_transfer(chain, dev, nonce, value=2), "a transfer", QUICK_RETRY)

    assert result.reply is Reply.UNDERPRICED


def test_account_without_funds_rejected(chain: Any) -> None:
    poor = Account.create()

    result = broadcast(chain.w3, signed_transfer(chain, poor, 0), "a transfer", QUICK_RETRY)

    assert result.reply is Reply.REJECTED
    assert "insufficient funds" in result.message.lower()


# --- lost and refused requests, through a fault-injecting proxy ----------------


def test_lost_send_response_resolved_once(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    start = nonce_of(chain, signer)
    faults = MethodFaults()
    faults.lose_response["eth_sendRawTransaction"] = 1

    with fault_proxy(chain.url, faults) as proxy, caplog.at_level(logging.INFO):
        # The transport retries the send. anvil has the first one, so it replies "nonce too low"
        # once it has mined it, and "already known" before that.
        w3 = chain_rpc.connect_url(proxy.url, policy=chain_rpc.RetryPolicy(first_wait=0.01))
        result = run(chain, signer, plan, journal, lock_dir, w3=w3)

    assert result.ok
    assert faults.seen["eth_sendRawTransaction"] == 2
    assert "failed temporarily, retrying in" in caplog.text
    assert f"nonce {start} is already used" in caplog.text or "was already known to the node" in caplog.text
    assert nonce_of(chain, signer) == start + 1
    assert reload(journal).records[0].state is State.MINED


def test_lost_send_response_resolved_as_known(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, manual_mining: None, caplog: pytest.LogCaptureFixture
) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    start = nonce_of(chain, signer)
    faults = MethodFaults()
    faults.lose_response["eth_sendRawTransaction"] = 1

    with fault_proxy(chain.url, faults) as proxy, caplog.at_level(logging.INFO):
        w3 = chain_rpc.connect_url(proxy.url, policy=chain_rpc.RetryPolicy(first_wait=0.01))

        def mine_when_all_sent(event: Any) -> None:
            if event.index == 2:
                chain.w3.provider.make_request("evm_mine", [])

        result = run(chain, signer, plan, journal, lock_dir, w3=w3, progress=mine_when_all_sent)

    assert result.ok
    assert "was already known to the node" in caplog.text
    assert nonce_of(chain, signer) == start + 3


def test_refused_send_retried_by_execution(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    faults = MethodFaults()
    faults.unavailable["eth_sendRawTransaction"] = 2

    with fault_proxy(chain.url, faults) as proxy, caplog.at_level(logging.WARNING):
        # A plain provider without retries, so the execution's own retries are what recovers.
        w3 = Web3(HTTPProvider(proxy.url, exception_retry_configuration=None))
        result = run(chain, signer, plan, journal, lock_dir, w3=w3)

    assert result.ok
    assert faults.seen["eth_sendRawTransaction"] == 3
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:2] == [
        "sending #0 ComplianceRegistry.setInvestors (1 items) failed temporarily, retrying in 0.01 s "
        f"(attempt {attempt} of 3): HTTP 503 Service Unavailable"
        for attempt in (2, 3)
    ]


def test_refused_send_outlasting_retries_left_pending(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path
) -> None:
    plan = onboarding_plan(chain.deployment, chain.accounts)
    faults = MethodFaults()
    faults.unavailable["eth_sendRawTransaction"] = 3

    with fault_proxy(chain.url, faults) as proxy:
        w3 = Web3(HTTPProvider(proxy.url, exception_retry_configuration=None))
        result = run(chain, signer, plan, journal, lock_dir, w3=w3)

    statuses = [outcome.status.value for outcome in result.outcomes]
    assert statuses == ["pending", "not sent", "not sent"]
    assert result.outcomes[1].error == "not sent because sending transaction #0 failed"
    # The rerun, with the node reachable again, sends the journaled transaction and the rest.
    rerun = run(chain, signer, plan, reload(journal), lock_dir)
    assert rerun.ok


def test_receipt_polling_survives_outage(
    chain: Any, signer: Signer, journal: Journal, lock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[1]])]
    faults = MethodFaults()
    faults.unavailable["eth_blockNumber"] = 2

    with fault_proxy(chain.url, faults) as proxy, caplog.at_level(logging.WARNING):
        w3 = Web3(HTTPProvider(proxy.url, exception_retry_configuration=None))
        result = run(chain, signer, plan, journal, lock_dir, w3=w3)

    assert result.ok
    assert caplog.text.count("polling for receipts failed temporarily, retrying in 0.01 s: HTTP 503") == 2

