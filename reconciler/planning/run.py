"""`jinbi plan` without the command line: load the YAML, pick the signer, observe the chain, plan.

This is the one planning module that does I/O: it reads the state folder,
the git metadata of the checkout and the chain through `reconciler.chain.rpc`.
`reconciler.cli` calls `make_plan` and renders the result.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from eth_utils.address import is_address, to_checksum_address

from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.errors import ConfigurationError
from reconciler.gitops.metadata import read_metadata
from reconciler.model import Environment
from reconciler.planning.calls import DEFAULT_GAS_CAP
from reconciler.planning.plan import Plan, PlanOptions, build_plan
from reconciler.planning.simulate import simulate_plan

log = logging.getLogger(__name__)

PRIVATE_KEY_VARIABLE = "JINBI_PRIVATE_KEY"
DEVNET_NAME = "devnet"


@dataclass(frozen=True)
class PlanRequest:
    """Options of one `jinbi plan` run."""

    env: str
    state_dir: Path
    signer: str | None = None  # --signer; else the key in JINBI_PRIVATE_KEY; else devnet's first dev account
    gas_cap: int = DEFAULT_GAS_CAP
    allow_mass_change: bool = False
    simulate: bool = True  # run the plan on an anvil fork before returning it


def make_plan(request: PlanRequest) -> Plan:
    """Plan ENV: load and check the YAML, read the chain at its latest block and build the plan.

    Raises DesiredStateError for invalid YAML, ConfigurationError for an
    unusable signer or RPC setting, ChainError when the chain cannot be read,
    PlanError when the plan has problems or fails its simulation, and
    DevnetError when anvil cannot start for the simulation.
    """
    # The YAML first: an invalid state needs no chain to be reported.
    desired = load_state(request.state_dir, request.env)
    environment = desired.environment
    signer = resolve_signer(request.signer, environment)

    # All reads of the plan come from one block, the balances that force-transfer orders take from included.
    w3 = rpc.connect(environment)
    senders = {(order.partition, order.sender) for order in desired.state.force_transfers.values()}
    observation = observe(w3, environment, balances_of=senders)
    log.info("planning %s as signer %s at block %s", environment.name, signer, observation.block_number)

    # Provenance: the commit, and the commit behind each YAML line that an action names.
    git = read_metadata(request.state_dir, desired.files.values())
    options = PlanOptions(
        signer=signer,
        gas_cap=request.gas_cap,
        allow_mass_change=request.allow_mass_change,
        git_commit=git.commit if git is not None else None,
        git=git,
    )
    plan = build_plan(desired, observation, options)

    # The whole plan runs on a fork at the same block before it is shown.
    if request.simulate:
        plan = simulate_plan(plan, desired, rpc.rpc_url(environment))
    return plan


def resolve_signer(explicit: str | None, environment: Environment) -> str:
    """Return the address that will send the plan's transactions, EIP-55 checksummed.

    In order: EXPLICIT (--signer, which may be a Safe), the address of the key
    in JINBI_PRIVATE_KEY, and for the devnet environment anvil's first
    development account. The key itself is never shown, not even in errors.
    """
    if explicit:
        if not is_address(explicit):
            raise ConfigurationError(
                f"--signer {explicit} is not an Ethereum address",
                hint="pass 0x followed by 40 hexadecimal digits: the account or Safe that will send the plan",
            )
        return to_checksum_address(explicit)

    key = os.environ.get(PRIVATE_KEY_VARIABLE, "").strip()
    if key:
        from eth_account import Account

        try:
            address: str = Account.from_key(key).address
        except (ValueError, TypeError):
            # The original error may quote the key, so it is dropped.
            raise ConfigurationError(
                f"{PRIVATE_KEY_VARIABLE} does not contain a valid private key",
                hint="set it to 0x followed by 64 hexadecimal digits, or pass --signer ADDRESS",
            ) from None
        return address

    if environment.name == DEVNET_NAME:
        from reconciler.devnet import dev_account

        return dev_account().address
    raise ConfigurationError(
        f"no signer for environment {environment.name}",
        hint=f"pass --signer ADDRESS (a Safe's address for a multisig) or set {PRIVATE_KEY_VARIABLE}",
    )


def git_commit(path: Path) -> str | None:
    """Return the commit checked out in the repository that contains PATH, or None outside a repository."""
    import git

    try:
        repository = git.Repo(path, search_parent_directories=True)
        commit: str = repository.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        # ValueError: a repository without any commit yet.
        return None
    return commit
