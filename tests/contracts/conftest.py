"""Fixtures of the contract tests: named accounts, registered investors and issued tokens.

They build on the `chain` fixture of tests/conftest.py, so every state they
create is reverted after each test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from contract_support import DAY, PARTITION_144A, PARTITION_REGS, TOKEN, investor_word, now, role, send


@dataclass(frozen=True)
class People:
    """Anvil development accounts in the roles the tests give them."""

    admin: str  # the deployer: DEFAULT_ADMIN_ROLE, every duty role, treasury
    qib: str  # KYC'd US qualified institutional buyer
    qib2: str  # a second KYC'd US QIB
    regs_locked: str  # KYC'd DE investor, not a QIB, Reg S lockup running
    regs_free: str  # KYC'd GB investor, not a QIB, no lockup
    not_kyc: str  # registered with kyc false
    unregistered: str  # never set in the registry
    blocked: str  # KYC'd QIB on the blocked list
    outsider: str  # has no role and is never registered


@dataclass(frozen=True)
class Registered:
    """The investors of `People` set in the registry."""

    people: People
    lockup_until: int  # Reg S lockup end of `regs_locked`


@pytest.fixture
def people(chain: Any) -> People:
    accounts = chain.accounts
    return People(
        admin=accounts[0],
        qib=accounts[1],
        qib2=accounts[2],
        regs_locked=accounts[3],
        regs_free=accounts[4],
        not_kyc=accounts[5],
        unregistered=accounts[6],
        blocked=accounts[7],
        outsider=accounts[9],
    )


@pytest.fixture
def registered(chain: Any, people: People) -> Registered:
    registry = chain.contracts["compliance_registry"]
    lockup_until = now(chain.w3) + 40 * DAY
    words = [
        investor_word(people.qib, qib=True, jurisdiction="US"),
        investor_word(people.qib2, qib=True, jurisdiction="US"),
        investor_word(people.regs_locked, jurisdiction="DE", lockup_until=lockup_until),
        investor_word(people.regs_free, jurisdiction="GB"),
        investor_word(people.not_kyc, kyc=False, jurisdiction="FR"),
        investor_word(people.blocked, qib=True, jurisdiction="US"),
    ]
    send(registry.functions.setInvestors(words), people.admin)
    send(registry.functions.blockAddresses([people.blocked]), people.admin)
    return Registered(people=people, lockup_until=lockup_until)


@dataclass(frozen=True)
class Holdings:
    """Balances issued by `funded`, in token base units."""

    qib_144a: int = 100 * TOKEN
    qib_regs: int = 50 * TOKEN
    regs_locked_regs: int = 200 * TOKEN
    regs_free_regs: int = 300 * TOKEN
    blocked_144a: int = 10 * TOKEN


@pytest.fixture
def funded(chain: Any, registered: Registered) -> Holdings:
    """Issue tokens to the registered investors, directly through the token's MINTER_ROLE."""
    people = registered.people
    token = chain.contracts["security_token"]
    registry = chain.contracts["compliance_registry"]
    holdings = Holdings()
    send(token.functions.grantRole(role("MINTER_ROLE"), people.admin), people.admin)
    # The blocked investor receives tokens before being blocked.
    send(registry.functions.unblockAddresses([people.blocked]), people.admin)
    issues = [
        (PARTITION_144A, people.qib, holdings.qib_144a),
        (PARTITION_REGS, people.qib, holdings.qib_regs),
        (PARTITION_REGS, people.regs_locked, holdings.regs_locked_regs),
        (PARTITION_REGS, people.regs_free, holdings.regs_free_regs),
        (PARTITION_144A, people.blocked, holdings.blocked_144a),
    ]
    for partition, to, amount in issues:
        send(token.functions.issue(partition, to, amount), people.admin)
    send(registry.functions.blockAddresses([people.blocked]), people.admin)
    return holdings
