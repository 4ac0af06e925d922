"""The morning check against a real anvil: feeds, pause, supplies, attestations, and the CLI's exit codes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from activity_support import failed_transfer, issue, register, send_failing, transfer
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from reconciler import PROJECT_ROOT
from reconciler.chain import rpc
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.checks import CheckReport, Finding, Severity, evaluate, run_check
from reconciler.desired import read_state
from reconciler.devnet import write_environment
from reconciler.errors import DesiredStateError

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


def write_state_dir(tmp_path: Path, chain: Any, settings: str = "") -> Path:
    """Write the devnet environment file of CHAIN, keeping the YAML SETTINGS (such as a checks section)."""
    path = tmp_path / "state" / "devnet" / "environment.yaml"
    if settings:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings, encoding="utf-8")
    write_environment(path, chain.deployment)
    assert read_state(path.parent.parent, "devnet").environment is not None
    return path.parent.parent


def check(tmp_path: Path, chain: Any, settings: str = "") -> CheckReport:
    return run_check(write_state_dir(tmp_path, chain, settings), "devnet", w3=rpc.connect_url(chain.url))


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
    assert "large_transfers" in checks
    assert "rejection_rate" in checks
    assert "custody_attestation" in checks
    assert report.readings.latest_attestation_at is None
    assert report.readings.activity.to_block == report.readings.block_number
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


# --- thresholds from the environment file ------------------------------------


def refresh_feeds(chain: Any) -> None:
    """Give both feeds a round at the latest block's time, so that a clock jump leaves them fresh."""
    for key, answer in (("xau_usd_feed", 2_650 * 10**8), ("usdc_usd_feed", 10**8)):
        send(chain.contracts[key].functions.setRoundData(answer, latest_timestamp(chain)), chain.signer)


def test_environment_keeps_checks_section(chain: Any, tmp_path: Path) -> None:
    settings = 'price_feeds: {XAU/USD: {min_answer: "1000.5"}}\nchecks: {large_transfer_usd: "250000", max_log_block_range: 9}\n'

    state_dir = write_state_dir(tmp_path, chain, settings)

    environment = read_state(state_dir, "devnet").environment
    assert environment is not None
    assert environment.price_feeds["XAU/USD"].min_answer == 100_050_000_000
    assert environment.price_feeds["XAU/USD"].max_answer is None
    assert environment.checks.large_transfer_usd == Decimal("250000")
    assert environment.checks.max_log_block_range == 9
    assert environment.checks.activity_window_hours == 24


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        pytest.param('min_answer: "2650.00000001"', "XAU/USD answer 2650 is below its min_answer 2650.00000001", id="below"),
        pytest.param('max_answer: "2649.99"', "XAU/USD answer 2650 is above its max_answer 2649.99", id="above"),
    ],
)
def test_feed_answer_out_of_bounds_alerts(chain: Any, tmp_path: Path, bounds: str, expected: str) -> None:
    report = check(tmp_path, chain, f"price_feeds: {{XAU/USD: {{{bounds}}}}}\n")

    found = alerts(report)
    assert list(found) == ["price_feed_bounds/XAU/USD"]
    assert found["price_feed_bounds/XAU/USD"].message == expected


def test_feed_answer_at_bounds_is_ok(chain: Any, tmp_path: Path) -> None:
    report = check(tmp_path, chain, 'price_feeds: {XAU/USD: {min_answer: "2650", max_answer: "2650"}}\n')

    assert report.alerts == ()
    (finding,) = [finding for finding in report.findings if finding.check == "price_feed_bounds/XAU/USD"]
    assert finding.message == "XAU/USD answer 2650 is within its bounds [2650, 2650]"


def test_old_attestation_alerts(chain: Any, tmp_path: Path) -> None:
    attestations = chain.contracts["custody_attestations"]
    send(attestations.functions.recordAttestations([("monthly-custody", "custody-2026-10", "bafy-one")]), chain.signer)
    attested_at = latest_timestamp(chain)
    mine_at(chain, attested_at + 35 * 86_400 + 1)
    refresh_feeds(chain)

    found = alerts(check(tmp_path, chain))

    assert list(found) == ["custody_attestation"]
    assert found["custody_attestation"].message.startswith("the latest custody attestation 'custody-2026-10' is 30240")
    assert found["custody_attestation"].message.endswith("older than the maximum of 35 days")


def test_attestation_within_configured_age_is_ok(chain: Any, tmp_path: Path) -> None:
    attestations = chain.contracts["custody_attestations"]
    send(attestations.functions.recordAttestations([("monthly-custody", "custody-2026-10", "bafy-one")]), chain.signer)
    mine_at(chain, latest_timestamp(chain) + 40 * 86_400)
    refresh_feeds(chain)

    report = check(tmp_path, chain, "checks: {attestation_max_age_days: 41}\n")

    assert report.alerts == ()


def test_large_transfer_alerts(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 2_000_001)
    sent = transfer(chain, alice, bob, 1_000_001)
    tx_hash = "0x" + sent["transactionHash"].hex()

    found = alerts(check(tmp_path, chain))

    assert list(found) == [f"large_transfer/{tx_hash}"]
    assert found[f"large_transfer/{tx_hash}"].message == (
        f"transfer of 1000001 tokens from {alice} to {bob} in transaction {tx_hash} (block {sent['blockNumber']}) "
        "is worth 1,000,001.00 USD (USDC valued at 1 USD by USDC/USD), above the threshold of 1,000,000 USD"
    )


def test_transfer_at_threshold_is_ok(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    # Issuance of more than the threshold is a settled booking, not a transfer.
    issue(chain, alice, 2_000_000)
    transfer(chain, alice, bob, 1_000_000)

    assert check(tmp_path, chain).alerts == ()


def test_large_transfer_uses_usdc_price(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 1_000_001)
    transfer(chain, alice, bob, 1_000_001)
    # At 0.99 USD per USDC, 1,000,001 tokens of 1 USDC face value are worth 990,000.99 USD.
    send(chain.contracts["usdc_usd_feed"].functions.setRoundData(99_000_000, latest_timestamp(chain)), chain.signer)

    report = check(tmp_path, chain)

    assert report.alerts == ()
    (finding,) = [finding for finding in report.findings if finding.check == "large_transfers"]
    assert "(USDC valued at 0.99 USD by USDC/USD)" in finding.message


def test_large_transfer_outside_window_is_ok(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 2_000_000)
    transfer(chain, alice, bob, 1_500_000)
    mine_at(chain, latest_timestamp(chain) + 3_600 + 1)
    refresh_feeds(chain)

    report = check(tmp_path, chain, "checks: {activity_window_hours: 1}\n")

    assert report.alerts == ()


def test_rejection_burst_alerts(chain: Any, tmp_path: Path) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 100)
    for _ in range(3):
        transfer(chain, alice, bob, 1)
    rejected = [failed_transfer(chain, alice, carol, 1) for _ in range(2)]

    found = alerts(check(tmp_path, chain))

    assert list(found) == ["rejection_rate"]
    message = found["rejection_rate"].message
    assert "2 of 5 transfer transactions in blocks" in message
    assert "failed: 40.00 %, above the maximum of 5 %" in message
    assert f"0x{rejected[0]['transactionHash'].hex()} at block {rejected[0]['blockNumber']} from {alice}" in message
    assert "(RECEIVER_NOT_QIB)" in message


def test_rejection_rate_at_maximum_is_ok(chain: Any, tmp_path: Path) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 100)
    for _ in range(3):
        transfer(chain, alice, bob, 1)
    failed_transfer(chain, alice, carol, 1)

    report = check(tmp_path, chain, 'checks: {max_rejection_rate_percent: "25"}\n')

    assert report.alerts == ()
    (finding,) = [finding for finding in report.findings if finding.check == "rejection_rate"]
    assert "1 of 4 transfer transactions" in finding.message
    assert "failed: 25.00 %, within the maximum of 25 %" in finding.message


def test_failed_pause_is_not_rejection(chain: Any, tmp_path: Path) -> None:
    token = chain.contracts["security_token"].functions
    send(token.pause(), chain.signer)
    send_failing(token.pause(), chain.signer)  # EnforcedPause()
    send(token.unpause(), chain.signer)

    report = check(tmp_path, chain)

    assert report.alerts == ()
    (finding,) = [finding for finding in report.findings if finding.check == "rejection_rate"]
    assert finding.message.startswith("no transfer transaction in blocks ")
    assert json_findings(report)["rejection_rate"]["rejected"] == "0"
    assert json.loads(report.to_json())["window"]["rejections"] == []


def test_rejection_rate_ignores_failed_admin_calls(chain: Any, tmp_path: Path) -> None:
    alice, bob, carol, outsider = chain.accounts[3:7]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 100)
    token = chain.contracts["security_token"].functions
    for _ in range(3):
        transfer(chain, alice, bob, 1)
    rejected = failed_transfer(chain, alice, carol, 1)
    send(token.pause(), chain.signer)
    send_failing(token.pause(), chain.signer)  # EnforcedPause()
    send(token.unpause(), chain.signer)
    send_failing(token.grantRole(bytes(32), outsider), outsider)  # AccessControlUnauthorizedAccount

    report = check(tmp_path, chain, 'checks: {max_rejection_rate_percent: "25"}\n')

    assert report.alerts == ()
    (finding,) = [finding for finding in report.findings if finding.check == "rejection_rate"]
    assert "1 of 4 transfer transactions" in finding.message
    assert "failed: 25.00 %, within the maximum of 25 %" in finding.message
    (listed,) = json.loads(report.to_json())["window"]["rejections"]
    assert listed["tx_hash"] == "0x" + rejected["transactionHash"].hex()
    assert listed["attempt"]["function"] == "transferByPartition"


def test_check_honours_log_block_range(chain: Any, tmp_path: Path) -> None:
    chain.w3.provider.make_request("anvil_mine", [hex(30)])
    state_dir = write_state_dir(tmp_path, chain, "checks: {max_log_block_range: 4}\n")
    w3 = rpc.connect_url(chain.url)
    counter = rpc.request_counter(w3)
    assert counter is not None

    report = run_check(state_dir, "devnet", w3=w3)

    activity = report.readings.activity
    assert counter.methods["eth_getLogs"] == math.ceil((activity.to_block - activity.from_block + 1) / 4)
    assert counter.methods["eth_getBlockReceipts"] == activity.to_block - activity.from_block + 1


def test_cli_large_transfer_exits_2(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 1_000)
    transfer(chain, alice, bob, 600)
    state_dir = write_state_dir(tmp_path, chain, 'checks: {large_transfer_usd: "500"}\n')

    result = run_jinbi(state_dir, chain.url, "--format", "json")

    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert [f["check"].split("/")[0] for f in document["findings"] if f["severity"] == "alert"] == ["large_transfer"]
    assert document["window"]["successful_transfer_transactions"] == 1
    assert document["window"]["rejections"] == []


# --- an invalid environment file, unreadable feeds, the next coupon, wording --


@pytest.mark.parametrize(
    ("settings", "line", "message"),
    [
        pytest.param('price_feeds: {XAU/USD: {min_answer: "3000", max_answer: "2000"}}\n', "", "min_answer", id="bounds"),
        pytest.param("checks: {activity_window_hours: 1}\n", "  activity_window_hours: 2\n", "duplicate", id="duplicate-key"),
    ],
)
def test_invalid_environment_file_is_rejected(
    chain: Any, tmp_path: Path, settings: str, line: str, message: str
) -> None:
    state_dir = write_state_dir(tmp_path, chain, settings)
    path = state_dir / "devnet" / "environment.yaml"
    # The devnet writer drops a repeated key, so LINE is added after it.
    first_line = "  activity_window_hours: 1\n"
    path.write_text(path.read_text(encoding="utf-8").replace(first_line, first_line + line), encoding="utf-8")
    findings = read_state(state_dir, "devnet").diagnostics
    assert findings, "validate must reject these settings"

    with pytest.raises(DesiredStateError) as raised:
        run_check(state_dir, "devnet", w3=rpc.connect_url(chain.url))

    first = findings[0]
    assert raised.value.message.startswith(f"{first.file}:{first.line}:{first.column}: ")
    assert message in raised.value.message.lower()
    assert raised.value.diagnostics == tuple(findings)
    assert raised.value.hint is not None
    assert "jinbi validate --env devnet" in raised.value.hint


def test_cli_invalid_environment_exits_1(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state_dir(tmp_path, chain, 'price_feeds: {XAU/USD: {min_answer: "3000", max_answer: "2000"}}\n')

    result = run_jinbi(state_dir, chain.url)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {state_dir / 'devnet' / 'environment.yaml'}:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("updated_at", [253_402_300_800, 2**256 - 1], ids=["year-10000", "max-uint256"])
def test_feed_time_out_of_range_alerts(chain: Any, tmp_path: Path, updated_at: int) -> None:
    send(chain.contracts["usdc_usd_feed"].functions.setRoundData(10**8, updated_at), chain.signer)

    report = check(tmp_path, chain)

    found = alerts(report)
    assert list(found) == ["price_feed_age/USDC/USD"]
    assert f"updated at Unix time {updated_at}, out of range" in found["price_feed_age/USDC/USD"].message
    assert "price_feed_age/XAU/USD" in {finding.check for finding in report.findings}


def test_feed_without_contract_alerts(chain: Any, tmp_path: Path) -> None:
    state_dir = write_state_dir(tmp_path, chain)
    path = state_dir / "devnet" / "environment.yaml"
    feed = chain.deployment.xau_usd_feed
    no_code = chain.accounts[9]
    path.write_text(path.read_text(encoding="utf-8").replace(feed, no_code), encoding="utf-8")

    report = run_check(state_dir, "devnet", w3=rpc.connect_url(chain.url))

    found = alerts(report)
    assert list(found) == ["price_feed/XAU/USD"]
    message = found["price_feed/XAU/USD"].message
    assert f"on {no_code} at block " in message
    assert "no contract code" in message
    assert "check that price_feeds.XAU/USD.address in the environment file" in message
    assert "contracts." not in message
    assert "price_feed_age/USDC/USD" in {finding.check for finding in report.findings}


COUPONS_YAML = """# yaml-language-server: $schema=../../schemas/coupons.schema.json
kind: CouponCycles
cycles:
  "1": {period: "2026-Q4", rate_bps: 125, record_date: "2026-12-15", payment_date: "2026-12-31"}
  "2": {period: "2027-Q1", rate_bps: 125, record_date: "2027-03-15", payment_date: "2027-03-31"}
"""


def next_coupon(chain: Any, tmp_path: Path, coupons: str = COUPONS_YAML) -> Finding:
    state_dir = write_state_dir(tmp_path, chain)
    (state_dir / "devnet" / "coupons.yaml").write_text(coupons, encoding="utf-8")
    report = run_check(state_dir, "devnet", w3=rpc.connect_url(chain.url))
    (finding,) = [finding for finding in report.findings if finding.check == "next_coupon_usdc"]
    return finding


def test_treasury_short_of_next_coupon_alerts(chain: Any, tmp_path: Path) -> None:
    alice = chain.accounts[3]
    register(chain, alice)
    issue(chain, alice, 1_000)
    usdc = chain.contracts["usdc"]
    # 1,000 tokens of 1 USDC at 125 bps pay 12.5 USDC; the treasury keeps 12.499999.
    held = int(usdc.functions.balanceOf(chain.signer).call())
    send(usdc.functions.transfer(chain.accounts[9], held - 12_499_999), chain.signer)

    finding = next_coupon(chain, tmp_path)

    assert finding.severity is Severity.ALERT
    assert finding.message.startswith(
        "coupon cycle 1 (2026-Q4, payment date 2026-12-31) would pay 1000 JINBI x 1.000000 USDC x 125 bps / 10,000 "
        "= 12.500000 USDC, rounded down to whole USDC base units; "
        f"the treasury {chain.signer} holds 12.499999 USDC and lets CorporateActions draw "
    )
    assert finding.message.endswith("so it cannot pay the cycle: fund it with 0.000001 USDC more")


def test_treasury_funding_next_coupon_is_ok(chain: Any, tmp_path: Path) -> None:
    alice = chain.accounts[3]
    register(chain, alice)
    issue(chain, alice, 1_000)
    usdc = chain.contracts["usdc"]
    held = int(usdc.functions.balanceOf(chain.signer).call())
    send(usdc.functions.mint(chain.signer, max(12_500_000 - held, 0)), chain.signer)

    finding = next_coupon(chain, tmp_path)

    assert finding.severity is Severity.OK
    assert "= 12.500000 USDC" in finding.message
    assert "lets CorporateActions draw 0.000000 USDC, less than the amount" in finding.message


def test_invalid_coupons_file_alerts(chain: Any, tmp_path: Path) -> None:
    finding = next_coupon(chain, tmp_path, COUPONS_YAML.replace("rate_bps: 125,", 'rate_bps: "a lot",', 1))

    assert finding.severity is Severity.ALERT
    assert "coupons.yaml has 1 validation error, the first " in finding.message
    assert "coupons.yaml:4:38: coupon cycle 1: rate_bps must be a whole number" in finding.message


def test_large_transfer_shows_exact_excess(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 100_001)
    token = chain.contracts["security_token"]
    send(token.functions.transferByPartition(ascii_id("144A"), bob, 100_000 * TOKEN + 1), alice)

    found = alerts(check(tmp_path, chain, 'checks: {large_transfer_usd: "100000"}\n'))

    (finding,) = found.values()
    assert "is worth 100,000.000000000000000001 USD (USDC valued at 1 USD by USDC/USD)" in finding.message
    assert finding.message.endswith("above the threshold of 100,000 USD")


def test_usdc_amounts_have_six_places(chain: Any, tmp_path: Path) -> None:
    report = check(tmp_path, chain)

    (finding,) = [finding for finding in report.findings if finding.check == "corporate_actions_usdc"]
    assert finding.message == (
        "CorporateActions has a balance of 0.000000 USDC, and paid coupon cycles total 0.000000 USDC"
    )


def test_window_of_young_chain_names_its_start(chain: Any, tmp_path: Path) -> None:
    started = int(chain.w3.eth.get_block(0)["timestamp"])
    assert latest_timestamp(chain) - started < 24 * 3_600

    report = check(tmp_path, chain)

    (finding,) = [finding for finding in report.findings if finding.check == "large_transfers"]
    assert f"in blocks 0 to {report.readings.block_number} (since the chain's first block at " in finding.message
    assert "less than the 24 h window)" in finding.message
    assert "the last 24 h" not in finding.message


# --- machine-readable findings and rejected large transfers -------------------


def json_findings(report: CheckReport) -> dict[str, dict[str, Any]]:
    return {finding["check"]: finding for finding in json.loads(report.to_json())["findings"]}


def test_json_feed_age_has_value_and_threshold(chain: Any, tmp_path: Path) -> None:
    updated_at = int(chain.contracts["xau_usd_feed"].functions.latestRoundData().call()[3])
    mine_at(chain, updated_at + 3601)

    finding = json_findings(check(tmp_path, chain))["price_feed_age/XAU/USD"]

    assert finding["severity"] == "alert"
    assert (finding["value"], finding["threshold"], finding["unit"]) == ("3601", "3600", "seconds")
    assert "3601 s old" in finding["message"]


def test_json_large_transfer_lists_exact_amounts(chain: Any, tmp_path: Path) -> None:
    alice, bob = chain.accounts[3:5]
    register(chain, alice, bob)
    issue(chain, alice, 100_001)
    token = chain.contracts["security_token"]
    sent = send(token.functions.transferByPartition(ascii_id("144A"), bob, 100_000 * TOKEN + 1), alice)
    tx_hash = "0x" + sent["transactionHash"].hex()

    finding = json_findings(check(tmp_path, chain, 'checks: {large_transfer_usd: "100000"}\n'))[
        f"large_transfer/{tx_hash}"
    ]

    assert (finding["value"], finding["threshold"], finding["unit"]) == (
        "100000.000000000000000001",
        "100000",
        "USD",
    )
    assert finding["transfers"] == [
        {
            "status": "executed",
            "tx_hash": tx_hash,
            "block": str(sent["blockNumber"]),
            "from": alice,
            "to": bob,
            "amount": str(100_000 * TOKEN + 1),
            "tokens": "100000.000000000000000001",
            "usd": "100000.000000000000000001",
        }
    ]


def test_json_rejection_rate_has_counts(chain: Any, tmp_path: Path) -> None:
    alice, bob, carol = chain.accounts[3:6]
    register(chain, alice, bob)
    register(chain, carol, qib=False)
    issue(chain, alice, 100)
    for _ in range(7):
        transfer(chain, alice, bob, 1)
    failed_transfer(chain, alice, carol, 1)

    finding = json_findings(check(tmp_path, chain))["rejection_rate"]

    assert finding["severity"] == "alert"
    assert {key: finding[key] for key in ("rejected", "successful", "rate", "threshold", "unit")} == {
        "rejected": "1",
        "successful": "7",
        "rate": "12.5",
        "threshold": "5",
        "unit": "percent",
    }


def test_rejected_large_transfer_attempt_alerts(chain: Any, tmp_path: Path) -> None:
    alice, carol = chain.accounts[3], chain.accounts[5]
    register(chain, alice)
    register(chain, carol, qib=False)
    issue(chain, alice, 2_000_001)
    rejected = failed_transfer(chain, alice, carol, 1_000_001)
    tx_hash = "0x" + rejected["transactionHash"].hex()

    report = check(tmp_path, chain)

    found = alerts(report)
    assert list(found) == [f"large_transfer/{tx_hash}", "rejection_rate"]
    assert found[f"large_transfer/{tx_hash}"].message.startswith(
        f"rejected transfer attempt of 1000001 tokens from {alice} to {carol} in transaction {tx_hash} "
        f"(block {rejected['blockNumber']}, rejected: TransferNotAllowed("
    )
    (entry,) = json_findings(report)[f"large_transfer/{tx_hash}"]["transfers"]
    assert (entry["status"], entry["amount"], entry["usd"]) == ("attempted", str(1_000_001 * TOKEN), "1000001.00")
