"""ComplianceOracle: the reason code of every rule, its order, the Reg S lockup edge,
and the operator rules."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import (
    OK,
    OPERATOR_BLOCKED,
    OPERATOR_NOT_KYC,
    OPERATOR_NOT_REGISTERED,
    PARTITION_144A,
    PARTITION_REGS,
    RECEIVER_BLOCKED,
    RECEIVER_NOT_KYC,
    RECEIVER_NOT_QIB,
    RECEIVER_NOT_REGISTERED,
    SENDER_BLOCKED,
    SENDER_LOCKED,
    SENDER_NOT_KYC,
    SENDER_NOT_REGISTERED,
    UNKNOWN_PARTITION,
    mine_at,
    send,
)

OTHER_PARTITION = b"144a".ljust(32, b"\0")


@pytest.fixture
def oracle(chain: Any) -> Any:
    return chain.contracts["compliance_oracle"]


@pytest.mark.parametrize(
    ("partition", "sender", "receiver", "reason"),
    [
        pytest.param(PARTITION_144A, "qib", "qib2", OK, id="144a-qib-to-qib"),
        pytest.param(PARTITION_REGS, "regs_free", "regs_locked", OK, id="regs-free-to-locked-receiver"),
        pytest.param(PARTITION_REGS, "qib", "regs_free", OK, id="regs-to-non-qib"),
        pytest.param(PARTITION_144A, "regs_locked", "qib", OK, id="lockup-ignored-on-144a"),
        pytest.param(OTHER_PARTITION, "qib", "qib2", UNKNOWN_PARTITION, id="unknown-partition"),
        pytest.param(PARTITION_144A, "blocked", "qib", SENDER_BLOCKED, id="sender-blocked"),
        pytest.param(PARTITION_144A, "unregistered", "qib", SENDER_NOT_REGISTERED, id="sender-unregistered"),
        pytest.param(PARTITION_144A, "not_kyc", "qib", SENDER_NOT_KYC, id="sender-not-kyc"),
        pytest.param(PARTITION_REGS, "regs_locked", "qib", SENDER_LOCKED, id="sender-locked"),
        pytest.param(PARTITION_144A, "qib", "blocked", RECEIVER_BLOCKED, id="receiver-blocked"),
        pytest.param(PARTITION_144A, "qib", "unregistered", RECEIVER_NOT_REGISTERED, id="receiver-unregistered"),
        pytest.param(PARTITION_144A, "qib", "not_kyc", RECEIVER_NOT_KYC, id="receiver-not-kyc"),
        pytest.param(PARTITION_144A, "qib", "regs_free", RECEIVER_NOT_QIB, id="receiver-not-qib"),
        pytest.param(PARTITION_144A, "blocked", "not_kyc", SENDER_BLOCKED, id="sender-checked-first"),
        pytest.param(PARTITION_REGS, "regs_locked", "blocked", SENDER_LOCKED, id="lockup-before-receiver"),
    ],
)
def test_can_transfer_reason(
    oracle: Any, registered: Any, partition: bytes, sender: str, receiver: str, reason: int
) -> None:
    people = registered.people

    result = oracle.functions.canTransfer(partition, getattr(people, sender), getattr(people, receiver), 1).call()

    assert result == [reason == OK, reason]


@pytest.mark.parametrize(
    ("partition", "receiver", "reason"),
    [
        pytest.param(PARTITION_144A, "qib", OK, id="144a-qib"),
        pytest.param(PARTITION_REGS, "regs_free", OK, id="regs-non-qib"),
        pytest.param(PARTITION_REGS, "regs_locked", OK, id="regs-locked-receiver"),
        pytest.param(OTHER_PARTITION, "qib", UNKNOWN_PARTITION, id="unknown-partition"),
        pytest.param(PARTITION_REGS, "blocked", RECEIVER_BLOCKED, id="blocked"),
        pytest.param(PARTITION_REGS, "unregistered", RECEIVER_NOT_REGISTERED, id="unregistered"),
        pytest.param(PARTITION_REGS, "not_kyc", RECEIVER_NOT_KYC, id="not-kyc"),
        pytest.param(PARTITION_144A, "regs_free", RECEIVER_NOT_QIB, id="144a-not-qib"),
    ],
)
def test_can_receive_reason(oracle: Any, registered: Any, partition: bytes, receiver: str, reason: int) -> None:
    result = oracle.functions.canReceive(partition, getattr(registered.people, receiver)).call()

    assert result == [reason == OK, reason]


@pytest.mark.parametrize(
    ("operator", "reason"),
    [
        pytest.param("qib", OK, id="qib"),
        pytest.param("regs_free", OK, id="non-qib"),
        pytest.param("regs_locked", OK, id="lockup-ignored"),
        pytest.param("blocked", OPERATOR_BLOCKED, id="blocked"),
        pytest.param("unregistered", OPERATOR_NOT_REGISTERED, id="unregistered"),
        pytest.param("not_kyc", OPERATOR_NOT_KYC, id="not-kyc"),
    ],
)
def test_can_operate_reason(oracle: Any, registered: Any, operator: str, reason: int) -> None:
    result = oracle.functions.canOperate(getattr(registered.people, operator)).call()

    assert result == [reason == OK, reason]


def test_can_operate_checks_block_first(chain: Any, oracle: Any, registered: Any) -> None:
    # A blocked address that was never registered gets OPERATOR_BLOCKED, as a sender gets SENDER_BLOCKED.
    people = registered.people
    registry = chain.contracts["compliance_registry"]
    send(registry.functions.blockAddresses([people.outsider]), people.admin)

    assert oracle.functions.canOperate(people.outsider).call() == [False, OPERATOR_BLOCKED]


def test_lockup_holds_one_second_before_end(chain: Any, oracle: Any, registered: Any) -> None:
    people = registered.people
    mine_at(chain.w3, registered.lockup_until - 1)

    result = oracle.functions.canTransfer(PARTITION_REGS, people.regs_locked, people.qib, 1).call()

    assert result == [False, SENDER_LOCKED]


def test_lockup_releases_at_end_timestamp(chain: Any, oracle: Any, registered: Any) -> None:
    people = registered.people
    mine_at(chain.w3, registered.lockup_until)

    result = oracle.functions.canTransfer(PARTITION_REGS, people.regs_locked, people.qib, 1).call()

    assert result == [True, OK]


def test_lockup_of_reads_registry(oracle: Any, registered: Any) -> None:
    people = registered.people

    assert oracle.functions.lockupOf(people.regs_locked).call() == registered.lockup_until
    assert oracle.functions.lockupOf(people.qib).call() == 0


def test_oracle_reads_deployed_registry(chain: Any, oracle: Any) -> None:
    assert oracle.functions.registry().call() == chain.deployment.compliance_registry


def test_oracle_accepts_token_partitions(chain: Any, oracle: Any, registered: Any) -> None:
    token = chain.contracts["security_token"]

    for partition in token.functions.partitions().call():
        assert oracle.functions.canReceive(partition, registered.people.qib).call() == [True, OK]


def test_oracle_abi_lists_five_functions(oracle: Any) -> None:
    # At seven external functions solc 0.8.30 splits the selector dispatch, which
    # costs every canTransfer call 23 gas (see contracts/README.md).
    functions = sorted(entry["name"] for entry in oracle.abi if entry["type"] == "function")

    assert functions == ["canOperate", "canReceive", "canTransfer", "lockupOf", "registry"]
