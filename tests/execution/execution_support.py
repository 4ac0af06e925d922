"""Helpers of the execution tests: planned transactions built from the contracts' ABIs, mining control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web3 import Web3

from reconciler.chain import artifacts
from reconciler.chain.packing import PackedInvestor, pack_investor
from reconciler.devnet import DEV_PRIVATE_KEY
from reconciler.execution import ExecutionResult, Journal, RetryPolicy, Signer, Timeouts, TransactionRequest, execute

PARTITION_144A = b"144A".ljust(32, b"\0")
TOKEN = 10**18
USDC = 10**6

# Generous gas limits: a later transaction depends on an earlier one, so none can be estimated up front.
SET_INVESTORS_GAS = 400_000
BOOK_GAS = 400_000
BLOCK_GAS = 200_000

# Every spelling of the development key that a leak could take.
KEY_SPELLINGS = (DEV_PRIVATE_KEY, DEV_PRIVATE_KEY.removeprefix("0x"), DEV_PRIVATE_KEY.removeprefix("0x").upper())


def ascii_id(text: str) -> bytes:
    return text.encode("ascii").ljust(32, b"\0")


def encode(name: str, function: str, *args: Any) -> str:
    """Return the calldata of FUNCTION(ARGS) of contract artifact NAME."""
    contract = Web3().eth.contract(abi=artifacts.load(name).abi)
    data: str = contract.encode_abi(function, args=list(args))
    return data


def set_investors(index: int, registry: str, investors: list[str]) -> TransactionRequest:
    words = [pack_investor(PackedInvestor(address, True, True, "US", 0)) for address in investors]
    return TransactionRequest(
        index=index,
        to=registry,
        data=encode("ComplianceRegistry", "setInvestors", words),
        gas_limit=SET_INVESTORS_GAS,
        description=f"ComplianceRegistry.setInvestors ({len(words)} items)",
    )


def book(index: int, dvp: str, booking_id: str, investor: str, amount: int = 1_000 * TOKEN) -> TransactionRequest:
    request = (ascii_id(booking_id), PARTITION_144A, investor, amount, 1 * USDC)
    return TransactionRequest(
        index=index,
        to=dvp,
        data=encode("DvPSettlement", "book", [request]),
        gas_limit=BOOK_GAS,
        description=f"DvPSettlement.book ({booking_id})",
    )


def block_addresses(index: int, registry: str, accounts: list[str]) -> TransactionRequest:
    return TransactionRequest(
        index=index,
        to=registry,
        data=encode("ComplianceRegistry", "blockAddresses", accounts),
        gas_limit=BLOCK_GAS,
        description=f"ComplianceRegistry.blockAddresses ({len(accounts)} items)",
    )


def onboarding_plan(deployment: Any, accounts: list[str]) -> list[TransactionRequest]:
    """Return three dependent transactions: register two QIBs, book ALLOC-0001 for one, block a third account."""
    return [
        set_investors(0, deployment.compliance_registry, [accounts[1], accounts[2]]),
        book(1, deployment.dvp_settlement, "ALLOC-0001", accounts[1]),
        block_addresses(2, deployment.compliance_registry, [accounts[7]]),
    ]


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    """Send one JSON-RPC request and return its result, failing on an error reply."""
    reply = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in reply, reply
    return reply["result"]


def set_automine(w3: Web3, enabled: bool) -> None:
    """Switch anvil's mining of each transaction on arrival; switching it on mines what is pending."""
    rpc(w3, "evm_setAutomine", enabled)


def txpool_hashes(w3: Web3, sender: str) -> dict[int, str]:
    """Return the pending transactions of SENDER in anvil's txpool, as nonce -> hash."""
    content = rpc(w3, "txpool_content")
    pending = {address.lower(): entries for address, entries in content["pending"].items()}
    return {int(nonce): entry["hash"] for nonce, entry in pending.get(sender.lower(), {}).items()}


def booking_count(chain: Any) -> int:
    return int(chain.contracts["dvp_settlement"].functions.bookingCount().call())


# --- running execute ---------------------------------------------------------


QUICK_RETRY = RetryPolicy(attempts=3, wait=0.01)
FAST = Timeouts(poll_interval=0.02, replace_after=60.0, receipt_timeout=20.0, retry=QUICK_RETRY)


def run(
    chain: Any,
    signer: Signer,
    requests: list[TransactionRequest],
    journal: Journal,
    lock_dir: Path,
    *,
    w3: Web3 | None = None,
    **options: Any,
) -> ExecutionResult:
    """Run `execute` on CHAIN (or through W3) with fast polling unless OPTIONS set other timeouts."""
    options.setdefault("timeouts", FAST)
    return execute(w3 or chain.w3, signer, requests, journal=journal, lock_dir=lock_dir, **options)


def reload(journal: Journal) -> Journal:
    """Return the journal as a rerun reads it from disk."""
    return Journal(journal.environment, journal.plan_digest, directory=journal.path.parent.parent)


def nonce_of(chain: Any, signer: Signer, block: str = "latest") -> int:
    return int(chain.w3.eth.get_transaction_count(signer.address, block))
