"""observe(): the snapshot of a real anvil chain, value by value, page by page, at one block."""

from __future__ import annotations

from dataclasses import replace
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
    send,
    set_investors,
    set_next_timestamp,
    settle,
)
from rpc_proxy import Faults, faulty_proxy

from reconciler.chain import rpc
from reconciler.chain.observe import MANAGED_ROLES, observe, reads_digest
from reconciler.chain.packing import PackedInvestor
from reconciler.errors import ChainError
from reconciler.model import (
    PAUSE_KEY,
    Allocation,
    AllocationStatus,
    CouponCycle,
    Environment,
    Investor,
    Partition,
    Pause,
    SanctionsEntry,
    State,
    TokenDecimals,
)

DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DVP = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
# Made-up addresses (not anvil accounts), for investors and blocked addresses that never sign.
STRANGERS = [
    "0x1000000000000000000000000000000000000001",
    "0x2000000000000000000000000000000000000002",
    "0x3000000000000000000000000000000000000003",
]


def investor(address: str, *, kyc: bool = True, qib: bool = False, jurisdiction: str | None = "DE", lockup: int = 0) -> PackedInvestor:
    return PackedInvestor(address, kyc, qib, jurisdiction, lockup)


# --- a fresh deployment --------------------------------------------------------


def test_fresh_deployment_is_empty(chain: Any, environment: Environment) -> None:
    observation = observe(rpc.connect(environment), environment)

    header = chain.w3.eth.get_block(observation.block_number)
    # Only what a deployment sets: the token runs, and the deployer and DvPSettlement hold their roles.
    assert replace(observation.state, pause={}, roles={}) == State()
    assert observation.state.pause == {PAUSE_KEY: Pause(paused=False)}
    assert len(observation.state.roles) == 14
    assert observation.chain_id == 31337
    assert observation.block_hash == "0x" + bytes(header["hash"]).hex()
    assert observation.block_timestamp == header["timestamp"]
    assert observation.total_supply == 0
    assert observation.supply_by_partition == {"144A": 0, "RegS": 0}
    assert observation.paused is False
    assert observation.treasury_usdc_balance == 100_000_000 * USDC
    assert observation.usdc_allowance_to_corporate_actions == 0


def test_fresh_deployment_roles(chain: Any, environment: Environment) -> None:
    observation = observe(rpc.connect(environment), environment)

    expected = {key: {role: (DEPLOYER,) for role in roles} for key, roles in MANAGED_ROLES.items()}
    expected["security_token"]["MINTER_ROLE"] = (DVP,)
    assert observation.roles == expected
    assert observation.reads["roles/security_token/MINTER_ROLE"] == DVP


def test_reads_and_digest(chain: Any, environment: Environment) -> None:
    observation = observe(rpc.connect(environment), environment)

    assert observation.digest == reads_digest(observation.reads)
    assert observation.reads["chain/chain_id"] == "31337"
    assert observation.reads["security_token/decimals"] == "18"
    assert observation.reads["usdc/decimals"] == "6"
    assert observation.reads["treasury/usdc_balance"] == str(100_000_000 * USDC)
    assert observation.reads["counts/investors"] == "0"


def test_digest_changes_with_a_value(chain: Any, environment: Environment) -> None:
    before = observe(rpc.connect(environment), environment)
    set_investors(chain, investor(STRANGERS[0]))

    after = observe(rpc.connect(environment), environment)

    assert after.digest != before.digest
    assert after.reads[f"investors/{STRANGERS[0]}/kyc"] == "true"


# --- each collection, value by value -------------------------------------------


def test_investors_exact(chain: Any, environment: Environment) -> None:
    lockup = now(chain) + 40 * DAY
    set_investors(
        chain,
        investor(STRANGERS[0], qib=True, jurisdiction="US"),
        investor(STRANGERS[1], jurisdiction="SG", lockup=lockup),
        investor(STRANGERS[2], kyc=False, jurisdiction=None),
    )

    observation = observe(rpc.connect(environment), environment)

    assert observation.state.investors == {
        STRANGERS[0]: Investor(STRANGERS[0], "", kyc=True, qib=True, jurisdiction="US", lockup_until=None),
        STRANGERS[1]: Investor(STRANGERS[1], "", kyc=True, qib=False, jurisdiction="SG", lockup_until=lockup),
        STRANGERS[2]: Investor(STRANGERS[2], "", kyc=False, qib=False, jurisdiction="", lockup_until=None),
    }
    assert observation.reads[f"investors/{STRANGERS[1]}/lockup_until"] == str(lockup)
    assert observation.reads[f"investors/{STRANGERS[2]}/jurisdiction"] == ""


def test_sanctions_exact(chain: Any, environment: Environment) -> None:
    set_investors(chain, investor(STRANGERS[0]))
    block(chain, STRANGERS[0], STRANGERS[1])

    observation = observe(rpc.connect(environment), environment)

    assert observation.state.sanctions == {
        STRANGERS[0]: SanctionsEntry(STRANGERS[0], source="", listed_on=0),
        STRANGERS[1]: SanctionsEntry(STRANGERS[1], source="", listed_on=0),
    }
    assert set(observation.state.investors) == {STRANGERS[0]}


def test_allocations_exact(chain: Any, environment: Environment) -> None:
    qib, regs = chain.accounts[1], chain.accounts[2]
    set_investors(chain, investor(qib, qib=True, jurisdiction="US"), investor(regs, jurisdiction="GB"))
    book(
        chain,
        ("ALLOC-0001", "144A", qib, 1_000 * TOKEN, 1 * USDC),
        ("ALLOC-0002", "RegS", regs, 2_500 * TOKEN + TOKEN // 2, 998_500),
        ("ALLOC-0003", "144A", qib, 10 * TOKEN, 1 * USDC),
    )
    cancel(chain, "ALLOC-0003")
    settle(chain, "ALLOC-0001", qib)

    observation = observe(rpc.connect(environment), environment)

    assert observation.state.allocations == {
        "ALLOC-0001": Allocation(
            "ALLOC-0001", Partition.RULE_144A, qib, 1_000 * TOKEN, 1 * USDC, 0, AllocationStatus.SETTLED
        ),
        "ALLOC-0002": Allocation(
            "ALLOC-0002", Partition.REG_S, regs, 2_500 * TOKEN + TOKEN // 2, 998_500, 0, AllocationStatus.BOOKED
        ),
        "ALLOC-0003": Allocation(
            "ALLOC-0003", Partition.RULE_144A, qib, 10 * TOKEN, 1 * USDC, 0, AllocationStatus.CANCELLED
        ),
    }
    assert observation.total_supply == 1_000 * TOKEN
    assert observation.supply_by_partition == {"144A": 1_000 * TOKEN, "RegS": 0}


def test_coupon_cycles_exact(chain: Any, environment: Environment) -> None:
    day = now(chain) // DAY * DAY
    first = Cycle(1, "2026-Q3", 125, day - 20 * DAY, day - 5 * DAY, 12_500 * USDC)
    second = Cycle(2, "2026-Q4", 150, day - 3 * DAY, day + 2 * DAY, 15_000 * USDC + 1)
    first_paid = pay_coupon(chain, first)
    second_paid = pay_coupon(chain, second)

    observation = observe(rpc.connect(environment), environment)

    assert observation.state.coupon_cycles == {
        "1": CouponCycle("1", "2026-Q3", 125, first.record_date, first.payment_date, 12_500 * USDC, first_paid),
        "2": CouponCycle("2", "2026-Q4", 150, second.record_date, second.payment_date, 15_000 * USDC + 1, second_paid),
    }
    assert observation.block_timestamp >= second.payment_date
    assert observation.treasury_usdc_balance == 100_000_000 * USDC - 27_500 * USDC - 1


def test_pause_and_allowance(chain: Any, environment: Environment) -> None:
    send(chain.contracts["security_token"].functions.pause(), chain.signer)
    allowance = 40_000 * USDC
    send(chain.contracts["usdc"].functions.approve(environment.contracts.corporate_actions, allowance), chain.signer)

    observation = observe(rpc.connect(environment), environment)

    assert observation.paused is True
    assert observation.usdc_allowance_to_corporate_actions == allowance
    assert observation.reads["security_token/paused"] == "true"


# --- pagination and the block pin ----------------------------------------------


def _many_investors(count: int) -> list[PackedInvestor]:
    return [investor("0x" + f"{index + 1:040x}", jurisdiction="FR") for index in range(count)]


def test_pages_read_whole(chain: Any, environment: Environment) -> None:
    investors = _many_investors(7)
    set_investors(chain, *investors)
    block(chain, *(each.address for each in investors[:5]))
    w3 = rpc.connect(environment)

    small = observe(w3, environment, page_size=2)
    whole = observe(w3, environment)

    assert small.state == whole.state
    assert small.digest == whole.digest
    assert sorted(small.state.investors) == sorted(each.address for each in investors)
    assert len(small.state.sanctions) == 5


@pytest.mark.parametrize(("count", "page_size", "pages"), [(7, 2, 4), (8, 2, 4), (2, 2, 1), (1, 500, 1)], ids=["7-by-2", "8-by-2", "2-by-2", "1-by-500"])
def test_page_count(chain: Any, environment: Environment, count: int, page_size: int, pages: int) -> None:
    set_investors(chain, *_many_investors(count))
    w3 = rpc.connect(environment)

    observation = observe(w3, environment, page_size=page_size)

    counter = rpc.request_counter(w3)
    assert counter is not None
    # 30 calls of the summary, one page each of blocked, bookings, cycles, cap-table snapshots,
    # custody attestations and force transfers, and the investor pages.
    assert counter.methods["eth_call"] == 30 + 6 + pages
    assert len(observation.state.investors) == count


def test_block_pin_hides_later_writes(chain: Any, environment: Environment) -> None:
    set_investors(chain, investor(STRANGERS[0], jurisdiction="NL"))
    pinned = chain.w3.eth.block_number
    set_investors(chain, investor(STRANGERS[0], jurisdiction="BE"), investor(STRANGERS[1]))
    block(chain, STRANGERS[2])
    w3 = rpc.connect(environment)

    earlier = observe(w3, environment, block=pinned)
    latest = observe(w3, environment)

    assert earlier.block_number == pinned
    assert earlier.state.investors == {STRANGERS[0]: Investor(STRANGERS[0], "", True, False, "NL")}
    assert earlier.state.sanctions == {}
    assert latest.state.investors[STRANGERS[0]].jurisdiction == "BE"
    assert set(latest.state.sanctions) == {STRANGERS[2]}


def test_reorg_during_reads_is_error(chain: Any, environment: Environment) -> None:
    w3 = chain.w3
    before_pinned = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("evm_mine", [])
    pinned = w3.eth.get_block("latest")

    def replace_pinned_block(request_number: int) -> None:
        # Request 4 re-reads the pinned block: mine another block at its height first.
        if request_number == 4:
            w3.provider.make_request("evm_revert", [before_pinned])
            set_next_timestamp(chain, pinned["timestamp"] + 7)
            w3.provider.make_request("evm_mine", [])

    with faulty_proxy(chain.url, Faults(before=replace_pinned_block)) as proxy:
        with pytest.raises(ChainError) as caught:
            observe(rpc.connect_url(proxy.url), environment)

    replaced = w3.eth.get_block(pinned["number"])
    assert caught.value.message == (
        f"block {pinned['number']} changed while it was read: its hash was 0x{bytes(pinned['hash']).hex()} "
        f"and is now 0x{bytes(replaced['hash']).hex()} (a chain reorganisation), so the snapshot mixes two chains"
    )


def test_count_change_between_reads_is_error(chain: Any, environment: Environment) -> None:
    w3 = chain.w3
    before_pinned = w3.provider.make_request("evm_snapshot", [])["result"]
    set_investors(chain, investor(STRANGERS[0]), investor(STRANGERS[1]))
    pinned = w3.eth.block_number

    def add_investor_at_pinned_height(request_number: int) -> None:
        # Request 3 reads the pages: replace the pinned block by one with a third investor.
        if request_number == 3:
            w3.provider.make_request("evm_revert", [before_pinned])
            set_investors(chain, *(investor(address) for address in STRANGERS))

    with faulty_proxy(chain.url, Faults(before=add_investor_at_pinned_height)) as proxy:
        with pytest.raises(ChainError) as caught:
            observe(rpc.connect_url(proxy.url), environment)

    assert w3.eth.block_number == pinned
    assert caught.value.message == (
        f"ComplianceRegistry.investorsPage(0, 3) at block {pinned} returned 3 entries, "
        f"but ComplianceRegistry.investorCount() returned 2 at the same block, so 2 were due"
    )


def test_block_past_head_is_error(chain: Any, environment: Environment) -> None:
    head = chain.w3.eth.block_number

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect(environment), environment, block=head + 1000)

    assert caught.value.message == f"block {head + 1000} not found on chain 31337"


# --- checks against the environment file ---------------------------------------


def test_usdc_decimals_mismatch(chain: Any, environment: Environment) -> None:
    wrong = replace(environment, decimals=TokenDecimals(security_token=18, usdc=18))

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect(wrong), wrong)

    usdc = environment.contracts.usdc
    assert caught.value.message.startswith(f"USDC.decimals() on {usdc} returned 6 at block ")
    assert caught.value.message.endswith("but environment devnet has decimals.usdc: 18")
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("check contracts.usdc in the environment file: it must name a token with 18")


def test_token_decimals_mismatch(chain: Any, environment: Environment) -> None:
    wrong = replace(environment, decimals=TokenDecimals(security_token=6, usdc=6))

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect(wrong), wrong)

    assert caught.value.message.startswith("CompliantSecurityToken.decimals() on ")
    assert "returned 18" in caught.value.message
    assert caught.value.message.endswith("has decimals.security_token: 6")


def test_chain_id_mismatch(chain: Any, environment: Environment) -> None:
    wrong = replace(environment, chain_id=1)

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect(wrong), wrong)

    assert caught.value.message.startswith("the RPC endpoint serves chain id 31337 (block ")
    assert caught.value.message.endswith("but environment devnet has chain_id 1")
    assert caught.value.hint == (
        "point JINBI_RPC_URL at the devnet chain, or correct chain_id in the environment file if 31337 is right"
    )


def test_address_without_code(chain: Any, environment: Environment) -> None:
    contracts = replace(environment.contracts, dvp_settlement=STRANGERS[0])
    wrong = replace(environment, contracts=contracts)

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect(wrong), wrong)

    assert caught.value.message.startswith(f"DvPSettlement.bookingCount() on {STRANGERS[0]} at block ")
    assert caught.value.message.endswith("returned no data: the address has no contract code at that block")
    assert caught.value.hint == "check that contracts.dvp_settlement in the environment file is the DvPSettlement of this chain"


# --- request count ---------------------------------------------------------------


def test_request_count_small_state(chain: Any, environment: Environment) -> None:
    set_investors(chain, *_many_investors(12))
    block(chain, STRANGERS[0])
    w3 = rpc.connect(environment)

    observation = observe(w3, environment)

    counter = rpc.request_counter(w3)
    assert counter is not None
    # chain id + block, 30 summary calls, 7 pages, the block again: in 4 HTTP requests.
    assert observation.rpc_requests == 40
    assert counter.json_rpc_requests == 40
    assert counter.http_requests == 4
    assert counter.methods == {"eth_chainId": 1, "eth_getBlockByNumber": 2, "eth_call": 37}


def test_request_count_without_counter(chain: Any, environment: Environment) -> None:
    observation = observe(chain.w3, environment)

    assert observation.rpc_requests == 40
