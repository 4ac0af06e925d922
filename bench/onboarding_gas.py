"""Gas of investor onboarding: packed batches against one transaction per investor.

Starts its own anvil on a free 127.0.0.1 port with the suite deployed
(reconciler.devnet.LocalChain), then measures in the same run:

  batch new      1,000 new investors through ComplianceRegistry.setInvestors,
                 in two transactions of 500 packed words
  batch update   the same 1,000 investors, one field changed each, two transactions
  naive new      1,000 other new investors through setInvestor, one transaction each
  naive update   those 1,000 updated the same way, one transaction each

Half the investors are US QIBs without lockup, half are Reg S investors in five
other jurisdictions with a 40-day lockup. Updates revoke the QIBs' KYC and
extend the Reg S lockups by a day. Gas per investor is the receipts' gasUsed
(intrinsic cost and calldata included) divided by the number of investors.

Usage: python bench/onboarding_gas.py   (prints a markdown report; exit 1 if a target is missed)
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from reconciler.chain import artifacts
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.devnet import BLOCK_GAS_LIMIT, LocalChain

INVESTORS = 1_000
BATCH_SIZE = 500
REGS_JURISDICTIONS = ("DE", "GB", "SG", "JP", "CH")
LOCKUP_SECONDS = 40 * 86_400
NAIVE_TX_GAS = 200_000

TARGET_NEW_PER_INVESTOR = 50_000
TARGET_UPDATE_PER_INVESTOR = 8_000
TARGET_TRANSACTIONS_FOR_1000 = 2
# EIP-7825 (part of the Osaka upgrade) caps one transaction's gas at 2**24.
# anvil 1.7.1 enforces it only when started with --enable-tx-gas-limit.
EIP_7825_TX_GAS_CAP = 2**24


@dataclass(frozen=True)
class Measurement:
    """Gas of one way of writing a set of investors."""

    label: str
    investors: int
    transactions: int
    gas_used: int
    max_transaction_gas: int

    @property
    def per_investor(self) -> float:
        return self.gas_used / self.investors


def investor_address(index: int, salt: bytes) -> str:
    """Return a deterministic, random-looking address for investor INDEX."""
    digest = Web3.keccak(salt + index.to_bytes(4, "big"))
    return Web3.to_checksum_address(digest[-20:])


def investors(salt: bytes, lockup_until: int) -> list[PackedInvestor]:
    """Build INVESTORS records: even indexes US QIBs, odd indexes Reg S investors with a lockup."""
    records = []
    for index in range(INVESTORS):
        address = investor_address(index, salt)
        if index % 2 == 0:
            records.append(PackedInvestor(address, kyc=True, qib=True, jurisdiction="US", lockup_until=0))
        else:
            jurisdiction = REGS_JURISDICTIONS[(index // 2) % len(REGS_JURISDICTIONS)]
            records.append(PackedInvestor(address, kyc=True, qib=False, jurisdiction=jurisdiction, lockup_until=lockup_until))
    return records


def updated(record: PackedInvestor) -> PackedInvestor:
    """Return RECORD with one field changed: a QIB's KYC revoked, a Reg S lockup extended by a day."""
    if record.qib:
        return PackedInvestor(record.address, False, record.qib, record.jurisdiction, record.lockup_until)
    return PackedInvestor(record.address, record.kyc, record.qib, record.jurisdiction, record.lockup_until + 86_400)


def wait_all(w3: Web3, hashes: list[Any]) -> list[Any]:
    receipts = [w3.eth.wait_for_transaction_receipt(tx_hash) for tx_hash in hashes]
    failed = [receipt["transactionHash"].hex() for receipt in receipts if receipt["status"] != 1]
    if failed:
        raise SystemExit(f"{len(failed)} benchmark transactions failed, first {failed[0]}")
    return receipts


def measure_batches(w3: Web3, registry: Any, signer: str, records: list[PackedInvestor], label: str) -> Measurement:
    """Write RECORDS with setInvestors in batches of BATCH_SIZE packed words."""
    hashes = []
    for start in range(0, len(records), BATCH_SIZE):
        words = [pack_investor(record) for record in records[start : start + BATCH_SIZE]]
        call = registry.functions.setInvestors(words)
        gas = call.estimate_gas({"from": signer})
        hashes.append(call.transact({"from": signer, "gas": gas + gas // 10}))
    receipts = wait_all(w3, hashes)
    return Measurement(
        label=label,
        investors=len(records),
        transactions=len(receipts),
        gas_used=sum(receipt["gasUsed"] for receipt in receipts),
        max_transaction_gas=max(receipt["gasUsed"] for receipt in receipts),
    )


def measure_naive(w3: Web3, registry: Any, signer: str, records: list[PackedInvestor], label: str) -> Measurement:
    """Write RECORDS with setInvestor, one transaction per investor, sent back to back."""
    hashes = []
    for record in records:
        jurisdiction = record.jurisdiction.encode("ascii") if record.jurisdiction else bytes(2)
        call = registry.functions.setInvestor(record.address, record.kyc, record.qib, jurisdiction, record.lockup_until)
        hashes.append(call.transact({"from": signer, "gas": NAIVE_TX_GAS}))
    receipts = wait_all(w3, hashes)
    return Measurement(
        label=label,
        investors=len(records),
        transactions=len(receipts),
        gas_used=sum(receipt["gasUsed"] for receipt in receipts),
        max_transaction_gas=max(receipt["gasUsed"] for receipt in receipts),
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    chain = LocalChain.start()
    try:
        w3 = chain.w3
        registry = w3.eth.contract(
            address=chain.deployment.compliance_registry, abi=artifacts.load("ComplianceRegistry").abi
        )
        signer = chain.deployment.treasury  # the deployer, which has COMPLIANCE_OFFICER_ROLE
        lockup_until = int(w3.eth.get_block("latest")["timestamp"]) + LOCKUP_SECONDS
        anvil_version = w3.client_version

        batch_records = investors(b"jinbi-bench-batch", lockup_until)
        naive_records = investors(b"jinbi-bench-naive", lockup_until)
        results = [
            measure_batches(w3, registry, signer, batch_records, "batch new (setInvestors)"),
            measure_batches(w3, registry, signer, [updated(r) for r in batch_records], "batch update (setInvestors)"),
            measure_naive(w3, registry, signer, naive_records, "naive new (setInvestor, 1 tx each)"),
            measure_naive(w3, registry, signer, [updated(r) for r in naive_records], "naive update (setInvestor, 1 tx each)"),
        ]
        if registry.functions.investorCount().call() != 2 * INVESTORS:
            raise SystemExit("investor count after the benchmark is wrong")
    finally:
        chain.stop()

    batch_new, batch_update, naive_new, naive_update = results
    checks = [
        (
            f"new investor in a batch <= {TARGET_NEW_PER_INVESTOR:,} gas",
            batch_new.per_investor <= TARGET_NEW_PER_INVESTOR,
        ),
        (
            f"updated investor in a batch <= {TARGET_UPDATE_PER_INVESTOR:,} gas",
            batch_update.per_investor <= TARGET_UPDATE_PER_INVESTOR,
        ),
        (
            f"{INVESTORS:,} onboardings in {TARGET_TRANSACTIONS_FOR_1000} transactions, each under the "
            f"{BLOCK_GAS_LIMIT:,} block gas limit",
            batch_new.transactions == TARGET_TRANSACTIONS_FOR_1000 and batch_new.max_transaction_gas < BLOCK_GAS_LIMIT,
        ),
    ]
    under_cap = int((EIP_7825_TX_GAS_CAP - 21_000) // batch_new.per_investor)

    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"chain: {anvil_version}, block gas limit {BLOCK_GAS_LIMIT:,}")
    print("command: .venv/bin/python bench/onboarding_gas.py")
    print()
    print("| way | investors | transactions | total gas | gas per investor | largest transaction |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in results:
        print(
            f"| {m.label} | {m.investors:,} | {m.transactions:,} | {m.gas_used:,} | "
            f"{m.per_investor:,.0f} | {m.max_transaction_gas:,} |"
        )
    print()
    print(f"batch saves {1 - batch_new.gas_used / naive_new.gas_used:.1%} of the gas on new investors "
          f"and {1 - batch_update.gas_used / naive_update.gas_used:.1%} on updates")
    print(f"new investors per transaction under the EIP-7825 cap of {EIP_7825_TX_GAS_CAP:,} gas "
          f"(estimate from the batch figure): {under_cap}")
    print()
    for description, passed in checks:
        print(f"- {'PASS' if passed else 'FAIL'}: {description}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
