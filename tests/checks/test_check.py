"""The morning check against a real anvil: feeds, pause, supplies, attestations, and the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from reconciler import PROJECT_ROOT
from reconciler.chain import rpc
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.checks import CheckReport, Finding, Severity, evaluate, run_check
from reconciler.desired import read_state
from reconciler.devnet import write_environment

TOKEN = 10**18
USDC = 10**6


def send(call: ContractFunction, sender: str) -> TxReceipt:
    gas = call.estimate_gas({"from": sender}, block_identifier="pending")
    receipt = call.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": gas + gas // 5}))
    assert receipt["status"] == 1
    return receipt


def latest_timestamp(chain: Any) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def mine_at(chain: Any, timestamp: int) -> None:
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    chain.w3.provider.make_request("evm_mine", [])


def ascii_id(text: str) -> bytes:
    return text.encode("ascii").ljust(32, b"\0")


def write_state_dir(tmp_path: Path, chain: Any) -> Path:
    state_dir = tmp_path / "state"
    write_environment(state_dir / "devnet" / "environment.yaml", chain.deployment)
    assert read_state(state_dir, "devnet").environment is not None
    return state_dir


def check(tmp_path: Path, chain: Any) -> CheckReport:
    return run_check(write_state_dir(tmp_path, chain), "devnet", w3=rpc.connect_url(chain.url))


def alerts(report: CheckReport) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.alerts}


def test_fresh_chain_has_no_alerts(chain: Any, tmp_path: Path) -> None:
    report = check(tmp_path, chain)

    assert report.alerts == ()
    checks = {finding.check for finding in report.findings}
    assert "price_feed_age/XAU/USD" in checks
    assert "price_feed_age/USDC/USD" in checks
    assert "price_feed_answer/XAU/USD" in checks
    assert "token_paused" in checks
    assert "supply/144A" in checks
    assert "supply/RegS" in checks
    assert report.readings.latest_attestation_at is None
    assert report.readings.open_bookings == 0
    assert report.readings.block_number == chain.w3.eth.block_number


def test_feed_older_than_heartbeat_alerts(chain: Any, tmp_path: Path) -> None:
    updated_at = int(chain.contracts["xau_usd_feed"].functions.latestRoundData().call()[3])
    # XAU/USD's devnet heartbeat is 3600 s and USDC/USD's is 86400 s, so only XAU/USD goes stale.
    mine_at(chain, updated_at + 3601)

    report = check(tmp_path, chain)

    found = alerts(report)
    assert list(found) == ["price_feed_age/XAU/USD"]
    assert "3601 s old" in found["price_feed_age/XAU/USD"].message
    assert "heartbeat of 3600 s" in found["price_feed_age/XAU/USD"].message


def test_feed_at_heartbeat_is_ok(chain: Any, tmp_path: Path) -> None:
    updated_at = int(chain.contracts["xau_usd_feed"].functions.latestRoundData().call()[3])
    mine_at(chain, updated_at + 3600)

    assert check(tmp_path, chain).alerts == ()


def test_negative_feed_answer_alerts(chain: Any, tmp_path: Path) -> None:
    feed = chain.contracts["usdc_usd_feed"]
    send(feed.functions.setRoundData(-1, latest_timestamp(chain)), chain.signer)

    report = check(tmp_path, chain)

    found = alerts(report)
    assert list(found) == ["price_feed_answer/USDC/USD"]
    assert "-0.00000001" in found["price_feed_answer/USDC/USD"].message
    assert "not positive" in found["price_feed_answer/USDC/USD"].message


def test_paused_token_alerts(chain: Any, tmp_path: Path) -> None:
    send(chain.contracts["security_token"].functions.pause(), chain.signer)

    report = check(tmp_path, chain)

    assert list(alerts(report)) == ["token_paused"]


def test_settled_and_open_bookings(chain: Any, tmp_path: Path) -> None:
    investor = chain.accounts[3]
    word = pack_investor(PackedInvestor(investor, kyc=True, qib=True, jurisdiction="US", lockup_until=0))
    send(chain.contracts["compliance_registry"].functions.setInvestors([word]), chain.signer)
    bookings = [
        (ascii_id("ALLOC-1"), ascii_id("144A"), investor, 5 * TOKEN, USDC),
        (ascii_id("ALLOC-2"), ascii_id("144A"), investor, 7 * TOKEN, USDC),
    ]
    dvp = chain.contracts["dvp_settlement"]
    send(dvp.functions.book(bookings), chain.signer)
    send(chain.contracts["usdc"].functions.mint(investor, 5 * USDC), chain.signer)
    send(chain.contracts["usdc"].functions.approve(dvp.address, 5 * USDC), investor)
    send(dvp.functions.settle(ascii_id("ALLOC-1")), investor)

    report = check(tmp_path, chain)

    assert report.alerts == ()
    assert report.readings.supply_by_partition["144A"] == 5 * TOKEN
    assert report.readings.settled_by_partition["144A"] == 5 * TOKEN
    assert report.readings.open_bookings == 1
    assert report.readings.open_booking_amount == 7 * TOKEN


def test_latest_attestation_is_reported(chain: Any, tmp_path: Path) -> None:
    attestations = chain.contracts["custody_attestations"]
    send(attestations.functions.recordAttestations([("monthly-custody", "custody-2026-11", "bafy-one")]), chain.signer)
    send(attestations.functions.recordAttestations([("monthly-custody", "custody-2026-12", "bafy-two")]), chain.signer)

    report = check(tmp_path, chain)

    assert report.alerts == ()
    assert report.readings.latest_attestation_label == "custody-2026-12"
    assert report.readings.latest_attestation_at == latest_timestamp(chain)


def test_supply_mismatch_alerts(chain: Any, tmp_path: Path) -> None:
    readings = check(tmp_path, chain).readings
    # No transaction can mint outside DvPSettlement, so the mismatch is made in the readings.
    skewed = replace(readings, supply_by_partition={"144A": 1, "RegS": 0})

    found = {finding.check: finding for finding in evaluate(skewed) if finding.severity is Severity.ALERT}

    assert list(found) == ["supply/144A"]
    assert "0.000000000000000001" in found["supply/144A"].message


def run_jinbi(state_dir: Path, rpc_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "JINBI_RPC_URL": rpc_url}
    command = [sys.executable, "-m", "reconciler", "check", "--env", "devnet", "--state-dir", str(state_dir), *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)


def test_cli_exit_codes(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state_dir(tmp_path, chain)

    healthy = run_jinbi(state_dir, chain.url)
    assert healthy.returncode == 0, healthy.stderr
    assert "0 alerts." in healthy.stdout

    send(chain.contracts["security_token"].functions.pause(), chain.signer)
    paused = run_jinbi(state_dir, chain.url, "--format", "json")
    assert paused.returncode == 2, paused.stderr
    document = json.loads(paused.stdout)
    assert document["alerts"] == 1
    assert [f["check"] for f in document["findings"] if f["severity"] == "alert"] == ["token_paused"]


def test_cli_missing_environment_exits_1(tmp_path: Path) -> None:
    result = run_jinbi(tmp_path / "state", "http://127.0.0.1:9")

    assert result.returncode == 1
    assert "error:" in result.stderr
