"""ComplianceRegistry: investor records in packed and unpacked form, blocks, events, pages."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import events, investor_word, revert_of, send

from reconciler.chain.packing import unpack_investor

LOCKUP = 1_900_000_000


def record(registry: Any, account: str) -> tuple[Any, ...]:
    return tuple(registry.functions.investor(account).call())


@pytest.fixture
def registry(chain: Any) -> Any:
    return chain.contracts["compliance_registry"]


# --- writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kyc", "qib", "jurisdiction", "lockup_until"),
    [
        pytest.param(True, True, "US", 0, id="qib-us"),
        pytest.param(True, False, "DE", LOCKUP, id="regs-de-locked"),
        pytest.param(False, False, None, 0, id="no-kyc-no-jurisdiction"),
        pytest.param(True, True, "ZZ", 2**64 - 1, id="max-lockup"),
    ],
)
def test_set_investors_stores_packed_fields(
    registry: Any, people: Any, kyc: bool, qib: bool, jurisdiction: str | None, lockup_until: int
) -> None:
    word = investor_word(people.qib, kyc=kyc, qib=qib, jurisdiction=jurisdiction, lockup_until=lockup_until)

    send(registry.functions.setInvestors([word]), people.admin)

    code = jurisdiction.encode() if jurisdiction else bytes(2)
    assert record(registry, people.qib) == (True, kyc, qib, code, lockup_until)


def test_set_investor_unpacked_stores_fields(registry: Any, people: Any) -> None:
    send(registry.functions.setInvestor(people.qib, True, False, b"SG", LOCKUP), people.admin)

    assert record(registry, people.qib) == (True, True, False, b"SG", LOCKUP)


def test_unregistered_investor_reads_zero(registry: Any, people: Any) -> None:
    assert record(registry, people.unregistered) == (False, False, False, bytes(2), 0)


def test_set_investors_emits_packed_word(registry: Any, people: Any) -> None:
    word = investor_word(people.qib, qib=True, jurisdiction="US", lockup_until=LOCKUP)

    receipt = send(registry.functions.setInvestors([word]), people.admin)

    assert events(receipt, registry, "InvestorSet") == [{"investor": people.qib, "record": word}]


def test_unpacked_setter_emits_packed_word(registry: Any, people: Any) -> None:
    receipt = send(registry.functions.setInvestor(people.qib, True, True, b"US", LOCKUP), people.admin)

    [event] = events(receipt, registry, "InvestorSet")
    assert event["record"] == investor_word(people.qib, qib=True, jurisdiction="US", lockup_until=LOCKUP)
    assert unpack_investor(event["record"]).address == people.qib


def test_unchanged_investor_is_skipped_without_event(registry: Any, people: Any) -> None:
    word = investor_word(people.qib, qib=True, jurisdiction="US")
    send(registry.functions.setInvestors([word]), people.admin)

    receipt = send(registry.functions.setInvestors([word]), people.admin)

    assert events(receipt, registry, "InvestorSet") == []
    assert registry.functions.investorCount().call() == 1


def test_update_changes_record_without_new_entry(registry: Any, people: Any) -> None:
    send(registry.functions.setInvestors([investor_word(people.qib, qib=True, jurisdiction="US")]), people.admin)

    update = investor_word(people.qib, kyc=False, qib=True, jurisdiction="US", lockup_until=LOCKUP)
    receipt = send(registry.functions.setInvestors([update]), people.admin)

    assert record(registry, people.qib) == (True, False, True, b"US", LOCKUP)
    assert registry.functions.investorCount().call() == 1
    assert events(receipt, registry, "InvestorSet") == [{"investor": people.qib, "record": update}]


def test_revoked_investor_stays_registered(registry: Any, people: Any) -> None:
    send(registry.functions.setInvestors([investor_word(people.qib)]), people.admin)

    send(registry.functions.setInvestors([investor_word(people.qib, kyc=False)]), people.admin)

    assert record(registry, people.qib) == (True, False, False, bytes(2), 0)
    assert registry.functions.investorsPage(0, 10).call()[0][0] == people.qib


def test_batch_counts_each_new_investor_once(registry: Any, people: Any) -> None:
    words = [investor_word(people.qib), investor_word(people.qib2), investor_word(people.qib, qib=True)]

    receipt = send(registry.functions.setInvestors(words), people.admin)

    assert registry.functions.investorCount().call() == 2
    assert len(events(receipt, registry, "InvestorSet")) == 3


@pytest.mark.parametrize(
    "bad_bits",
    [
        pytest.param(1 << 162, id="flag-bit-2"),
        pytest.param(1 << 167, id="flag-bit-7"),
        pytest.param(1 << 248, id="high-byte-low-bit"),
        pytest.param(1 << 255, id="top-bit"),
    ],
)
def test_set_investors_rejects_reserved_bits(registry: Any, people: Any, bad_bits: int) -> None:
    good = investor_word(people.qib2)
    word = investor_word(people.qib) | bad_bits

    error = revert_of(registry.functions.setInvestors([good, word]), people.admin)

    assert error.name == "InvalidInvestorWord"
    assert error.args == (1, word)


def test_set_investors_rejects_zero_address(registry: Any, people: Any) -> None:
    word = 1 << 160  # kyc flag only, address bits zero

    error = revert_of(registry.functions.setInvestors([word]), people.admin)

    assert error.name == "InvalidInvestorWord"
    assert error.args == (0, word)


def test_set_investor_rejects_zero_address(registry: Any, people: Any) -> None:
    zero = "0x" + "00" * 20

    error = revert_of(registry.functions.setInvestor(zero, True, True, b"US", 0), people.admin)

    assert error.name == "ZeroAddress"
    assert error.args == ()


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(b"us", id="lowercase"),
        pytest.param(b"U\x00", id="one-letter"),
        pytest.param(b"\x00S", id="second-letter-only"),
        pytest.param(b"U1", id="digit"),
        pytest.param(b"@A", id="below-A"),
        pytest.param(b"A[", id="above-Z"),
    ],
)
def test_set_investor_rejects_invalid_jurisdiction(registry: Any, people: Any, code: bytes) -> None:
    error = revert_of(registry.functions.setInvestor(people.qib, True, True, code, 0), people.admin)

    assert error.name == "InvalidJurisdiction"
    assert error.args == (people.qib, code)


def test_set_investors_rejects_invalid_jurisdiction(registry: Any, people: Any) -> None:
    word = investor_word(people.qib) | (int.from_bytes(b"u1", "big") << 168)

    error = revert_of(registry.functions.setInvestors([word]), people.admin)

    assert error.name == "InvalidJurisdiction"
    assert error.args == (people.qib, b"u1")


def test_rejected_batch_stores_nothing(registry: Any, people: Any) -> None:
    words = [investor_word(people.qib), investor_word(people.qib2) | (1 << 255)]

    revert_of(registry.functions.setInvestors(words), people.admin)

    assert registry.functions.investorCount().call() == 0


# --- blocked addresses -------------------------------------------------------


def test_block_addresses_emits_per_new_block(registry: Any, people: Any) -> None:
    receipt = send(registry.functions.blockAddresses([people.qib, people.qib2]), people.admin)

    assert events(receipt, registry, "AddressBlocked") == [{"account": people.qib}, {"account": people.qib2}]
    assert registry.functions.isBlocked(people.qib).call() is True


def test_block_already_blocked_is_skipped(registry: Any, people: Any) -> None:
    send(registry.functions.blockAddresses([people.qib]), people.admin)

    receipt = send(registry.functions.blockAddresses([people.qib, people.qib2]), people.admin)

    assert events(receipt, registry, "AddressBlocked") == [{"account": people.qib2}]
    assert registry.functions.blockedCount().call() == 2


def test_unblock_addresses_emits_per_unblock(registry: Any, people: Any) -> None:
    send(registry.functions.blockAddresses([people.qib, people.qib2]), people.admin)

    receipt = send(registry.functions.unblockAddresses([people.qib, people.regs_free]), people.admin)

    assert events(receipt, registry, "AddressUnblocked") == [{"account": people.qib}]
    assert registry.functions.isBlocked(people.qib).call() is False
    assert registry.functions.blockedPage(0, 10).call() == [people.qib2]


def test_block_addresses_rejects_zero_address(registry: Any, people: Any) -> None:
    error = revert_of(registry.functions.blockAddresses(["0x" + "00" * 20]), people.admin)

    assert error.name == "ZeroAddress"


def test_blocked_unregistered_address_is_not_an_investor(registry: Any, people: Any) -> None:
    send(registry.functions.blockAddresses([people.outsider]), people.admin)

    assert registry.functions.investorCount().call() == 0
    assert registry.functions.blockedCount().call() == 1


# --- paged views -------------------------------------------------------------


@pytest.fixture
def three_investors(registry: Any, people: Any) -> list[str]:
    accounts = [people.qib, people.regs_locked, people.qib2]
    words = [
        investor_word(people.qib, qib=True, jurisdiction="US"),
        investor_word(people.regs_locked, jurisdiction="DE", lockup_until=LOCKUP),
        investor_word(people.qib2, qib=True, jurisdiction="US"),
    ]
    send(registry.functions.setInvestors(words), people.admin)
    send(registry.functions.blockAddresses([people.qib2]), people.admin)
    return accounts


def test_investors_page_returns_every_field(registry: Any, three_investors: list[str]) -> None:
    page = registry.functions.investorsPage(0, 3).call()

    assert [tuple(entry) for entry in page] == [
        (three_investors[0], True, True, b"US", 0, False),
        (three_investors[1], True, False, b"DE", LOCKUP, False),
        (three_investors[2], True, True, b"US", 0, True),
    ]


@pytest.mark.parametrize(
    ("start", "count", "expected_indexes"),
    [
        pytest.param(0, 2, [0, 1], id="first-page"),
        pytest.param(1, 10, [1, 2], id="count-clipped"),
        pytest.param(2, 1, [2], id="last-item"),
        pytest.param(3, 5, [], id="start-at-end"),
        pytest.param(10, 5, [], id="start-past-end"),
        pytest.param(0, 0, [], id="count-zero"),
        pytest.param(1, 2**256 - 1, [1, 2], id="count-max-uint"),
    ],
)
def test_investors_page_bounds(
    registry: Any, three_investors: list[str], start: int, count: int, expected_indexes: list[int]
) -> None:
    page = registry.functions.investorsPage(start, count).call()

    assert [entry[0] for entry in page] == [three_investors[i] for i in expected_indexes]


def test_investor_count_counts_registered(registry: Any, three_investors: list[str]) -> None:
    assert registry.functions.investorCount().call() == 3


@pytest.mark.parametrize(
    ("start", "count", "expected_length"),
    [
        pytest.param(0, 10, 3, id="count-clipped"),
        pytest.param(1, 1, 1, id="middle"),
        pytest.param(3, 1, 0, id="start-at-end"),
        pytest.param(2**256 - 1, 1, 0, id="start-max-uint"),
    ],
)
def test_blocked_page_bounds(
    registry: Any, people: Any, start: int, count: int, expected_length: int
) -> None:
    blocked = [people.qib, people.qib2, people.outsider]
    send(registry.functions.blockAddresses(blocked), people.admin)

    page = registry.functions.blockedPage(start, count).call()

    assert page == blocked[start : start + expected_length]
