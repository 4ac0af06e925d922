"""CompliantSecurityToken: pause, court-ordered force transfers and the oracle setting."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import (
    PARTITION_144A,
    PARTITION_REGS,
    TOKEN,
    ascii_id,
    event_names,
    events,
    now,
    revert_of,
    send,
    set_next_timestamp,
)

ZERO = "0x" + "00" * 20
ORDER = ascii_id("ORDER-2026-001")
LEGAL_REFERENCE = "SDNY 1:26-cv-00042, order of 2026-03-02"


@pytest.fixture
def token(chain: Any) -> Any:
    return chain.contracts["security_token"]


@pytest.fixture
def paused(token: Any, funded: Any, people: Any) -> None:
    send(token.functions.pause(), people.admin)


# --- pause -------------------------------------------------------------------


def test_pause_sets_flag_and_emits(token: Any, people: Any) -> None:
    receipt = send(token.functions.pause(), people.admin)

    assert token.functions.paused().call() is True
    assert events(receipt, token, "Paused") == [{"account": people.admin}]


def test_unpause_clears_flag_and_emits(token: Any, people: Any) -> None:
    send(token.functions.pause(), people.admin)

    receipt = send(token.functions.unpause(), people.admin)

    assert token.functions.paused().call() is False
    assert events(receipt, token, "Unpaused") == [{"account": people.admin}]


def test_pause_twice_reverts(token: Any, people: Any) -> None:
    send(token.functions.pause(), people.admin)

    error = revert_of(token.functions.pause(), people.admin)

    assert error.name == "EnforcedPause"


def test_unpause_when_running_reverts(token: Any, people: Any) -> None:
    error = revert_of(token.functions.unpause(), people.admin)

    assert error.name == "ExpectedPause"


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda t, p: (t.functions.transfer(p.qib2, TOKEN), p.qib), id="transfer"),
        pytest.param(
            lambda t, p: (t.functions.transferByPartition(PARTITION_144A, p.qib2, TOKEN), p.qib),
            id="transferByPartition",
        ),
        pytest.param(lambda t, p: (t.functions.transferFrom(p.qib, p.qib2, TOKEN), p.qib), id="transferFrom"),
        pytest.param(
            lambda t, p: (t.functions.transferFrom(p.qib, p.qib2, TOKEN), p.outsider), id="transferFrom-by-outsider"
        ),
        pytest.param(lambda t, p: (t.functions.issue(PARTITION_144A, p.qib2, TOKEN), p.admin), id="issue"),
    ],
)
def test_paused_token_rejects_movement(token: Any, paused: None, people: Any, operation: Any) -> None:
    call, sender = operation(token, people)

    error = revert_of(call, sender)

    assert error.name == "EnforcedPause"
    assert error.args == ()


def test_paused_token_allows_approve(token: Any, paused: None, people: Any) -> None:
    send(token.functions.approve(people.outsider, TOKEN), people.qib)

    assert token.functions.allowance(people.qib, people.outsider).call() == TOKEN


def test_unpaused_token_transfers_again(token: Any, paused: None, people: Any) -> None:
    send(token.functions.unpause(), people.admin)

    send(token.functions.transfer(people.qib2, TOKEN), people.qib)

    assert token.functions.balanceOf(people.qib2).call() == TOKEN


# --- force transfer ----------------------------------------------------------


def force(token: Any, people: Any, **overrides: Any) -> Any:
    fields = {
        "order_id": ORDER,
        "partition": PARTITION_144A,
        "source": people.blocked,
        "target": people.regs_free,
        "amount": 4 * TOKEN,
        "legal_reference": LEGAL_REFERENCE,
    }
    fields.update(overrides)
    return token.functions.forceTransfer(
        fields["order_id"],
        fields["partition"],
        fields["source"],
        fields["target"],
        fields["amount"],
        fields["legal_reference"],
    )


def test_force_transfer_bypasses_compliance(token: Any, funded: Any, people: Any) -> None:
    # A blocked sender and a non-QIB receiver on 144A: both rules would reject a normal transfer.
    send(force(token, people), people.admin)

    assert token.functions.balanceOfByPartition(PARTITION_144A, people.blocked).call() == 6 * TOKEN
    assert token.functions.balanceOfByPartition(PARTITION_144A, people.regs_free).call() == 4 * TOKEN


def test_force_transfer_works_while_paused(token: Any, paused: None, people: Any) -> None:
    send(force(token, people, source=people.qib, target=people.qib2, amount=TOKEN), people.admin)

    assert token.functions.balanceOfByPartition(PARTITION_144A, people.qib2).call() == TOKEN


def test_force_transfer_emits_events(token: Any, funded: Any, people: Any) -> None:
    receipt = send(force(token, people), people.admin)

    assert event_names(receipt, {"token": token}) == ["TransferByPartition", "Transfer", "ForceTransferred"]
    assert events(receipt, token, "ForceTransferred") == [
        {
            "orderId": ORDER,
            "partition": PARTITION_144A,
            "from": people.blocked,
            "to": people.regs_free,
            "amount": 4 * TOKEN,
            "legalReference": LEGAL_REFERENCE,
        }
    ]
    assert events(receipt, token, "Transfer") == [{"from": people.blocked, "to": people.regs_free, "value": 4 * TOKEN}]


def test_force_transfer_records_order(chain: Any, token: Any, funded: Any, people: Any) -> None:
    executed_at = now(chain.w3) + 100
    set_next_timestamp(chain.w3, executed_at)

    send(force(token, people), people.admin)

    expected = (ORDER, PARTITION_144A, people.blocked, people.regs_free, 4 * TOKEN, LEGAL_REFERENCE, executed_at)
    assert tuple(token.functions.forceTransferOrder(ORDER).call()) == expected
    assert [tuple(order) for order in token.functions.forceTransfersPage(0, 10).call()] == [expected]


def test_force_transfer_order_runs_once(token: Any, funded: Any, people: Any) -> None:
    send(force(token, people, amount=TOKEN), people.admin)

    error = revert_of(force(token, people, amount=TOKEN), people.admin)

    assert error.name == "OrderAlreadyExecuted"
    assert error.args == (ORDER,)


@pytest.mark.parametrize(
    "order_id",
    [
        pytest.param(bytes(32), id="zero"),
        pytest.param(b"\x00ORDER-1".ljust(32, b"\0"), id="not-left-aligned"),
        pytest.param(b"ORDER 1".ljust(32, b"\0"), id="space"),
        pytest.param(b"ORDER-1\x00X".ljust(32, b"\0"), id="byte-after-padding"),
        pytest.param(b"ORDER-\x7f".ljust(32, b"\0"), id="delete-char"),
        pytest.param(b"ORDER-\xc3\xa9".ljust(32, b"\0"), id="non-ascii"),
    ],
)
def test_force_transfer_rejects_invalid_order_id(token: Any, funded: Any, people: Any, order_id: bytes) -> None:
    error = revert_of(force(token, people, order_id=order_id), people.admin)

    assert error.name == "InvalidOrderId"
    assert error.args == (order_id,)


def test_force_transfer_accepts_32_character_order_id(token: Any, funded: Any, people: Any) -> None:
    order_id = b"O" * 32

    send(force(token, people, order_id=order_id, amount=TOKEN), people.admin)

    assert token.functions.forceTransferCount().call() == 1


def test_force_transfer_rejects_unknown_partition(token: Any, funded: Any, people: Any) -> None:
    partition = b"144a".ljust(32, b"\0")

    error = revert_of(force(token, people, partition=partition), people.admin)

    assert error.name == "UnknownPartition"
    assert error.args == (partition,)


def test_force_transfer_rejects_overdraft(token: Any, funded: Any, people: Any) -> None:
    error = revert_of(force(token, people, partition=PARTITION_REGS), people.admin)

    assert error.name == "InsufficientPartitionBalance"
    assert error.args == (PARTITION_REGS, people.blocked, 0, 4 * TOKEN)


@pytest.mark.parametrize(
    ("overrides", "name", "args"),
    [
        pytest.param({"amount": 0}, "ZeroAmount", (), id="zero-amount"),
        pytest.param({"source": ZERO}, "ERC20InvalidSender", (ZERO,), id="zero-sender"),
        pytest.param({"target": ZERO}, "ERC20InvalidReceiver", (ZERO,), id="zero-receiver"),
        pytest.param({"legal_reference": ""}, "EmptyLegalReference", (ORDER,), id="empty-legal-reference"),
    ],
)
def test_force_transfer_rejects_invalid_field(
    token: Any, funded: Any, people: Any, overrides: dict[str, Any], name: str, args: tuple[Any, ...]
) -> None:
    error = revert_of(force(token, people, **overrides), people.admin)

    assert error.name == name
    assert error.args == args


def test_rejected_order_id_stays_unused(token: Any, funded: Any, people: Any) -> None:
    revert_of(force(token, people, partition=PARTITION_REGS), people.admin)

    send(force(token, people), people.admin)

    assert token.functions.forceTransferCount().call() == 1


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        pytest.param(0, 10, ["ORDER-A", "ORDER-B", "ORDER-C"], id="count-clipped"),
        pytest.param(1, 1, ["ORDER-B"], id="middle"),
        pytest.param(3, 1, [], id="start-at-end"),
        pytest.param(7, 2, [], id="start-past-end"),
    ],
)
def test_force_transfers_page_bounds(
    token: Any, funded: Any, people: Any, start: int, count: int, expected: list[str]
) -> None:
    for name in ("ORDER-A", "ORDER-B", "ORDER-C"):
        send(force(token, people, order_id=ascii_id(name), amount=TOKEN), people.admin)

    page = token.functions.forceTransfersPage(start, count).call()

    assert [order[0] for order in page] == [ascii_id(name) for name in expected]


def test_unknown_order_reads_unexecuted(token: Any) -> None:
    assert token.functions.forceTransferOrder(ORDER).call()[-1] == 0


# --- oracle setting ----------------------------------------------------------


def test_set_oracle_replaces_and_emits(chain: Any, token: Any, people: Any) -> None:
    old = chain.deployment.compliance_oracle

    receipt = send(token.functions.setOracle(people.outsider), people.admin)

    assert token.functions.oracle().call() == people.outsider
    assert events(receipt, token, "OracleUpdated") == [{"previousOracle": old, "newOracle": people.outsider}]


def test_set_oracle_rejects_zero_address(token: Any, people: Any) -> None:
    error = revert_of(token.functions.setOracle(ZERO), people.admin)

    assert error.name == "ZeroAddress"
    assert error.args == ()

