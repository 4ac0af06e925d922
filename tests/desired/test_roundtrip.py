"""Properties: loading what was dumped gives the same state, and validation output is deterministic."""

from __future__ import annotations

import shutil
from dataclasses import replace
from functools import cache

import pycountry
import pytest
import yaml
from desired_support import SAMPLE_DIR
from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.desired import dump_state, read_state
from reconciler.desired.diagnostics import render_text
from reconciler.desired.loader import load_document
from reconciler.desired.schema import schema_for_kind
from reconciler.desired.values import ZERO_ADDRESS
from reconciler.model import (
    SECONDS_PER_DAY,
    Allocation,
    AllocationStatus,
    CouponCycle,
    Environment,
    Investor,
    Partition,
    SanctionsEntry,
    State,
)

# Findings that only the cross-file rules produce; random states break those rules on purpose.
RULE_CODE_PREFIXES = ("allocation.", "investor.", "sanctions.", "coupon.", "environment.")
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z

# The zero address is rejected in every state file, so it is not a valid state to round-trip.
addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_checksum_address(raw)).filter(
    lambda address: address != ZERO_ADDRESS
)
days = st.integers(min_value=0, max_value=LAST_SECOND // SECONDS_PER_DAY).map(lambda day: day * SECONDS_PER_DAY)
seconds = st.integers(min_value=0, max_value=LAST_SECOND)
refs = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,20}\Z")
countries = st.sampled_from(sorted(country.alpha_2 for country in pycountry.countries))


@st.composite
def investors(draw: st.DrawFn) -> dict[str, Investor]:
    found = draw(st.lists(addresses, max_size=6, unique=True))
    return {
        address: Investor(
            address=address,
            ref=draw(refs),
            kyc=draw(st.booleans()),
            qib=draw(st.booleans()),
            jurisdiction=draw(countries),
            lockup_until=draw(st.none() | seconds),
        )
        for address in found
    }


@st.composite
def sanctions(draw: st.DrawFn) -> dict[str, SanctionsEntry]:
    found = draw(st.lists(addresses, max_size=6, unique=True))
    return {address: SanctionsEntry(address, draw(refs), draw(days), draw(st.none() | days)) for address in found}


@st.composite
def allocations(draw: st.DrawFn) -> dict[str, Allocation]:
    ids = draw(st.lists(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z"), max_size=6, unique=True))
    return {
        allocation_id: Allocation(
            id=allocation_id,
            partition=draw(st.sampled_from(Partition)),
            investor=draw(addresses),
            amount=draw(st.integers(min_value=1, max_value=10**40)),
            price=draw(st.integers(min_value=1, max_value=10**15)),
            trade_date=draw(days),
            status=draw(st.sampled_from([AllocationStatus.BOOKED, AllocationStatus.CANCELLED])),
        )
        for allocation_id in ids
    }


@st.composite
def coupon_cycles(draw: st.DrawFn) -> dict[str, CouponCycle]:
    ids = draw(st.lists(st.integers(min_value=1, max_value=10**12), max_size=4, unique=True))
    return {
        str(cycle_id): CouponCycle(
            id=str(cycle_id),
            period=f"{draw(st.integers(1970, 9999))}-Q{draw(st.integers(1, 4))}",
            rate_bps=draw(st.integers(min_value=1, max_value=10_000)),
            record_date=draw(days),
            payment_date=draw(days),
            amount=draw(st.none() | st.integers(min_value=1, max_value=10**20)),
        )
        for cycle_id in ids
    }


states = st.builds(
    State, investors=investors(), sanctions=sanctions(), allocations=allocations(), coupon_cycles=coupon_cycles()
)


@cache
def sample_environment() -> Environment:
    environment = read_state(SAMPLE_DIR.parent, "devnet").environment
    assert environment is not None
    return environment


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(state=states)
@example(state=State())
def test_load_of_dump_is_identity(tmp_path_factory: pytest.TempPathFactory, state: State) -> None:
    environment = sample_environment()
    root = tmp_path_factory.mktemp("state")
    (root / "devnet").mkdir()
    for name, text in dump_state(state, environment).items():
        (root / "devnet" / name).write_text(text, encoding="utf-8")

    result = read_state(root, "devnet")

    assert [each for each in result.diagnostics if not each.code.startswith(RULE_CODE_PREFIXES)] == []
    assert result.environment == environment
    assert result.state == state


@SETTINGS
@given(state=states)
def test_dump_reads_the_same_in_yaml_1_1(tmp_path_factory: pytest.TempPathFactory, state: State) -> None:
    # Editors and yq read YAML 1.1: the dumped files must mean the same there.
    root = tmp_path_factory.mktemp("yaml11")
    for name, text in dump_state(state, sample_environment()).items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        strict = load_document(path, name, schema_for_kind)

        assert yaml.safe_load(text) == strict.data, name


# Spellings that exercise the loader, the schema and the rules.
TOKENS = ["yes", "NO", "1000.0", "~", "", '"125"', "0x12", "2025-13-45", "RegS", "144a", "-1", "true", "{}", "[a]"]


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["investors.yaml", "allocations.yaml", "coupons.yaml", "sanctions.yaml"]),
        st.integers(min_value=0, max_value=10**6),
        st.sampled_from(TOKENS),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_validation_output_deterministic(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, int, str]]
) -> None:
    """Any edit of the sample, however broken, validates without a crash, sorted, the same way twice."""
    root = tmp_path_factory.mktemp("mutated")
    shutil.copytree(SAMPLE_DIR, root / "devnet")
    for name, position, token in edits:
        path = root / "devnet" / name
        lines = path.read_text(encoding="utf-8").split("\n")
        index = 3 + position % (len(lines) - 4)
        key, separator, _ = lines[index].partition(": ")
        lines[index] = f"{key}{separator}{token}" if separator else lines[index] + token
        path.write_text("\n".join(lines), encoding="utf-8")

    first = read_state(root, "devnet")
    second = read_state(root, "devnet")

    assert render_text(first.env_dir, first.diagnostics, first.counts()) == render_text(
        second.env_dir, second.diagnostics, second.counts()
    )
    assert first.diagnostics == sorted(first.diagnostics, key=lambda each: each.sort_key())


def test_dump_is_deterministic() -> None:
    result = read_state(SAMPLE_DIR.parent, "devnet")
    assert result.environment is not None

    first = dump_state(result.state, result.environment)
    reversed_state = State(
        **{
            name: dict(reversed(list(getattr(result.state, name).items())))
            for name in (
                "investors",
                "sanctions",
                "allocations",
                "coupon_cycles",
                "cap_table_snapshots",
                "custody_attestations",
                "pause",
                "roles",
                "force_transfers",
            )
        }
    )
    second = dump_state(reversed_state, result.environment)

    assert first == second


def test_dump_writes_settled_as_booked() -> None:
    # A settled booking is only observed on chain; in YAML it satisfies `booked`, the default.
    allocation = Allocation("A-1", Partition.REG_S, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 10**18, 10**6, 0)
    settled = State(allocations={"A-1": replace(allocation, status=AllocationStatus.SETTLED)})

    text = dump_state(settled)["allocations.yaml"]

    assert text.split("\n")[3] == (
        '  A-1: {partition: RegS, investor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", amount: "1", '
        'price: "1.000000", trade_date: "1970-01-01"}'
    )
    assert text == dump_state(State(allocations={"A-1": allocation}))["allocations.yaml"]
