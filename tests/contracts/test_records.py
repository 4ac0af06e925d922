"""Exactly-once records: coupon cycles, cap-table snapshots and custody attestations."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import USDC, events, now, revert_of, send, set_next_timestamp
from web3 import Web3

ZERO = "0x" + "00" * 20
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
CID_2 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
COUPON_AMOUNT = 12_500 * USDC


def key(text: str) -> bytes:
    return bytes(Web3.keccak(text=text))


# --- coupons -----------------------------------------------------------------


@pytest.fixture
def coupons(chain: Any) -> Any:
    return chain.contracts["corporate_actions"]


@pytest.fixture
def approved(chain: Any, people: Any) -> None:
    """The treasury approves CorporateActions for ten coupons."""
    usdc = chain.contracts["usdc"]
    send(usdc.functions.approve(chain.deployment.corporate_actions, 10 * COUPON_AMOUNT), people.admin)


def pay(coupons: Any, cycle_id: int, payment_date: int, **overrides: Any) -> Any:
    fields = {"period": "2026-Q1", "rate_bps": 125, "record_date": payment_date - 16 * 86_400, "amount": COUPON_AMOUNT}
    fields.update(overrides)
    return coupons.functions.payCoupon(
        cycle_id, fields["period"], fields["rate_bps"], fields["record_date"], payment_date, fields["amount"]
    )


def test_pay_coupon_pulls_usdc_from_treasury(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    usdc = chain.contracts["usdc"]
    treasury_before = usdc.functions.balanceOf(chain.deployment.treasury).call()

    send(pay(coupons, 1, now(chain.w3)), people.admin)

    assert usdc.functions.balanceOf(chain.deployment.corporate_actions).call() == COUPON_AMOUNT
    assert usdc.functions.balanceOf(chain.deployment.treasury).call() == treasury_before - COUPON_AMOUNT


def test_pay_coupon_stores_and_emits_every_field(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    payment_date = now(chain.w3) + 5
    paid_at = payment_date + 7
    record_date = payment_date - 16 * 86_400
    set_next_timestamp(chain.w3, paid_at)

    receipt = send(pay(coupons, 1, payment_date), people.admin)

    expected = (1, "2026-Q1", 125, record_date, payment_date, COUPON_AMOUNT, paid_at)
    assert tuple(coupons.functions.cycle(1).call()) == expected
    assert events(receipt, coupons, "CouponPaid") == [
        {
            "cycleId": 1,
            "period": "2026-Q1",
            "rateBps": 125,
            "recordDate": record_date,
            "paymentDate": payment_date,
            "amount": COUPON_AMOUNT,
            "paidAt": paid_at,
        }
    ]


def test_pay_coupon_twice_reverts(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    send(pay(coupons, 1, now(chain.w3)), people.admin)

    error = revert_of(pay(coupons, 1, now(chain.w3), period="2026-Q2"), people.admin)

    assert error.name == "CouponAlreadyPaid"
    assert error.args == (1,)


def test_pay_coupon_before_payment_date_reverts(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    block_time = now(chain.w3) + 1
    set_next_timestamp(chain.w3, block_time)

    error = revert_of(pay(coupons, 1, block_time + 1), people.admin)

    assert error.name == "PaymentDateNotReached"
    assert error.args == (1, block_time + 1, block_time)


def test_pay_coupon_on_payment_date_succeeds(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    payment_date = now(chain.w3) + 30
    set_next_timestamp(chain.w3, payment_date)

    send(pay(coupons, 1, payment_date), people.admin)

    assert coupons.functions.isPaid(1).call() is True


def test_pay_coupon_record_after_payment_reverts(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    payment_date = now(chain.w3)

    error = revert_of(pay(coupons, 1, payment_date, record_date=payment_date + 1), people.admin)

    assert error.name == "RecordDateAfterPaymentDate"
    assert error.args == (1, payment_date + 1, payment_date)


def test_pay_coupon_record_equal_payment_succeeds(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    payment_date = now(chain.w3)

    send(pay(coupons, 1, payment_date, record_date=payment_date), people.admin)

    assert coupons.functions.cycle(1).call()[3] == payment_date


def test_pay_coupon_zero_amount_reverts(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    error = revert_of(pay(coupons, 1, now(chain.w3), amount=0), people.admin)

    assert error.name == "ZeroCouponAmount"
    assert error.args == (1,)


def test_pay_coupon_empty_period_reverts(chain: Any, coupons: Any, approved: None, people: Any) -> None:
    error = revert_of(pay(coupons, 1, now(chain.w3), period=""), people.admin)

    assert error.name == "EmptyPeriod"
    assert error.args == (1,)


def test_pay_coupon_without_approval_reverts(chain: Any, coupons: Any, people: Any) -> None:
    error = revert_of(pay(coupons, 1, now(chain.w3)), people.admin)

    assert error.name == "ERC20InsufficientAllowance"
    assert error.args == (chain.deployment.corporate_actions, 0, COUPON_AMOUNT)
    assert coupons.functions.isPaid(1).call() is False


def test_unpaid_cycle_reads_empty(coupons: Any) -> None:
    assert coupons.functions.isPaid(7).call() is False
    assert tuple(coupons.functions.cycle(7).call()) == (0, "", 0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        pytest.param(0, 10, [3, 1, 2], id="count-clipped"),
        pytest.param(1, 1, [1], id="middle"),
        pytest.param(3, 1, [], id="start-at-end"),
        pytest.param(9, 9, [], id="start-past-end"),
    ],
)
def test_cycles_page_bounds(
    chain: Any, coupons: Any, approved: None, people: Any, start: int, count: int, expected: list[int]
) -> None:
    for cycle_id in (3, 1, 2):
        send(pay(coupons, cycle_id, now(chain.w3), period=f"2026-Q{cycle_id}"), people.admin)

    page = coupons.functions.cyclesPage(start, count).call()

    assert coupons.functions.cycleCount().call() == 3
    assert [entry[0] for entry in page] == expected


def test_coupon_treasury_change_emits(chain: Any, coupons: Any, people: Any) -> None:
    receipt = send(coupons.functions.setTreasury(people.qib), people.admin)

    assert coupons.functions.treasury().call() == people.qib
    assert events(receipt, coupons, "TreasuryUpdated") == [
        {"previousTreasury": chain.deployment.treasury, "newTreasury": people.qib}
    ]


def test_coupon_treasury_rejects_zero_address(coupons: Any, people: Any) -> None:
    error = revert_of(coupons.functions.setTreasury(ZERO), people.admin)

    assert error.name == "ZeroAddress"


# --- cap-table snapshots -----------------------------------------------------


@pytest.fixture
def bridge(chain: Any) -> Any:
    return chain.contracts["transfer_agent_bridge"]


def test_record_snapshots_stores_by_period_key(chain: Any, bridge: Any, people: Any) -> None:
    recorded_at = now(chain.w3) + 3
    set_next_timestamp(chain.w3, recorded_at)

    send(bridge.functions.recordSnapshots([("2026-Q1", CID), ("2026-Q2", CID_2)]), people.admin)

    assert tuple(bridge.functions.snapshot(key("2026-Q1")).call()) == (key("2026-Q1"), "2026-Q1", CID, recorded_at)
    assert bridge.functions.snapshotCount().call() == 2


def test_record_snapshots_emits_per_snapshot(bridge: Any, people: Any) -> None:
    receipt = send(bridge.functions.recordSnapshots([("2026-Q1", CID), ("2026-Q2", CID_2)]), people.admin)

    assert events(receipt, bridge, "SnapshotRecorded") == [
        {"key": key("2026-Q1"), "period": "2026-Q1", "cid": CID},
        {"key": key("2026-Q2"), "period": "2026-Q2", "cid": CID_2},
    ]


def test_snapshot_period_recorded_once(bridge: Any, people: Any) -> None:
    send(bridge.functions.recordSnapshots([("2026-Q1", CID)]), people.admin)

    error = revert_of(bridge.functions.recordSnapshots([("2026-Q1", CID_2)]), people.admin)

    assert error.name == "SnapshotAlreadyRecorded"
    assert error.args == (key("2026-Q1"), "2026-Q1")


def test_snapshot_period_repeated_in_batch_reverts(bridge: Any, people: Any) -> None:
    error = revert_of(bridge.functions.recordSnapshots([("2026-Q1", CID), ("2026-Q1", CID_2)]), people.admin)

    assert error.name == "SnapshotAlreadyRecorded"
    assert bridge.functions.snapshotCount().call() == 0


@pytest.mark.parametrize(
    ("snapshot", "name"),
    [
        pytest.param(("", CID), "EmptySnapshotPeriod", id="empty-period"),
        pytest.param(("2026-Q2", ""), "EmptySnapshotCid", id="empty-cid"),
    ],
)
def test_snapshot_empty_field_reverts(bridge: Any, people: Any, snapshot: tuple[str, str], name: str) -> None:
    error = revert_of(bridge.functions.recordSnapshots([("2026-Q1", CID), snapshot]), people.admin)

    assert error.name == name
    assert error.args == (1,)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        pytest.param(0, 5, ["P1", "P2", "P3"], id="count-clipped"),
        pytest.param(2, 2, ["P3"], id="tail"),
        pytest.param(3, 1, [], id="start-at-end"),
    ],
)
def test_snapshots_page_bounds(bridge: Any, people: Any, start: int, count: int, expected: list[str]) -> None:
    send(bridge.functions.recordSnapshots([(p, CID) for p in ("P1", "P2", "P3")]), people.admin)

    page = bridge.functions.snapshotsPage(start, count).call()

    assert [entry[1] for entry in page] == expected


def test_unknown_snapshot_reads_empty(bridge: Any) -> None:
    assert tuple(bridge.functions.snapshot(key("2030-Q1")).call()) == (bytes(32), "", "", 0)


# --- custody attestations ----------------------------------------------------


@pytest.fixture
def custody(chain: Any) -> Any:
    return chain.contracts["custody_attestations"]


def test_record_attestations_stores_by_label_key(chain: Any, custody: Any, people: Any) -> None:
    attested_at = now(chain.w3) + 4
    set_next_timestamp(chain.w3, attested_at)

    send(custody.functions.recordAttestations([("monthly-custody", "monthly-custody-202603", CID)]), people.admin)

    assert tuple(custody.functions.attestation(key("monthly-custody-202603")).call()) == (
        key("monthly-custody-202603"),
        "monthly-custody",
        "monthly-custody-202603",
        CID,
        attested_at,
    )


def test_record_attestations_emits_per_attestation(custody: Any, people: Any) -> None:
    receipt = send(
        custody.functions.recordAttestations([("monthly-custody", "monthly-custody-202603", CID)]), people.admin
    )

    assert events(receipt, custody, "AttestationRecorded") == [
        {
            "key": key("monthly-custody-202603"),
            "scopeHash": key("monthly-custody"),
            "scope": "monthly-custody",
            "label": "monthly-custody-202603",
            "cid": CID,
        }
    ]


def test_latest_attested_at_tracks_scope(chain: Any, custody: Any, people: Any) -> None:
    first = now(chain.w3) + 10
    set_next_timestamp(chain.w3, first)
    send(custody.functions.recordAttestations([("monthly-custody", "mc-202603", CID)]), people.admin)
    set_next_timestamp(chain.w3, first + 100)
    send(custody.functions.recordAttestations([("monthly-custody", "mc-202604", CID_2)]), people.admin)

    assert custody.functions.latestAttestedAt("monthly-custody").call() == first + 100
    assert custody.functions.latestAttestedAt("vault-proof").call() == 0


def test_attestation_label_recorded_once(custody: Any, people: Any) -> None:
    send(custody.functions.recordAttestations([("monthly-custody", "mc-202603", CID)]), people.admin)

    error = revert_of(custody.functions.recordAttestations([("vault-proof", "mc-202603", CID_2)]), people.admin)

    assert error.name == "AttestationAlreadyRecorded"
    assert error.args == (key("mc-202603"), "mc-202603")


@pytest.mark.parametrize(
    ("attestation", "name"),
    [
        pytest.param(("", "mc-202604", CID), "EmptyAttestationScope", id="empty-scope"),
        pytest.param(("monthly-custody", "", CID), "EmptyAttestationLabel", id="empty-label"),
        pytest.param(("monthly-custody", "mc-202604", ""), "EmptyAttestationCid", id="empty-cid"),
    ],
)
def test_attestation_empty_field_reverts(
    custody: Any, people: Any, attestation: tuple[str, str, str], name: str
) -> None:
    batch = [("monthly-custody", "mc-202603", CID), attestation]

    error = revert_of(custody.functions.recordAttestations(batch), people.admin)

    assert error.name == name
    assert error.args == (1,)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        pytest.param(0, 5, ["L1", "L2"], id="count-clipped"),
        pytest.param(1, 1, ["L2"], id="second"),
        pytest.param(2, 1, [], id="start-at-end"),
    ],
)
def test_attestations_page_bounds(custody: Any, people: Any, start: int, count: int, expected: list[str]) -> None:
    send(custody.functions.recordAttestations([("s", "L1", CID), ("s", "L2", CID_2)]), people.admin)

    page = custody.functions.attestationsPage(start, count).call()

    assert custody.functions.attestationCount().call() == 2
    assert [entry[2] for entry in page] == expected
