"""CompliantSecurityToken transfers: the partition path, the plain ERC-20 path
(transfer and transferFrom) and issuance, each against every compliance rule, and
the operator rules of a spender who moves another holder's tokens."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import (
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
    TOKEN,
    UNKNOWN_PARTITION,
    called_functions,
    event_names,
    events,
    investor_word,
    revert_of,
    role,
    send,
)

ZERO = "0x" + "00" * 20
OTHER_PARTITION = b"Other".ljust(32, b"\0")
MAX_UINT = 2**256 - 1


@pytest.fixture
def token(chain: Any) -> Any:
    return chain.contracts["security_token"]


@pytest.fixture
def spender(chain: Any, registered: Any, people: Any) -> str:
    """Register a KYC'd GB investor who is not a QIB and holds no tokens, as a compliant spender.

    Returns the spender's address.
    """
    account = str(chain.accounts[8])
    registry = chain.contracts["compliance_registry"]
    send(registry.functions.setInvestors([investor_word(account, jurisdiction="GB")]), people.admin)
    return account


def balances(token: Any, account: str) -> tuple[int, int, int]:
    return (
        token.functions.balanceOfByPartition(PARTITION_144A, account).call(),
        token.functions.balanceOfByPartition(PARTITION_REGS, account).call(),
        token.functions.balanceOf(account).call(),
    )


# Rule violations shared by both paths: (sender, receiver, partition the rule hits, amount, reason).
RULES = [
    pytest.param("blocked", "qib", PARTITION_144A, TOKEN, SENDER_BLOCKED, id="sender-blocked"),
    pytest.param("qib", "blocked", PARTITION_144A, TOKEN, RECEIVER_BLOCKED, id="receiver-blocked"),
    pytest.param("qib", "unregistered", PARTITION_144A, TOKEN, RECEIVER_NOT_REGISTERED, id="receiver-unregistered"),
    pytest.param("qib", "not_kyc", PARTITION_144A, TOKEN, RECEIVER_NOT_KYC, id="receiver-not-kyc"),
    pytest.param("qib", "regs_free", PARTITION_144A, TOKEN, RECEIVER_NOT_QIB, id="receiver-not-qib"),
    pytest.param("regs_locked", "qib", PARTITION_REGS, TOKEN, SENDER_LOCKED, id="sender-locked"),
]


# --- partition path ----------------------------------------------------------


def test_transfer_by_partition_moves_balance(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.transferByPartition(PARTITION_REGS, people.regs_free, 20 * TOKEN), people.qib)

    assert balances(token, people.qib) == (100 * TOKEN, 30 * TOKEN, 130 * TOKEN)
    assert balances(token, people.regs_free) == (0, 320 * TOKEN, 320 * TOKEN)


def test_transfer_by_partition_emits_both_events(chain: Any, token: Any, funded: Any, people: Any) -> None:
    receipt = send(token.functions.transferByPartition(PARTITION_144A, people.qib2, 5 * TOKEN), people.qib)

    assert event_names(receipt, {"token": token}) == ["TransferByPartition", "Transfer"]
    assert events(receipt, token, "TransferByPartition") == [
        {"partition": PARTITION_144A, "from": people.qib, "to": people.qib2, "amount": 5 * TOKEN}
    ]
    assert events(receipt, token, "Transfer") == [{"from": people.qib, "to": people.qib2, "value": 5 * TOKEN}]


@pytest.mark.parametrize(("sender", "receiver", "partition", "amount", "reason"), RULES)
def test_transfer_by_partition_enforces_rule(
    token: Any, funded: Any, people: Any, sender: str, receiver: str, partition: bytes, amount: int, reason: int
) -> None:
    source, target = getattr(people, sender), getattr(people, receiver)

    error = revert_of(token.functions.transferByPartition(partition, target, amount), source)

    assert error.name == "TransferNotAllowed"
    assert error.args == (partition, source, target, reason)


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        pytest.param("unregistered", SENDER_NOT_REGISTERED, id="sender-unregistered"),
        pytest.param("not_kyc", SENDER_NOT_KYC, id="sender-not-kyc"),
    ],
)
def test_transfer_by_partition_checks_rules_before_balance(
    token: Any, funded: Any, people: Any, sender: str, reason: int
) -> None:
    source = getattr(people, sender)

    error = revert_of(token.functions.transferByPartition(PARTITION_144A, people.qib, TOKEN), source)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, source, people.qib, reason)


def test_transfer_by_partition_rejects_unknown_partition(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transferByPartition(OTHER_PARTITION, people.qib2, 1), people.qib)

    assert error.name == "TransferNotAllowed"
    assert error.args == (OTHER_PARTITION, people.qib, people.qib2, UNKNOWN_PARTITION)


def test_transfer_by_partition_rejects_overdraft(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transferByPartition(PARTITION_REGS, people.qib2, 51 * TOKEN), people.qib)

    assert error.name == "InsufficientPartitionBalance"
    assert error.args == (PARTITION_REGS, people.qib, 50 * TOKEN, 51 * TOKEN)


def test_transfer_by_partition_rejects_zero_receiver(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transferByPartition(PARTITION_144A, ZERO, 1), people.qib)

    assert error.name == "ERC20InvalidReceiver"
    assert error.args == (ZERO,)


# --- plain ERC-20 path: transfer ---------------------------------------------


def test_transfer_takes_144a_first(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.transfer(people.qib2, 60 * TOKEN), people.qib)

    assert balances(token, people.qib) == (40 * TOKEN, 50 * TOKEN, 90 * TOKEN)
    assert balances(token, people.qib2) == (60 * TOKEN, 0, 60 * TOKEN)


def test_transfer_spills_into_regs(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.transfer(people.qib2, 120 * TOKEN), people.qib)

    assert balances(token, people.qib) == (0, 30 * TOKEN, 30 * TOKEN)
    assert balances(token, people.qib2) == (100 * TOKEN, 20 * TOKEN, 120 * TOKEN)


def test_transfer_spanning_partitions_emits_each_part(token: Any, funded: Any, people: Any) -> None:
    receipt = send(token.functions.transfer(people.qib2, 120 * TOKEN), people.qib)

    assert event_names(receipt, {"token": token}) == ["TransferByPartition", "TransferByPartition", "Transfer"]
    assert events(receipt, token, "TransferByPartition") == [
        {"partition": PARTITION_144A, "from": people.qib, "to": people.qib2, "amount": 100 * TOKEN},
        {"partition": PARTITION_REGS, "from": people.qib, "to": people.qib2, "amount": 20 * TOKEN},
    ]
    assert events(receipt, token, "Transfer") == [{"from": people.qib, "to": people.qib2, "value": 120 * TOKEN}]


@pytest.mark.parametrize(("sender", "receiver", "partition", "amount", "reason"), RULES)
def test_transfer_enforces_rule(
    token: Any, funded: Any, people: Any, sender: str, receiver: str, partition: bytes, amount: int, reason: int
) -> None:
    source, target = getattr(people, sender), getattr(people, receiver)

    error = revert_of(token.functions.transfer(target, amount), source)

    assert error.name == "TransferNotAllowed"
    assert error.args == (partition, source, target, reason)


def test_transfer_checks_regs_part_too(
    chain: Any, token: Any, funded: Any, registered: Any, people: Any
) -> None:
    registry = chain.contracts["compliance_registry"]
    locked_qib = investor_word(people.qib, qib=True, jurisdiction="US", lockup_until=registered.lockup_until)
    send(registry.functions.setInvestors([locked_qib]), people.admin)

    error = revert_of(token.functions.transfer(people.qib2, 120 * TOKEN), people.qib)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_REGS, people.qib, people.qib2, SENDER_LOCKED)
    assert balances(token, people.qib) == (100 * TOKEN, 50 * TOKEN, 150 * TOKEN)


def test_transfer_takes_144a_before_regs_rule(token: Any, funded: Any, people: Any) -> None:
    # qib has 50 RegS that regs_free could receive, but the plain path takes 144A first.
    error = revert_of(token.functions.transfer(people.regs_free, 10 * TOKEN), people.qib)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, people.qib, people.regs_free, RECEIVER_NOT_QIB)


def test_transfer_rejects_more_than_both_partitions(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transfer(people.qib2, 150 * TOKEN + 1), people.qib)

    assert error.name == "ERC20InsufficientBalance"
    assert error.args == (people.qib, 150 * TOKEN, 150 * TOKEN + 1)


def test_transfer_rejects_zero_receiver(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transfer(ZERO, 1), people.qib)

    assert error.name == "ERC20InvalidReceiver"
    assert error.args == (ZERO,)


def test_zero_transfer_is_checked_on_144a(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(token.functions.transfer(people.regs_free, 0), people.qib)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, people.qib, people.regs_free, RECEIVER_NOT_QIB)


def test_zero_transfer_between_qibs_emits_transfer_only(token: Any, funded: Any, people: Any) -> None:
    receipt = send(token.functions.transfer(people.qib2, 0), people.qib)

    assert event_names(receipt, {"token": token}) == ["Transfer"]
    assert events(receipt, token, "Transfer") == [{"from": people.qib, "to": people.qib2, "value": 0}]


def test_transfer_blocked_regs_holder(chain: Any, token: Any, funded: Any, people: Any) -> None:
    registry = chain.contracts["compliance_registry"]
    send(registry.functions.blockAddresses([people.regs_free]), people.admin)

    error = revert_of(token.functions.transfer(people.qib, TOKEN), people.regs_free)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_REGS, people.regs_free, people.qib, SENDER_BLOCKED)


# --- plain ERC-20 path: approve and transferFrom -----------------------------


def test_approve_sets_allowance_and_emits(token: Any, funded: Any, people: Any) -> None:
    receipt = send(token.functions.approve(people.outsider, 30 * TOKEN), people.qib)

    assert token.functions.allowance(people.qib, people.outsider).call() == 30 * TOKEN
    assert events(receipt, token, "Approval") == [
        {"owner": people.qib, "spender": people.outsider, "value": 30 * TOKEN}
    ]


def test_approve_rejects_zero_spender(token: Any, people: Any) -> None:
    error = revert_of(token.functions.approve(ZERO, 1), people.qib)

    assert error.name == "ERC20InvalidSpender"
    assert error.args == (ZERO,)


def test_transfer_from_moves_and_spends_allowance(token: Any, funded: Any, people: Any, spender: str) -> None:
    send(token.functions.approve(spender, 130 * TOKEN), people.qib)

    send(token.functions.transferFrom(people.qib, people.qib2, 110 * TOKEN), spender)

    assert token.functions.allowance(people.qib, spender).call() == 20 * TOKEN
    assert balances(token, people.qib) == (0, 40 * TOKEN, 40 * TOKEN)
    assert balances(token, people.qib2) == (100 * TOKEN, 10 * TOKEN, 110 * TOKEN)


def test_transfer_from_keeps_infinite_allowance(token: Any, funded: Any, people: Any, spender: str) -> None:
    send(token.functions.approve(spender, MAX_UINT), people.qib)

    send(token.functions.transferFrom(people.qib, people.qib2, 10 * TOKEN), spender)

    assert token.functions.allowance(people.qib, spender).call() == MAX_UINT


def test_transfer_from_rejects_over_allowance(token: Any, funded: Any, people: Any, spender: str) -> None:
    send(token.functions.approve(spender, 5 * TOKEN), people.qib)

    error = revert_of(token.functions.transferFrom(people.qib, people.qib2, 6 * TOKEN), spender)

    assert error.name == "ERC20InsufficientAllowance"
    assert error.args == (spender, 5 * TOKEN, 6 * TOKEN)


@pytest.mark.parametrize(("sender", "receiver", "partition", "amount", "reason"), RULES)
def test_transfer_from_enforces_rule(
    token: Any,
    funded: Any,
    people: Any,
    spender: str,
    sender: str,
    receiver: str,
    partition: bytes,
    amount: int,
    reason: int,
) -> None:
    source, target = getattr(people, sender), getattr(people, receiver)
    send(token.functions.approve(spender, MAX_UINT), source)

    error = revert_of(token.functions.transferFrom(source, target, amount), spender)

    assert error.name == "TransferNotAllowed"
    assert error.args == (partition, source, target, reason)


# --- plain ERC-20 path: operator rules of transferFrom -----------------------

# Spenders that the oracle's canOperate rejects: (account in People, reason).
REJECTED_SPENDERS = [
    pytest.param("blocked", OPERATOR_BLOCKED, id="blocked"),
    pytest.param("unregistered", OPERATOR_NOT_REGISTERED, id="unregistered"),
    pytest.param("outsider", OPERATOR_NOT_REGISTERED, id="outsider"),
    pytest.param("not_kyc", OPERATOR_NOT_KYC, id="not-kyc"),
]


@pytest.mark.parametrize(("operator", "reason"), REJECTED_SPENDERS)
def test_transfer_from_rejects_spender(
    token: Any, funded: Any, people: Any, operator: str, reason: int
) -> None:
    spender_account = getattr(people, operator)
    send(token.functions.approve(spender_account, MAX_UINT), people.qib)

    error = revert_of(token.functions.transferFrom(people.qib, people.qib2, TOKEN), spender_account)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (spender_account, people.qib, reason)
    assert error.arg_names == ("operator", "holder", "reason")


def test_transfer_from_rejects_newly_blocked_spender(
    chain: Any, token: Any, funded: Any, people: Any, spender: str
) -> None:
    registry = chain.contracts["compliance_registry"]
    send(token.functions.approve(spender, 10 * TOKEN), people.qib)
    send(registry.functions.blockAddresses([spender]), people.admin)

    error = revert_of(token.functions.transferFrom(people.qib, people.qib2, TOKEN), spender)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (spender, people.qib, OPERATOR_BLOCKED)
    assert token.functions.allowance(people.qib, spender).call() == 10 * TOKEN
    assert balances(token, people.qib) == (100 * TOKEN, 50 * TOKEN, 150 * TOKEN)


def test_transfer_from_rejects_revoked_spender(
    chain: Any, token: Any, funded: Any, people: Any, spender: str
) -> None:
    registry = chain.contracts["compliance_registry"]
    send(token.functions.approve(spender, 10 * TOKEN), people.qib)
    send(registry.functions.setInvestors([investor_word(spender, kyc=False, jurisdiction="GB")]), people.admin)

    error = revert_of(token.functions.transferFrom(people.qib, people.qib2, TOKEN), spender)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (spender, people.qib, OPERATOR_NOT_KYC)


def test_transfer_from_accepts_unblocked_spender(
    chain: Any, token: Any, funded: Any, people: Any, spender: str
) -> None:
    registry = chain.contracts["compliance_registry"]
    send(token.functions.approve(spender, 10 * TOKEN), people.qib)
    send(registry.functions.blockAddresses([spender]), people.admin)
    send(registry.functions.unblockAddresses([spender]), people.admin)

    send(token.functions.transferFrom(people.qib, people.qib2, TOKEN), spender)

    assert balances(token, people.qib2) == (TOKEN, 0, TOKEN)


def test_transfer_from_checks_spender_before_allowance(token: Any, funded: Any, people: Any) -> None:
    # Without any approval, the operator rule is reported instead of ERC20InsufficientAllowance.
    error = revert_of(token.functions.transferFrom(people.qib, people.qib2, TOKEN), people.unregistered)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (people.unregistered, people.qib, OPERATOR_NOT_REGISTERED)


def test_transfer_from_checks_spender_before_holder_rules(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.approve(people.outsider, MAX_UINT), people.blocked)

    error = revert_of(token.functions.transferFrom(people.blocked, people.not_kyc, TOKEN), people.outsider)

    assert error.name == "OperatorNotAllowed"
    assert error.args == (people.outsider, people.blocked, OPERATOR_NOT_REGISTERED)


def test_transfer_from_by_non_qib_spender(
    chain: Any, token: Any, funded: Any, people: Any, spender: str
) -> None:
    # The spender is not a QIB and holds no tokens, but 144A tokens still move between QIBs.
    send(token.functions.approve(spender, 120 * TOKEN), people.qib)

    receipt = send(token.functions.transferFrom(people.qib, people.qib2, 120 * TOKEN), spender)

    assert balances(token, people.qib2) == (100 * TOKEN, 20 * TOKEN, 120 * TOKEN)
    assert balances(token, spender) == (0, 0, 0)
    assert events(receipt, token, "Transfer") == [{"from": people.qib, "to": people.qib2, "value": 120 * TOKEN}]
    oracle = chain.contracts["compliance_oracle"]
    assert called_functions(receipt, oracle) == ["canOperate", "canTransfer", "canTransfer"]


def test_transfer_from_by_holder_skips_operator_check(chain: Any, token: Any, funded: Any, people: Any) -> None:
    send(token.functions.approve(people.qib, TOKEN), people.qib)

    receipt = send(token.functions.transferFrom(people.qib, people.qib2, TOKEN), people.qib)

    assert balances(token, people.qib2) == (TOKEN, 0, TOKEN)
    assert called_functions(receipt, chain.contracts["compliance_oracle"]) == ["canTransfer"]


def test_transfer_from_by_blocked_holder_reports_sender_rule(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.approve(people.blocked, MAX_UINT), people.blocked)

    error = revert_of(token.functions.transferFrom(people.blocked, people.qib, TOKEN), people.blocked)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, people.blocked, people.qib, SENDER_BLOCKED)


def test_approve_accepts_blocked_spender(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.approve(people.blocked, TOKEN), people.qib)

    assert token.functions.allowance(people.qib, people.blocked).call() == TOKEN


@pytest.mark.parametrize(
    ("operation", "oracle_calls"),
    [
        pytest.param(
            lambda t, p: t.functions.transfer(p.qib2, 120 * TOKEN), ["canTransfer", "canTransfer"], id="transfer"
        ),
        pytest.param(
            lambda t, p: t.functions.transferByPartition(PARTITION_REGS, p.qib2, TOKEN),
            ["canTransfer"],
            id="transferByPartition",
        ),
    ],
)
def test_holder_paths_skip_operator_check(
    chain: Any, token: Any, funded: Any, people: Any, operation: Any, oracle_calls: list[str]
) -> None:
    receipt = send(operation(token, people), people.qib)

    assert called_functions(receipt, chain.contracts["compliance_oracle"]) == oracle_calls


# --- issuance ----------------------------------------------------------------


@pytest.fixture
def minter(chain: Any, token: Any, registered: Any, people: Any) -> str:
    """Give the admin MINTER_ROLE so issuance is tested without DvPSettlement."""
    send(token.functions.grantRole(role("MINTER_ROLE"), people.admin), people.admin)
    return str(people.admin)


def test_issue_credits_partition_and_supply(token: Any, minter: str, people: Any) -> None:
    send(token.functions.issue(PARTITION_144A, people.qib, 7 * TOKEN), minter)
    send(token.functions.issue(PARTITION_REGS, people.regs_free, 3 * TOKEN), minter)

    assert balances(token, people.qib) == (7 * TOKEN, 0, 7 * TOKEN)
    assert token.functions.totalSupplyByPartition(PARTITION_144A).call() == 7 * TOKEN
    assert token.functions.totalSupplyByPartition(PARTITION_REGS).call() == 3 * TOKEN
    assert token.functions.totalSupply().call() == 10 * TOKEN


def test_issue_emits_from_zero_address(token: Any, minter: str, people: Any) -> None:
    receipt = send(token.functions.issue(PARTITION_144A, people.qib, 7 * TOKEN), minter)

    assert event_names(receipt, {"token": token}) == ["TransferByPartition", "Transfer"]
    assert events(receipt, token, "TransferByPartition") == [
        {"partition": PARTITION_144A, "from": ZERO, "to": people.qib, "amount": 7 * TOKEN}
    ]
    assert events(receipt, token, "Transfer") == [{"from": ZERO, "to": people.qib, "value": 7 * TOKEN}]


@pytest.mark.parametrize(
    ("partition", "receiver", "reason"),
    [
        pytest.param(PARTITION_144A, "regs_free", RECEIVER_NOT_QIB, id="144a-not-qib"),
        pytest.param(PARTITION_REGS, "blocked", RECEIVER_BLOCKED, id="blocked"),
        pytest.param(PARTITION_REGS, "unregistered", RECEIVER_NOT_REGISTERED, id="unregistered"),
        pytest.param(PARTITION_REGS, "not_kyc", RECEIVER_NOT_KYC, id="not-kyc"),
        pytest.param(OTHER_PARTITION, "qib", UNKNOWN_PARTITION, id="unknown-partition"),
    ],
)
def test_issue_enforces_receiver_rule(
    token: Any, minter: str, people: Any, partition: bytes, receiver: str, reason: int
) -> None:
    target = getattr(people, receiver)

    error = revert_of(token.functions.issue(partition, target, TOKEN), minter)

    assert error.name == "TransferNotAllowed"
    assert error.args == (partition, ZERO, target, reason)


def test_issue_rejects_zero_amount(token: Any, minter: str, people: Any) -> None:
    error = revert_of(token.functions.issue(PARTITION_144A, people.qib, 0), minter)

    assert error.name == "ZeroAmount"
    assert error.args == ()


def test_issue_rejects_zero_receiver(token: Any, minter: str) -> None:
    error = revert_of(token.functions.issue(PARTITION_144A, ZERO, 1), minter)

    assert error.name == "ERC20InvalidReceiver"
    assert error.args == (ZERO,)


# --- metadata and views ------------------------------------------------------


def test_token_metadata(token: Any) -> None:
    assert token.functions.name().call() == "JINBI Bond"
    assert token.functions.symbol().call() == "JINBI"
    assert token.functions.decimals().call() == 18


def test_partitions_lists_both(token: Any) -> None:
    assert token.functions.partitions().call() == [PARTITION_144A, PARTITION_REGS]


def test_unknown_partition_balance_is_zero(token: Any, funded: Any, people: Any) -> None:
    assert token.functions.balanceOfByPartition(OTHER_PARTITION, people.qib).call() == 0
    assert token.functions.totalSupplyByPartition(OTHER_PARTITION).call() == 0
