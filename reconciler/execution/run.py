"""`jinbi apply` without the command line: plan or load a plan, check it still holds, send, verify.

`run_apply` holds the environment's lock from the first read to the last, so
no other apply changes the chain between the staleness check, the sending and
the verification. `reconciler.cli` supplies the confirmation prompt and the
output functions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.desired import load_state
from reconciler.desired.state import DesiredState
from reconciler.errors import ExecutionError, PlanError
from reconciler.execution.apply import Timeouts, execute
from reconciler.execution.fees import FeePolicy
from reconciler.execution.journal import DEFAULT_JOURNAL_DIR, Journal
from reconciler.execution.lock import DEFAULT_LOCK_DIR, acquire_lock
from reconciler.execution.signer import Signer, load_signer
from reconciler.execution.staleness import already_applied, check_plan_holds
from reconciler.execution.transactions import (
    ExecutionResult,
    OutcomeStatus,
    ProgressCallback,
    TransactionRequest,
    outcome_of,
)
from reconciler.gitops.audit import DEFAULT_AUDIT_DIR, apply_record, record_path, write_record
from reconciler.model import Environment
from reconciler.planning.calls import DEFAULT_GAS_CAP, Function
from reconciler.planning.plan import PlanOptions, build_plan, document_digest, plan_document
from reconciler.planning.render_text import render_text
from reconciler.planning.run import DEVNET_NAME, PRIVATE_KEY_VARIABLE, PlanRequest, git_commit, make_plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplyRequest:
    """Options of one `jinbi apply` run."""

    env: str
    state_dir: Path
    plan_file: Path | None = None  # apply this reviewed plan; None plans afresh
    auto_approve: bool = False
    gas_cap: int = DEFAULT_GAS_CAP
    allow_mass_change: bool = False
    allow_force_transfer: bool = False  # send court-ordered force transfers; without it a plan with any is refused
    simulate: bool = True
    fees: FeePolicy | None = None
    journal_dir: Path = DEFAULT_JOURNAL_DIR
    lock_dir: Path = DEFAULT_LOCK_DIR
    audit_dir: Path = DEFAULT_AUDIT_DIR
    git_notes: bool = True  # append the audit record to the git note of the applied commit
    rpc_timeout: float = rpc.REQUEST_TIMEOUT_SECONDS  # per JSON-RPC request, in seconds
    rpc_retry: rpc.RetryPolicy | None = None  # the transport's retries of temporary failures; None: the default
    timeouts: Timeouts | None = None  # polling, replacement and retry waits of the execution; None: the default


@dataclass(frozen=True)
class ApplyOutput:
    """The output functions of `run_apply` and its confirmation prompt."""

    show: Callable[[str], None]  # results, to stdout
    confirm: Callable[[str], bool]
    progress: ProgressCallback | None = None


def run_apply(request: ApplyRequest, output: ApplyOutput) -> None:
    """Apply ENV's plan and return only when the chain matches the YAML.

    Raises DesiredStateError for invalid YAML and PlanError for a plan with
    problems or a stale or foreign plan file. Raises SignerError without a
    usable key and LockError when another apply runs. Raises ExecutionError
    when a transaction fails, when the chain has not converged afterwards, or
    when the user declines; a prompt without input raises typer's Abort.
    """
    desired = load_state(request.state_dir, request.env)
    environment = desired.environment
    signer = signer_for(environment)
    w3 = rpc.connect(environment, timeout=request.rpc_timeout, policy=request.rpc_retry)

    with acquire_lock(environment.name, directory=request.lock_dir) as lock:
        # The reviewed plan, checked against the chain as it is now; or a new plan.
        if request.plan_file is not None:
            document = read_plan_file(request.plan_file, environment)
            observation = observe(w3, environment)
            journal = Journal(environment.name, str(document["digest"]), directory=request.journal_dir)
            if journal.records and not document["reads"]["sets"]:
                # Without the simulation's values, this plan's own writes look like someone else's to the
                # staleness check, so only what the interrupted apply journaled is finished.
                _finish_journaled(w3, signer, desired, document, journal, request, output, lock)
                _check_all_sent(document, journal, environment)
                output.show("Every transaction of this plan was sent: nothing more to send.")
                _verify(desired, w3, signer, request, output)
                return
            check_plan_holds(document, observation, signer.address, journaled=bool(journal.records))
            output.show(f"Plan {document['digest']} still holds at block {observation.block_number}.")
            if already_applied(document, observation):
                # An earlier run of this plan may have died after its last receipt and before its audit record.
                if journal.records:
                    _finish_journaled(w3, signer, desired, document, journal, request, output, lock)
                output.show("Every change of this plan is on chain now: nothing more to send.")
                _verify(desired, w3, signer, request, output)
                return
            output.show(str(document["summary"]["text"]))
            check_force_transfers_allowed(document, request.allow_force_transfer)
            _confirm_sending(len(document["transactions"]), environment, request, output)
        else:
            # A run that crashed left its journal: wait for what it sent before planning again,
            # so a transaction still pending is never sent a second time under a new plan.
            _finish_interrupted_runs(w3, signer, desired, request, output, lock)
            plan = make_plan(
                PlanRequest(
                    env=request.env,
                    state_dir=request.state_dir,
                    signer=signer.address,
                    gas_cap=request.gas_cap,
                    allow_mass_change=request.allow_mass_change,
                    simulate=request.simulate,
                )
            )
            output.show(render_text(plan).plain.rstrip("\n"))
            if not plan.has_changes:
                return
            document = plan_document(plan)
            check_force_transfers_allowed(document, request.allow_force_transfer)
            _confirm_sending(len(plan.transactions), environment, request, output)

        # Send exactly the plan's transactions, recorded in the journal of its digest.
        requests = transaction_requests(document)
        journal = Journal(environment.name, str(document["digest"]), directory=request.journal_dir)
        _keep_plan_beside(journal, document)
        result = _send(w3, signer, requests, journal, environment, request, output, lock)
        output.show(result.describe())

        # The audit trail names the commit that authorised what was sent, failed transactions included.
        _write_audit_record(document, result, desired, request, output)
        result.raise_for_failures()

        # Converged only when a fresh plan from the chain as it is now is empty.
        _verify(desired, w3, signer, request, output)


def check_force_transfers_allowed(document: Mapping[str, Any], allowed: bool) -> None:
    """Raise PlanError when the plan sends a court-ordered force transfer and ALLOWED is false.

    The orders are found by the called function, not by the summary's list,
    and `check_calls` has tied each call shown to the bytes that are sent.
    """
    orders = _force_transfer_orders(document["transactions"])
    if orders and not allowed:
        count = len(orders)
        raise PlanError(
            f"the plan contains {count} court-ordered force {'transfer' if count == 1 else 'transfers'} "
            f"({', '.join(orders)}), and apply sends force transfers only with --allow-force-transfer: nothing was sent",
            hint="check each order's legal reference, partition, accounts and amount against the court order, "
            "then rerun with --allow-force-transfer",
        )


def _force_transfer_orders(transactions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the order id of each forceTransfer call among the plan file's TRANSACTIONS."""
    return [
        bytes.fromhex(str(transaction["call"]["arguments"][0]["value"]).removeprefix("0x"))
        .rstrip(b"\0")
        .decode("ascii", errors="replace")
        for transaction in transactions
        if transaction["function"] == Function.FORCE_TRANSFER.qualified_name
    ]


def _confirm_sending(count: int, environment: Environment, request: ApplyRequest, output: ApplyOutput) -> None:
    """Ask before sending, unless --auto-approve; raise ExecutionError when the user declines."""
    question = f"Send {count} {'transaction' if count == 1 else 'transactions'} to {environment.name}?"
    if not request.auto_approve and not output.confirm(question):
        raise ExecutionError("apply declined: nothing was sent")


def _plan_copy_path(journal: Journal) -> Path:
    return journal.path.with_name(journal.path.name.removesuffix(".json") + ".plan.json")


def _keep_plan_beside(journal: Journal, document: Mapping[str, Any]) -> None:
    """Save the plan next to its journal, so a later run can finish what this one sent."""
    path = _plan_copy_path(journal)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _send(
    w3: Any,
    signer: Signer,
    requests: Sequence[TransactionRequest],
    journal: Journal,
    environment: Environment,
    request: ApplyRequest,
    output: ApplyOutput,
    lock: Any,
) -> ExecutionResult:
    """Send REQUESTS, or await the ones JOURNAL shows as sent, with the apply's confirmations, fees and timeouts."""
    return execute(
        w3,
        signer,
        requests,
        journal=journal,
        confirmations=environment.confirmations,
        fees=request.fees,
        timeouts=request.timeouts,
        progress=output.progress,
        lock=lock,
    )


def _write_audit_record(
    document: Mapping[str, Any], result: ExecutionResult, desired: DesiredState, request: ApplyRequest, output: ApplyOutput
) -> None:
    """Write the audit record of plan DOCUMENT with each outcome of RESULT, to its file and git note."""
    record = apply_record(document, result.outcomes, desired.state, commit=document.get("git_commit"))
    written = write_record(
        record,
        str(document["digest"]),
        state_dir=request.state_dir,
        audit_dir=request.audit_dir,
        git_notes=request.git_notes,
    )
    output.show(written.describe())


def _finish_interrupted_runs(
    w3: Any, signer: Signer, desired: DesiredState, request: ApplyRequest, output: ApplyOutput, lock: Any
) -> None:
    """Finish every interrupted run of the environment: settle what it journaled, and write its audit record.

    Only the journaled transactions are resumed: the ones that run had not
    signed yet are left to the fresh plan, which is made from the chain after
    them and so is checked against the YAML as it is now.
    """
    environment = desired.environment
    folder = request.journal_dir / environment.name
    for plan_copy in sorted(folder.glob("*.plan.json")):
        document = json.loads(plan_copy.read_text(encoding="utf-8"))
        journal = Journal(environment.name, str(document["digest"]), directory=request.journal_dir)
        if journal.records:
            _finish_journaled(w3, signer, desired, document, journal, request, output, lock)


def _finish_journaled(
    w3: Any,
    signer: Signer,
    desired: DesiredState,
    document: Mapping[str, Any],
    journal: Journal,
    request: ApplyRequest,
    output: ApplyOutput,
    lock: Any,
) -> None:
    """Settle the transactions that JOURNAL recorded for plan DOCUMENT, and write the plan's audit record once.

    A run killed while its transactions were pending left records that are
    not final: they pass apply's gates again, and are awaited or resent. A run
    killed after its last receipt and before its audit record left only final
    records: their outcomes are taken from the journal and nothing is sent.
    The record is written when every journaled transaction is final and the
    digest has no final record yet, so a digest's record is written once
    unless its file is removed. A record with pending transactions, which a run whose receipts
    timed out writes, is not final and is replaced. Raises ExecutionError
    when a journaled transaction failed.
    """
    environment = desired.environment
    settled = all(record.final for record in journal.records.values())
    if settled and _has_final_record(request.audit_dir, environment.name, str(document["digest"])):
        return

    journaled = transaction_requests(document)[: max(journal.records) + 1]
    if settled:
        count = len(journal.records)
        output.show(
            f"Recording the interrupted apply of plan {document['digest']}: its {count} journaled "
            f"{'transaction is' if count == 1 else 'transactions are'} final, but it stopped before its audit record."
        )
        result = _journal_result(journaled, journal)
    else:
        _approve_resending(document, journal, _plan_copy_path(journal), environment, request, output)
        result = _send(w3, signer, journaled, journal, environment, request, output, lock)
    output.show(result.describe())

    # A transaction still pending gets its outcome on the next run, which writes the record then.
    if not result.with_status(OutcomeStatus.PENDING):
        _write_audit_record(document, result, desired, request, output)
    result.raise_for_failures()


def _check_all_sent(document: Mapping[str, Any], journal: Journal, environment: Environment) -> None:
    """Raise PlanError when the unsimulated plan DOCUMENT has transactions that JOURNAL never recorded."""
    unsent = len(document["transactions"]) - len(journal.records)
    if unsent:
        raise PlanError(
            f"plan {document['digest']} was not simulated, so after its interrupted apply the chain cannot be "
            f"checked against it: its journaled transactions are finished, and its other {unsent} were not sent",
            hint=f"run `jinbi apply --env {environment.name}` to plan the rest from the chain as it is now",
        )


def _journal_result(requests: Sequence[TransactionRequest], journal: Journal) -> ExecutionResult:
    """Return the outcomes of REQUESTS as JOURNAL records them, without reading the chain."""
    outcomes = tuple(
        outcome_of(
            request,
            journal.records.get(request.index),
            from_journal=True,
            revert=None,
            not_sent_reason=None,
            pending_reason=None,
        )
        for request in requests
    )
    return ExecutionResult(outcomes, journal.path)


def _has_final_record(audit_dir: Path, environment: str, digest: str) -> bool:
    """Tell whether the audit record file of plan DIGEST exists, is readable, and has no pending transaction."""
    path = record_path(audit_dir, environment, digest)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        # A crash while the file was written leaves it truncated, and the rewrite replaces it.
        log.warning("rewriting the unreadable audit record %s: %s", path, error)
        return False
    if not isinstance(record, dict):
        log.warning("rewriting the audit record %s, which is not a JSON object", path)
        return False
    transactions = record.get("transactions", [])
    return all(transaction.get("status") != OutcomeStatus.PENDING.value for transaction in transactions)


def _approve_resending(
    document: Mapping[str, Any],
    journal: Journal,
    plan_copy: Path,
    environment: Environment,
    request: ApplyRequest,
    output: ApplyOutput,
) -> None:
    """Show the journaled transactions a resume may send again, and pass them through apply's gates.

    They were approved for a plan that the YAML may no longer hold, so a
    forceTransfer among them needs --allow-force-transfer again, and the
    user confirms them unless --auto-approve. Raises PlanError or ExecutionError.
    """
    unsettled = [document["transactions"][index] for index, record in sorted(journal.records.items()) if not record.final]
    count = len(unsettled)
    output.show(
        f"Resuming the interrupted apply of plan {document['digest']}: {count} journaled "
        f"{'transaction' if count == 1 else 'transactions'} not seen mined; each would be sent again "
        "unless the chain already has it:"
    )
    actions = {action["index"]: action for action in document["actions"]}
    for transaction in unsettled:
        output.show(f"  transaction {transaction['index']}, {transaction['function']}:")
        for number in transaction["actions"]:
            output.show(f"    {actions[number]['description']}")
    orders = _force_transfer_orders(unsettled)
    if orders and not request.allow_force_transfer:
        raise PlanError(
            f"the interrupted apply of plan {document['digest']} journaled {len(orders)} court-ordered force "
            f"{'transfer' if len(orders) == 1 else 'transfers'} ({', '.join(orders)}) that may not have reached "
            "the chain, and apply resends force transfers only with --allow-force-transfer: nothing was sent",
            hint="if the court order still stands, rerun with --allow-force-transfer to finish that apply; to abandon "
            f"it, check that the node no longer holds the transaction, then move {journal.path} and {plan_copy} aside",
        )
    question = f"Resend {count} journaled {'transaction' if count == 1 else 'transactions'} to {environment.name}?"
    if not request.auto_approve and not output.confirm(question):
        raise ExecutionError(
            "apply declined: nothing was sent",
            hint=f"to abandon the interrupted apply, check that the node no longer holds its transactions, "
            f"then move {journal.path} and {plan_copy} aside",
        )


def signer_for(environment: Environment) -> Signer:
    """Load the signer from the environment variables; on devnet, default to anvil's first dev account."""
    import os

    from reconciler.execution.signer import KEYSTORE_VARIABLE

    configured = os.environ.get(PRIVATE_KEY_VARIABLE) or os.environ.get(KEYSTORE_VARIABLE)
    if not configured and environment.name == DEVNET_NAME and environment.chain_id == 31337:
        from reconciler.devnet import dev_account

        return Signer(dev_account())
    return load_signer()


def read_plan_file(path: Path, environment: Environment) -> dict[str, Any]:
    """Read a plan file, check its schema and digest, and that it is for ENVIRONMENT."""
    import jsonschema

    from reconciler import PROJECT_ROOT

    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"plan file {path} not found", hint="pass the file that `jinbi plan --out` wrote") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlanError(f"cannot read plan file {path}: {error}", hint="pass a plan file written by `jinbi plan --out`") from None

    schema = json.loads((PROJECT_ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "the top level"
        raise PlanError(f"invalid plan file {path}: at {where}: {problem.message}", hint="plan again with `jinbi plan --out`")
    if document_digest(document) != document["digest"]:
        raise PlanError(
            f"plan file {path} was changed after planning: its content does not match its digest {document['digest']}",
            hint="apply only the plan file that `jinbi plan --out` wrote and reviewers approved",
        )
    if document["environment"] != environment.name or document["chain_id"] != environment.chain_id:
        raise PlanError(
            f"plan file {path} is for environment {document['environment']} (chain id {document['chain_id']}), "
            f"not {environment.name} (chain id {environment.chain_id})",
            hint=f"pass --env {document['environment']}, or plan {environment.name} again",
        )
    check_calls(document, environment, path)
    return document


def check_calls(document: Mapping[str, Any], environment: Environment, path: Path) -> None:
    """Raise PlanError unless each transaction goes to its contract and its calldata encodes the call shown.

    The digest only proves that the file is consistent with itself; this ties
    the bytes that are sent to the decoded call that reviewers read.
    NOTE: the actions' descriptions are not re-derived from the call
    arguments, so a file rewritten consistently throughout still passes. The
    merge job plans again from the merged commit instead of trusting a file.
    """
    from eth_abi.abi import decode
    from eth_utils.crypto import keccak

    from reconciler.planning.plan import json_value

    for transaction in document["transactions"]:
        number = transaction["index"]
        contract = transaction["contract"]
        expected_to = getattr(environment.contracts, contract, None)
        if expected_to is None or str(transaction["to"]).lower() != expected_to.lower():
            raise PlanError(
                f"plan file {path}: transaction {number} goes to {transaction['to']}, "
                f"not to contracts.{contract} of environment {environment.name} ({expected_to})",
                hint="apply only a plan file that `jinbi plan --out` wrote for this environment",
            )
        call = transaction["call"]
        data = bytes.fromhex(str(transaction["data"]).removeprefix("0x"))
        types = [argument["type"] for argument in call["arguments"]]
        shown = [argument["value"] for argument in call["arguments"]]
        try:
            selector_matches = data[:4] == keccak(text=call["signature"])[:4]
            decoded = json_value(list(decode(types, data[4:]))) if selector_matches else None
        except Exception:  # noqa: BLE001 - any decoding failure means the bytes are not the call shown
            decoded = None
        if decoded is None or _lowered(decoded) != _lowered(shown):
            raise PlanError(
                f"plan file {path}: the calldata of transaction {number} does not encode the call it shows "
                f"({call['signature']})",
                hint="the file was altered after planning: plan again with `jinbi plan --out` and have it reviewed",
            )


def _lowered(value: Any) -> Any:
    """Return VALUE with every string lowercased, so address spellings compare equal."""
    if isinstance(value, list):
        return [_lowered(item) for item in value]
    return value.lower() if isinstance(value, str) else value


def transaction_requests(document: Mapping[str, Any]) -> list[TransactionRequest]:
    """Turn the plan file's transactions into execution requests, in plan order."""
    requests = []
    for index, transaction in enumerate(document["transactions"]):
        count = len(transaction["actions"])
        requests.append(
            TransactionRequest(
                index=index,
                to=transaction["to"],
                data=transaction["data"],
                gas_limit=int(transaction["gas_estimate"]),
                description=f"{transaction['function']} ({count} {'item' if count == 1 else 'items'})",
            )
        )
    return requests


def _verify(desired: DesiredState, w3: Any, signer: Signer, request: ApplyRequest, output: ApplyOutput) -> None:
    observation = observe(w3, desired.environment)
    options = PlanOptions(
        signer=signer.address,
        gas_cap=request.gas_cap,
        allow_mass_change=True,
        git_commit=git_commit(request.state_dir),
    )
    remaining = build_plan(desired, observation, options)
    if remaining.has_changes:
        raise ExecutionError(
            f"the chain has not converged at block {observation.block_number}: a fresh plan still has changes\n"
            + render_text(remaining).plain.rstrip("\n"),
            hint="read the remaining changes above; run `jinbi plan` to see whether someone else changed the chain",
        )
    output.show(f"Apply complete: the chain matches the YAML at block {observation.block_number}.")
