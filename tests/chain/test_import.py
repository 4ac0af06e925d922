"""`jinbi import`: the chain's state written as YAML that loads back to the same chain-visible values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chain_support import (
    DAY,
    TOKEN,
    USDC,
    Cycle,
    block,
    book,
    cancel,
    now,
    pay_coupon,
    run_cli,
    set_investors,
    settle,
)

from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.chain.packing import PackedInvestor
from reconciler.desired import load_state, read_state
from reconciler.desired.values import parse_date
from reconciler.model import PAUSE_KEY, AllocationStatus, Environment, Pause, State

SCHEMA = "# yaml-language-server: $schema=../../schemas/{}.schema.json"
STRANGER = "0x1000000000000000000000000000000000000001"
BLOCKED = "0x2000000000000000000000000000000000000002"
NOT_ON_CHAIN = "0x3000000000000000000000000000000000000003"


def seed(chain: Any) -> dict[str, str]:
    """Put one of each kind on chain: investors, blocked addresses, booked, settled and cancelled allocations, a coupon."""
    qib, regs = chain.accounts[1], chain.accounts[2]
    lockup = now(chain) + 90 * DAY
    set_investors(
        chain,
        PackedInvestor(qib, True, True, "US", 0),
        PackedInvestor(regs, True, False, "SG", lockup),
        PackedInvestor(STRANGER, False, False, "FR", 0),
    )
    block(chain, BLOCKED)
    book(
        chain,
        ("ALLOC-0001", "144A", qib, 1_000 * TOKEN, 1 * USDC),
        ("ALLOC-0002", "RegS", regs, 2_500 * TOKEN + TOKEN // 4, 998_500),
        ("ALLOC-0003", "144A", qib, 10 * TOKEN, 1 * USDC),
    )
    cancel(chain, "ALLOC-0003")
    settle(chain, "ALLOC-0001", qib)
    day = now(chain) // DAY * DAY
    pay_coupon(chain, Cycle(1, "2026-Q4", 125, day - 10 * DAY, day - 2 * DAY, 12 * USDC + 500_000))
    return {"qib": qib, "regs": regs}


def write_existing(state_dir: Path, qib: str) -> None:
    """Write YAML with the QIB's ref, the blocked address's source and ALLOC-0001's trade date."""
    folder = state_dir / "devnet"
    (folder / "investors.yaml").write_text(
        f"{SCHEMA.format('investors')}\nkind: Investors\ninvestors:\n"
        f'  "{qib}": {{ref: INV-0042, kyc: true, qib: true, jurisdiction: "US"}}\n'
        f'  "{NOT_ON_CHAIN}": {{ref: IMPORTED-0001, kyc: true, qib: false, jurisdiction: "DE"}}\n',
        encoding="utf-8",
    )
    (folder / "sanctions.yaml").write_text(
        f'{SCHEMA.format("sanctions")}\nkind: Sanctions\nblocked:\n  "{BLOCKED}": {{source: OFAC-SDN, listed_on: "2024-05-02"}}\n',
        encoding="utf-8",
    )
    (folder / "allocations.yaml").write_text(
        f"{SCHEMA.format('allocations')}\nkind: Allocations\nallocations:\n"
        f'  ALLOC-0001: {{partition: "144A", investor: "{qib}", amount: "1000", price: "1.000000", trade_date: "2026-09-01"}}\n',
        encoding="utf-8",
    )


def chain_visible(state: State) -> State:
    """Drop the fields the chain does not hold: refs, sanctions sources and dates, trade dates, payment times."""
    return State(
        investors={a: replace(i, ref="") for a, i in state.investors.items()},
        sanctions={a: replace(e, source="", listed_on=0) for a, e in state.sanctions.items()},
        allocations={k: replace(a, trade_date=0) for k, a in state.allocations.items()},
        coupon_cycles={k: replace(c, paid_at=None) for k, c in state.coupon_cycles.items()},
    )


# --- round trip ------------------------------------------------------------------


def test_import_round_trip(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    people = seed(chain)
    write_existing(state_dir, people["qib"])

    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    assert result.exit_code == 0, result.stderr
    loaded = load_state(state_dir, "devnet").state
    observed = observe(rpc.connect(environment), environment).state
    assert chain_visible(loaded) == chain_visible(observed)


def test_import_keeps_known_fields(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    people = seed(chain)
    write_existing(state_dir, people["qib"])

    run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    state = load_state(state_dir, "devnet").state
    assert state.investors[people["qib"]].ref == "INV-0042"
    assert state.sanctions[BLOCKED].source == "OFAC-SDN"
    assert state.sanctions[BLOCKED].listed_on == parse_date("2024-05-02")
    assert state.allocations["ALLOC-0001"].trade_date == parse_date("2026-09-01")
    assert NOT_ON_CHAIN not in state.investors


def test_import_fills_placeholders(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    people = seed(chain)
    write_existing(state_dir, people["qib"])

    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    state = load_state(state_dir, "devnet").state
    # IMPORTED-0001 is taken by an investor of the existing file, so numbering skips it.
    assert {state.investors[people["regs"]].ref, state.investors[STRANGER].ref} == {"IMPORTED-0002", "IMPORTED-0003"}
    booked_at = chain.contracts["dvp_settlement"].functions.booking(b"ALLOC-0002".ljust(32, b"\0")).call()[6]
    assert state.allocations["ALLOC-0002"].trade_date == booked_at // DAY * DAY
    assert "  placeholders: 2 investor refs set to IMPORTED-NNNN; replace them with the real values" in result.stdout
    assert "  placeholders: 2 trade dates set to the booking date; replace them with the real values" in result.stdout
    investors_text = (state_dir / "devnet" / "investors.yaml").read_text(encoding="utf-8")
    assert investors_text.split("\n")[2] == (
        "# The chain stores no refs: placeholder refs IMPORTED-NNNN are given to 2 investors. "
        "Replace them with the KYC file references."
    )


def test_import_writes_statuses(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    people = seed(chain)
    write_existing(state_dir, people["qib"])

    run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    text = (state_dir / "devnet" / "allocations.yaml").read_text(encoding="utf-8")
    assert (
        f'  ALLOC-0001: {{partition: "144A", investor: "{people["qib"]}", amount: "1000", price: "1.000000", '
        'trade_date: "2026-09-01", status: settled}'
    ) in text.split("\n")
    statuses = {key: a.status for key, a in load_state(state_dir, "devnet").state.allocations.items()}
    assert statuses == {
        "ALLOC-0001": AllocationStatus.SETTLED,
        "ALLOC-0002": AllocationStatus.BOOKED,
        "ALLOC-0003": AllocationStatus.CANCELLED,
    }


def test_import_fresh_chain(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    observation = observe(rpc.connect(environment), environment)
    origin = f"# Written by `jinbi import` from chain 31337 at block {observation.block_number} ({observation.block_hash})."
    folder = state_dir / "devnet"
    assert result.exit_code == 0
    assert (folder / "investors.yaml").read_text(encoding="utf-8") == (
        f"{SCHEMA.format('investors')}\n{origin}\nkind: Investors\ninvestors: {{}}\n"
    )
    assert (folder / "coupons.yaml").read_text(encoding="utf-8") == (
        f"{SCHEMA.format('coupons')}\n{origin}\nkind: CouponCycles\ncycles: {{}}\n"
    )
    assert result.stdout.split("\n")[:2] == [
        f"imported chain 31337 at block {observation.block_number} ({observation.block_hash}) into {folder}",
        "  0 investors, 0 blocked addresses, 0 allocations, 0 coupon cycles, 0 cap-table snapshots, "
        "0 custody attestations, 0 force transfers, 14 role holders, token not paused",
    ]
    loaded = load_state(state_dir, "devnet").state
    assert replace(loaded, pause={}, roles={}) == State()
    assert loaded.pause == {PAUSE_KEY: Pause(paused=False, reason="imported from the chain")}


def test_import_to_out_dir(
    chain: Any, environment: Environment, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"

    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir), "--out-dir", str(out))

    assert result.exit_code == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "allocations.yaml",
        "attestations.yaml",
        "cap-tables.yaml",
        "coupons.yaml",
        "force-transfers.yaml",
        "investors.yaml",
        "pause.yaml",
        "roles.yaml",
        "sanctions.yaml",
    ]
    assert sorted(path.name for path in (state_dir / "devnet").iterdir()) == ["environment.yaml"]


# --- values the YAML format rejects ------------------------------------------------


def test_missing_jurisdiction_reported(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_investors(chain, PackedInvestor(STRANGER, True, False, None, 0))

    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    investors_file = state_dir / "devnet" / "investors.yaml"
    assert result.exit_code == 1
    assert investors_file.exists()
    assert 'jurisdiction: ""' in investors_file.read_text(encoding="utf-8")
    assert result.stderr.split("\n")[:2] == [
        f'{investors_file}:10:19: error: investor {STRANGER}: jurisdiction "" is invalid',
        "    hint: a jurisdiction is an ISO 3166-1 alpha-2 code in two capital letters, such as US or SG",
    ]
    assert result.stderr.split("\n")[2] == (
        f"error: the files imported into {investors_file.parent} are not a valid desired state: 1 error"
    )
    assert result.stderr.rstrip("\n").split("\n")[-1] == (
        "hint: the chain holds values the YAML rules reject; correct them in the files and run "
        "`jinbi validate --env devnet`, then the next apply sends the corrections to the chain"
    )


def test_coupon_date_not_midnight_rejected(
    chain: Any, environment: Environment, state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    noon = now(chain) // DAY * DAY - DAY // 2
    pay_coupon(chain, Cycle(1, "2026-Q4", 125, noon - 10 * DAY, noon, 1 * USDC))

    result = run_cli(monkeypatch, capsys, "import", "--env", "devnet", "--state-dir", str(state_dir))

    assert result.exit_code == 1
    assert "error: coupon cycle 1 at block " in result.stderr
    assert "which is not at 00:00 UTC, so the CouponCycles file cannot hold it" in result.stderr
    assert sorted(path.name for path in (state_dir / "devnet").iterdir()) == ["environment.yaml"]


def test_settled_allocation_skips_booking_rules(environment: Environment, state_dir: Path) -> None:
    folder = state_dir / "devnet"
    (folder / "investors.yaml").write_text(
        f"{SCHEMA.format('investors')}\nkind: Investors\ninvestors:\n"
        f'  "{STRANGER}": {{ref: INV-0001, kyc: false, qib: true, jurisdiction: "US"}}\n',
        encoding="utf-8",
    )
    (folder / "allocations.yaml").write_text(
        f"{SCHEMA.format('allocations')}\nkind: Allocations\nallocations:\n"
        f'  ALLOC-0001: {{partition: "144A", investor: "{STRANGER}", amount: "1", price: "1.000000", '
        'trade_date: "2026-09-01", status: settled}\n',
        encoding="utf-8",
    )

    result = read_state(state_dir, "devnet")

    assert result.state.allocations["ALLOC-0001"].status is AllocationStatus.SETTLED
    assert result.diagnostics == []
