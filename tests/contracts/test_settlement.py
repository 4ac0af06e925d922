"""DvPSettlement: booking, cancellation, settlement against USDC and its arithmetic."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import (
    PARTITION_144A,
    PARTITION_REGS,
    RECEIVER_BLOCKED,
    RECEIVER_NOT_QIB,
    TOKEN,
    UNKNOWN_PARTITION,
    USDC,
    ascii_id,
    event_names,
    events,
    now,
    revert_of,
    send,
    set_next_timestamp,
)

ZERO = "0x" + "00" * 20
ALLOC = ascii_id("ALLOC-0001")
NONE, BOOKED, SETTLED, CANCELLED = 0, 1, 2, 3


@pytest.fixture
def dvp(chain: Any) -> Any:
    return chain.contracts["dvp_settlement"]


@pytest.fixture
def usdc(chain: Any) -> Any:
    return chain.contracts["usdc"]


def request(
    people: Any,
    *,
    booking_id: bytes = ALLOC,
    partition: bytes = PARTITION_144A,
    investor: str | None = None,
    amount: int = 1_000 * TOKEN,
    price: int = 1 * USDC,
) -> tuple[bytes, bytes, str, int, int]:
    return (booking_id, partition, investor or people.qib, amount, price)


def fund_and_approve(chain: Any, people: Any, investor: str, amount: int) -> None:
    """Mint AMOUNT mock USDC to INVESTOR and approve DvPSettlement for it."""
    usdc = chain.contracts["usdc"]
    send(usdc.functions.mint(investor, amount), people.admin)
    send(usdc.functions.approve(chain.deployment.dvp_settlement, amount), investor)


@pytest.fixture
def booked(chain: Any, dvp: Any, registered: Any, people: Any) -> int:
    """Book ALLOC-0001 (1,000 tokens of 144A at 1.000000 USDC for `qib`); return bookedAt."""
    booked_at = now(chain.w3) + 10
    set_next_timestamp(chain.w3, booked_at)
    send(dvp.functions.book([request(people)]), people.admin)
    return booked_at


# --- booking -----------------------------------------------------------------


def test_book_stores_booking(dvp: Any, booked: int, people: Any) -> None:
    assert tuple(dvp.functions.booking(ALLOC).call()) == (
        ALLOC,
        PARTITION_144A,
        people.qib,
        1_000 * TOKEN,
        1 * USDC,
        BOOKED,
        booked,
        0,
    )


def test_book_emits_booked(dvp: Any, registered: Any, people: Any) -> None:
    receipt = send(dvp.functions.book([request(people)]), people.admin)

    assert events(receipt, dvp, "Booked") == [
        {"id": ALLOC, "partition": PARTITION_144A, "investor": people.qib, "amount": 1_000 * TOKEN, "price": USDC}
    ]


def test_book_batch_stores_in_order(dvp: Any, registered: Any, people: Any) -> None:
    requests = [
        request(people, booking_id=ascii_id("ALLOC-0002"), partition=PARTITION_REGS, investor=people.regs_free),
        request(people, booking_id=ascii_id("ALLOC-0001")),
    ]

    send(dvp.functions.book(requests), people.admin)

    assert dvp.functions.bookingCount().call() == 2
    assert [entry[0] for entry in dvp.functions.bookingsPage(0, 5).call()] == [
        ascii_id("ALLOC-0002"),
        ascii_id("ALLOC-0001"),
    ]


def test_book_rejects_used_id(dvp: Any, booked: int, people: Any) -> None:
    error = revert_of(dvp.functions.book([request(people)]), people.admin)

    assert error.name == "BookingIdTaken"
    assert error.args == (ALLOC,)


def test_book_rejects_id_repeated_in_batch(dvp: Any, registered: Any, people: Any) -> None:
    error = revert_of(dvp.functions.book([request(people), request(people)]), people.admin)

    assert error.name == "BookingIdTaken"
    assert error.args == (ALLOC,)
    assert dvp.functions.bookingCount().call() == 0


def test_cancelled_id_cannot_be_booked_again(dvp: Any, booked: int, people: Any) -> None:
    send(dvp.functions.cancel([ALLOC]), people.admin)

    error = revert_of(dvp.functions.book([request(people)]), people.admin)

    assert error.name == "BookingIdTaken"
    assert error.args == (ALLOC,)


@pytest.mark.parametrize(
    "booking_id",
    [
        pytest.param(bytes(32), id="zero"),
        pytest.param(b" ALLOC-1".ljust(32, b"\0"), id="leading-space"),
        pytest.param(b"\x00ALLOC-1".ljust(32, b"\0"), id="not-left-aligned"),
    ],
)
def test_book_rejects_invalid_id(dvp: Any, registered: Any, people: Any, booking_id: bytes) -> None:
    error = revert_of(dvp.functions.book([request(people, booking_id=booking_id)]), people.admin)

    assert error.name == "InvalidBookingId"
    assert error.args == (booking_id,)


def test_book_rejects_zero_amount(dvp: Any, registered: Any, people: Any) -> None:
    error = revert_of(dvp.functions.book([request(people, amount=0)]), people.admin)

    assert error.name == "ZeroBookingAmount"
    assert error.args == (ALLOC,)


def test_book_rejects_zero_price(dvp: Any, registered: Any, people: Any) -> None:
    error = revert_of(dvp.functions.book([request(people, price=0)]), people.admin)

    assert error.name == "ZeroBookingPrice"
    assert error.args == (ALLOC,)


@pytest.mark.parametrize(
    ("partition", "investor", "reason"),
    [
        pytest.param(PARTITION_144A, "regs_free", RECEIVER_NOT_QIB, id="144a-not-qib"),
        pytest.param(PARTITION_REGS, "blocked", RECEIVER_BLOCKED, id="blocked"),
        pytest.param(b"Other".ljust(32, b"\0"), "qib", UNKNOWN_PARTITION, id="unknown-partition"),
    ],
)
def test_book_rejects_investor_who_cannot_receive(
    dvp: Any, registered: Any, people: Any, partition: bytes, investor: str, reason: int
) -> None:
    account = getattr(people, investor)

    error = revert_of(dvp.functions.book([request(people, partition=partition, investor=account)]), people.admin)

    assert error.name == "InvestorCannotReceive"
    assert error.args == (ALLOC, partition, account, reason)


# --- cancellation ------------------------------------------------------------


def test_cancel_closes_booking_and_emits(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    closed_at = booked + 60
    set_next_timestamp(chain.w3, closed_at)

    receipt = send(dvp.functions.cancel([ALLOC]), people.admin)

    booking = dvp.functions.booking(ALLOC).call()
    assert (booking[5], booking[6], booking[7]) == (CANCELLED, booked, closed_at)
    assert events(receipt, dvp, "BookingCancelled") == [{"id": ALLOC}]


def test_cancel_twice_reverts(dvp: Any, booked: int, people: Any) -> None:
    send(dvp.functions.cancel([ALLOC]), people.admin)

    error = revert_of(dvp.functions.cancel([ALLOC]), people.admin)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, CANCELLED)


def test_cancel_unknown_reverts(dvp: Any, people: Any) -> None:
    error = revert_of(dvp.functions.cancel([ALLOC]), people.admin)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, NONE)


def test_cancel_settled_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    send(dvp.functions.settle(ALLOC), people.qib)

    error = revert_of(dvp.functions.cancel([ALLOC]), people.admin)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, SETTLED)


# --- settlement --------------------------------------------------------------


def test_settle_pays_treasury_and_issues(chain: Any, dvp: Any, usdc: Any, booked: int, people: Any) -> None:
    token = chain.contracts["security_token"]
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    treasury_before = usdc.functions.balanceOf(chain.deployment.treasury).call()

    send(dvp.functions.settle(ALLOC), people.qib)

    assert usdc.functions.balanceOf(people.qib).call() == 0
    assert usdc.functions.balanceOf(chain.deployment.treasury).call() == treasury_before + 1_000 * USDC
    assert token.functions.balanceOfByPartition(PARTITION_144A, people.qib).call() == 1_000 * TOKEN


def test_settle_closes_booking(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    closed_at = booked + 3_600
    set_next_timestamp(chain.w3, closed_at)

    send(dvp.functions.settle(ALLOC), people.qib)

    booking = dvp.functions.booking(ALLOC).call()
    assert (booking[5], booking[6], booking[7]) == (SETTLED, booked, closed_at)


def test_settle_emits_settled_then_payment_then_issue(
    chain: Any, dvp: Any, usdc: Any, booked: int, people: Any
) -> None:
    token = chain.contracts["security_token"]
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)

    receipt = send(dvp.functions.settle(ALLOC), people.qib)

    assert event_names(receipt, {"dvp": dvp, "token": token}) == [
        "Settled",
        "Transfer",
        "TransferByPartition",
        "Transfer",
    ]
    assert events(receipt, dvp, "Settled") == [
        {"id": ALLOC, "investor": people.qib, "partition": PARTITION_144A, "amount": 1_000 * TOKEN, "cost": 1_000 * USDC}
    ]
    assert events(receipt, usdc, "Transfer") == [
        {"from": people.qib, "to": chain.deployment.treasury, "value": 1_000 * USDC}
    ]


def test_settle_twice_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 2_000 * USDC)
    send(dvp.functions.settle(ALLOC), people.qib)

    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, SETTLED)


def test_settle_after_cancel_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    send(dvp.functions.cancel([ALLOC]), people.admin)

    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, CANCELLED)


def test_settle_unknown_reverts(dvp: Any, people: Any) -> None:
    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "BookingNotOpen"
    assert error.args == (ALLOC, NONE)


def test_settle_by_other_account_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib2, 1_000 * USDC)

    error = revert_of(dvp.functions.settle(ALLOC), people.qib2)

    assert error.name == "NotBookingInvestor"
    assert error.args == (ALLOC, people.qib2)


def test_settle_without_allowance_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "ERC20InsufficientAllowance"
    assert error.args == (chain.deployment.dvp_settlement, 0, 1_000 * USDC)


def test_settle_while_paused_reverts(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    send(chain.contracts["security_token"].functions.pause(), people.admin)

    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "EnforcedPause"
    assert dvp.functions.booking(ALLOC).call()[5] == BOOKED


def test_settle_rechecks_compliance(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    send(chain.contracts["compliance_registry"].functions.blockAddresses([people.qib]), people.admin)

    error = revert_of(dvp.functions.settle(ALLOC), people.qib)

    assert error.name == "TransferNotAllowed"
    assert error.args == (PARTITION_144A, ZERO, people.qib, RECEIVER_BLOCKED)


# --- arithmetic --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "price", "cost"),
    [
        pytest.param(1, 1, 1, id="one-base-unit-at-one-base-unit-rounds-up"),
        pytest.param(TOKEN, 1_000_000, 1_000_000, id="one-token-at-1.000000"),
        pytest.param(10**9 * TOKEN, 1_000_000, 10**15, id="1e9-tokens-at-1.000000"),
        pytest.param(10**9 * TOKEN, 999_999_999_999, 999_999_999_999 * 10**9, id="1e9-tokens-at-999999.999999"),
        pytest.param(TOKEN + 1, 1_000_000, 1_000_001, id="one-base-unit-over-rounds-up"),
        pytest.param(3 * TOKEN // 2, 1, 2, id="half-unit-rounds-up"),
        pytest.param(TOKEN // 3, 3, 1, id="just-below-one-rounds-up"),
        pytest.param(2 * TOKEN, 500_000, 1_000_000, id="exact-no-rounding"),
    ],
)
def test_cost_rounds_up_to_usdc_base_unit(
    dvp: Any, registered: Any, people: Any, amount: int, price: int, cost: int
) -> None:
    send(dvp.functions.book([request(people, amount=amount, price=price)]), people.admin)

    assert dvp.functions.costOf(ALLOC).call() == cost


@pytest.mark.parametrize(
    ("amount", "price", "cost"),
    [
        pytest.param(1, 1, 1, id="one-base-unit"),
        pytest.param(10**9 * TOKEN, 999_999_999_999, 999_999_999_999 * 10**9, id="1e9-tokens-at-999999.999999"),
    ],
)
def test_settle_moves_exact_cost(
    chain: Any, dvp: Any, usdc: Any, registered: Any, people: Any, amount: int, price: int, cost: int
) -> None:
    send(dvp.functions.book([request(people, amount=amount, price=price)]), people.admin)
    fund_and_approve(chain, people, people.qib, cost)

    receipt = send(dvp.functions.settle(ALLOC), people.qib)

    assert events(receipt, dvp, "Settled")[0]["cost"] == cost
    assert usdc.functions.balanceOf(people.qib).call() == 0
    assert chain.contracts["security_token"].functions.balanceOf(people.qib).call() == amount


def test_cost_of_unknown_reverts(dvp: Any, people: Any) -> None:
    error = revert_of(dvp.functions.costOf(ALLOC), people.admin)

    assert error.name == "BookingNotFound"
    assert error.args == (ALLOC,)


def test_cost_of_settled_booking_stays_readable(chain: Any, dvp: Any, booked: int, people: Any) -> None:
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)
    send(dvp.functions.settle(ALLOC), people.qib)

    assert dvp.functions.costOf(ALLOC).call() == 1_000 * USDC


# --- treasury and views ------------------------------------------------------


def test_set_treasury_redirects_payments(chain: Any, dvp: Any, usdc: Any, booked: int, people: Any) -> None:
    receipt = send(dvp.functions.setTreasury(people.outsider), people.admin)
    fund_and_approve(chain, people, people.qib, 1_000 * USDC)

    send(dvp.functions.settle(ALLOC), people.qib)

    assert events(receipt, dvp, "TreasuryUpdated") == [
        {"previousTreasury": chain.deployment.treasury, "newTreasury": people.outsider}
    ]
    assert usdc.functions.balanceOf(people.outsider).call() == 1_000 * USDC


def test_set_treasury_rejects_zero_address(dvp: Any, people: Any) -> None:
    error = revert_of(dvp.functions.setTreasury(ZERO), people.admin)

    assert error.name == "ZeroAddress"


def test_settlement_wiring(chain: Any, dvp: Any) -> None:
    assert dvp.functions.token().call() == chain.deployment.security_token
    assert dvp.functions.usdc().call() == chain.deployment.usdc
    assert dvp.functions.treasury().call() == chain.deployment.treasury


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        pytest.param(0, 10, ["A-1", "A-2", "A-3"], id="count-clipped"),
        pytest.param(2, 1, ["A-3"], id="last"),
        pytest.param(3, 1, [], id="start-at-end"),
        pytest.param(50, 50, [], id="start-past-end"),
    ],
)
def test_bookings_page_bounds(
    dvp: Any, registered: Any, people: Any, start: int, count: int, expected: list[str]
) -> None:
    send(dvp.functions.book([request(people, booking_id=ascii_id(n)) for n in ("A-1", "A-2", "A-3")]), people.admin)

    page = dvp.functions.bookingsPage(start, count).call()

    assert [entry[0] for entry in page] == [ascii_id(name) for name in expected]


def test_unknown_booking_reads_status_none(dvp: Any) -> None:
    assert tuple(dvp.functions.booking(ALLOC).call()) == (bytes(32), bytes(32), ZERO, 0, 0, NONE, 0, 0)
