"""Break-glass: pause or unpause the bond token at once, with the reason in the audit trail.

`break_glass` sends one `pause()` or `unpause()` transaction through the same
execution path as apply (journal, signer, confirmations), without a plan or
a review. It loads only the environment file, so an invalid investors or
allocations file cannot hold a pause up. It takes its own lock, named
`<env>.break-glass`, so a running or stuck apply does not block it. When the
environment has a Pause file, the new state and the reason are written into
it, because the next apply would otherwise send the token back to the state
that file asks for; the caller commits it.
`reconciler.cli` maps `jinbi pause` and `jinbi unpause` here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from reconciler.chain import artifacts, rpc
from reconciler.chain.errors import decode_revert, revert_data
from reconciler.chain.reader import RETRY_HINT
from reconciler.desired import read_environment
from reconciler.desired.state import kind_findings
from reconciler.desired.dump import dump_pause, write_atomically
from reconciler.desired.schema import CONTROL_CHARACTER_HINT, control_character, load_schema
from reconciler.errors import ChainError, ConfigurationError, DesiredStateError, ExecutionError
from reconciler.execution.apply import execute
from reconciler.execution.journal import DEFAULT_JOURNAL_DIR, Journal
from reconciler.execution.lock import DEFAULT_LOCK_DIR, acquire_lock
from reconciler.execution.run import signer_for
from reconciler.execution.transactions import ExecutionResult, TransactionRequest
from reconciler.gitops.audit import DEFAULT_AUDIT_DIR, WrittenRecord, break_glass_record, write_record
from reconciler.model import PAUSE_KEY, Environment, Pause
from reconciler.planning.run import git_commit

log = logging.getLogger(__name__)

TOKEN_ARTIFACT = "CompliantSecurityToken"
# pause() and unpause() cost about 30,000 gas on the devnet; the estimate gets this margin.
GAS_MARGIN_PERCENT = 25


@dataclass(frozen=True)
class BreakGlassResult:
    """The outcome of a pause or unpause: no transaction when the token already was in that state."""

    environment: str
    function: str
    result: ExecutionResult | None
    record: WrittenRecord | None
    pause_file: Path | None = None  # the Pause file rewritten with the new state, to be committed


    def describe(self) -> str:
        if self.result is None:
            state = "paused" if self.function.endswith(".pause") else "not paused"
            lines = [f"the token of {self.environment} is already {state}: nothing sent"]
        else:
            lines = [self.result.describe()]
        if self.record is not None:
            lines.append(self.record.describe())
        if self.pause_file is not None:
            lines.append(
                f"wrote {self.pause_file}: commit it, or the next apply sends the token back to the state "
                "the committed file asks for"
            )
        return "\n".join(lines)


def break_glass(
    state_dir: Path,
    env: str,
    *,
    pause: bool,
    reason: str,
    journal_dir: Path = DEFAULT_JOURNAL_DIR,
    lock_dir: Path = DEFAULT_LOCK_DIR,
    audit_dir: Path = DEFAULT_AUDIT_DIR,
    rpc_retry: rpc.RetryPolicy | None = None,  # the transport's retries of temporary failures; None: the default
) -> BreakGlassResult:
    """Pause (or unpause) ENV's token now and record REASON with the transaction in the audit trail.

    Raises ConfigurationError for an empty reason or an unusable signer,
    DesiredStateError for an invalid environment file, ChainError when the
    node cannot be reached, ExecutionError when
    the call would revert (such as a signer without PAUSER_ROLE) or the
    transaction is not confirmed, and LockError when another pause runs.
    """
    reason = _checked_reason(reason)
    environment, pause_file, file_paused = _environment(state_dir, env)
    signer = signer_for(environment)
    w3 = rpc.connect(environment, policy=rpc_retry)
    address = Web3.to_checksum_address(environment.contracts.security_token)
    token = w3.eth.contract(address=address, abi=artifacts.load(TOKEN_ARTIFACT).abi)
    name = "pause" if pause else "unpause"
    function = f"{TOKEN_ARTIFACT}.{name}"

    # Nothing to send when the token already is where the command wants it.
    with _chain_errors(w3, f"reading the pause state of {environment.name}"):
        already = bool(token.functions.paused().call()) == pause
    if already:
        log.info("the token of %s is already %s", env, "paused" if pause else "unpaused")
        # A file that already asks for this state keeps its reason: no transaction records the new one.
        follow = None if file_paused == pause else _follow_chain(pause_file, pause, reason)
        return BreakGlassResult(env, function, None, None, follow)

    # Estimating first turns a missing role into a decoded error before anything is signed.
    data = token.encode_abi(name)
    call = {"from": signer.address, "to": token.address, "data": data}
    try:
        with _chain_errors(w3, f"estimating the gas of {function}"):
            estimate = w3.eth.estimate_gas(call)  # type: ignore[arg-type]
            block = w3.eth.block_number
    except ContractLogicError as error:
        found = revert_data(error)
        reason_text = str(decode_revert(found)) if found else str(error)
        raise ExecutionError(
            f"{function} from {signer.address} would revert: {reason_text}",
            hint="grant the signer PAUSER_ROLE on the token, or use a key that has it",
        ) from None
    request = TransactionRequest(
        index=0, to=token.address, data=data, gas_limit=estimate * (100 + GAS_MARGIN_PERCENT) // 100, description=function
    )

    # Sent at once, under a lock of its own, in a journal named after the block it was decided at.
    # NOTE: an apply running with the same key may take the same nonce, and then one of the two fails.
    lock = acquire_lock(f"{environment.name}.break-glass", directory=lock_dir)
    try:
        result = execute(
            w3,
            signer,
            [request],
            journal=Journal(environment.name, f"{name}-{block}", directory=journal_dir),
            confirmations=environment.confirmations,
            lock=lock,
        )
    finally:
        lock.release()

    record = break_glass_record(
        name,
        environment=environment.name,
        chain_id=environment.chain_id,
        signer=signer.address,
        reason=reason,
        outcome=result.outcomes[0],
        function=function,
        to=token.address,
        commit=git_commit(state_dir),
    )
    written = write_record(record, f"{name}-{block}", state_dir=state_dir, audit_dir=audit_dir)
    result.raise_for_failures()
    log.info("%s confirmed for %s, reason: %s", function, environment.name, reason)

    return BreakGlassResult(env, function, result, written, _follow_chain(pause_file, pause, reason))


def _checked_reason(reason: str) -> str:
    """Return REASON without surrounding blanks when the Pause file can hold it; raise ConfigurationError if not.

    The reason is written into the Pause file after the transaction, so it is
    checked against that file's schema before anything is sent.
    """
    reason = reason.strip()
    limit = int(load_schema("Pause")["properties"]["reason"]["maxLength"])
    if not reason:
        raise ConfigurationError("the reason is empty", hint="pass --reason with what happened, for the audit trail")
    found = control_character(reason)
    if found is not None:
        raise ConfigurationError(f"the reason contains the control character {found}", hint=CONTROL_CHARACTER_HINT)
    if len(reason) > limit:
        raise ConfigurationError(
            f"the reason is too long ({len(reason):,} characters, at most {limit:,}): nothing was sent",
            hint=f"shorten --reason to at most {limit:,} characters, and keep the details in the incident record",
        )
    return reason


@contextmanager
def _chain_errors(w3: Web3, what: str) -> Iterator[None]:
    """Turn a failed request of WHAT into ChainError, described without the RPC URL."""
    try:
        yield
    except ContractLogicError:
        raise
    except (requests.RequestException, Web3Exception, OSError, ValueError) as error:
        raise ChainError(f"{what} failed: {rpc.error_text(w3, error)}", hint=RETRY_HINT) from None


def _follow_chain(pause_file: Path | None, paused: bool, reason: str) -> Path | None:
    """Write the token's state and REASON into the Pause file, so that the next apply keeps that state."""
    if pause_file is None:
        return None
    write_atomically(pause_file, dump_pause(Pause(paused=paused, reason=reason)))
    return pause_file


def _environment(state_dir: Path, env: str) -> tuple[Environment, Path | None, bool | None]:
    """Return the environment, its Pause file if it has one that loads, and the state that file asks for."""
    environment, result = read_environment(state_dir, env, purpose="pause", strict=False)
    for finding in kind_findings(result, ("Environment",)):
        log.warning("%s:%s:%s: %s (pausing anyway)", finding.file, finding.line, finding.column, finding.message)
    pause_file = result.files.get("Pause")
    if pause_file is None:
        return environment, None, None
    wanted = result.state.pause.get(PAUSE_KEY)
    return environment, Path(pause_file), wanted.paused if wanted is not None else None
