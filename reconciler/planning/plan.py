"""The plan: desired state x observation -> ordered transactions, checked, with its JSON form.

`build_plan` is pure: it takes the loaded YAML, one observation of the chain
and the options, and returns a `Plan` or raises `PlanError` with every problem
found. The same inputs give the same plan, and `plan_json` writes it
byte for byte the same: sorted keys, no host time, integers that may exceed
2**53 as decimal strings.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.chain.observe import Observation
from reconciler.desired.state import DesiredState
from reconciler.errors import PlanError
from reconciler.gitops.metadata import GitMetadata
from reconciler.model import Environment
from reconciler.planning.actions import derive_actions
from reconciler.planning.calls import DEFAULT_GAS_CAP, EIP_7825_TX_GAS_LIMIT
from reconciler.planning.changes import Kind
from reconciler.planning.checks import check_mass_change, check_signer
from reconciler.planning.controls import check_role_sequence, control_actions, roles_after_grants
from reconciler.planning.coupons import CouponInputs, coupon_actions
from reconciler.planning.diff import diff
from reconciler.planning.ipfs_records import record_actions
from reconciler.planning.records import Action, PlanWarning, Problem, ScheduledCoupon, Verb
from reconciler.planning.transactions import Transaction, argument_names, batch_transactions, function_abi

FORMAT_VERSION = 1
NOT_SIMULATED = "not simulated"


@dataclass(frozen=True)
class PlanOptions:
    """Choices of the person or job that plans."""

    signer: str  # EIP-55 address that will send the transactions
    gas_cap: int = DEFAULT_GAS_CAP  # per transaction, by the gas model
    allow_mass_change: bool = False
    git_commit: str | None = None  # of the YAML, recorded in the plan file
    git: GitMetadata | None = None  # branch, author, changed files and per-line commits, when in a repository


@dataclass(frozen=True)
class Plan:
    """The ordered transactions that take the chain to the desired state, and what they were planned on."""

    environment: Environment
    chain_id: int
    block_number: int
    block_hash: str
    block_timestamp: int
    reads: Mapping[str, str]
    reads_digest: str
    git_commit: str | None
    signer: str
    gas_cap: int
    transactions: tuple[Transaction, ...]
    scheduled: tuple[ScheduledCoupon, ...]
    warnings: tuple[PlanWarning, ...]
    simulation: str = NOT_SIMULATED
    # Values the plan writes, as read keys to their values after a simulated
    # run, and None for a key the run removes (an unblocked address). It is
    # empty when the plan was not simulated. apply accepts these values as
    # well as the ones read, because an interrupted apply of this plan leaves
    # some of them.
    sets: Mapping[str, str | None] = field(default_factory=dict)
    git: GitMetadata | None = None

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action, in sending order."""
        return tuple(action for transaction in self.transactions for action in transaction.actions)

    @property
    def force_transfer_orders(self) -> tuple[str, ...]:
        """The order ids of the court-ordered force transfers the plan sends, in sending order."""
        return tuple(action.key for action in self.actions if action.verb is Verb.FORCE_TRANSFER)

    @property
    def has_changes(self) -> bool:
        """Whether applying would send anything; scheduled coupons and drift are no changes."""
        return bool(self.transactions)

    def verb_counts(self) -> dict[Verb, int]:
        counts = Counter(action.verb for action in self.actions)
        return {verb: counts[verb] for verb in Verb if counts[verb]}

    def summary(self) -> str:
        """Return the summary line, such as "Plan: 3 addresses to block, 1 address to unblock in 2 transactions."."""
        if self.has_changes:
            phrases = ", ".join(verb.phrase(count) for verb, count in self.verb_counts().items())
            count = len(self.transactions)
            line = f"Plan: {phrases} in {count} {'transaction' if count == 1 else 'transactions'}."
        else:
            line = "No changes: the chain matches the YAML."
        if self.scheduled:
            count = len(self.scheduled)
            line += f" {count} coupon {'cycle' if count == 1 else 'cycles'} scheduled."
        drift = sum(1 for warning in self.warnings if warning.code == "drift")
        if drift:
            line += f" {drift} on-chain {'item' if drift == 1 else 'items'} not in the YAML (drift)."
        return line


def build_plan(desired: DesiredState, observation: Observation, options: PlanOptions) -> Plan:
    """Diff DESIRED against OBSERVATION and order, batch and check the transactions that reconcile them.

    Raises PlanError listing every problem: edits of facts the chain cannot
    change, coupon amounts that differ from the computed ones, a missing role
    of the signer, a mass change without `allow_mass_change`. Raises
    ConfigurationError when the gas cap is too small for one call.
    """
    environment = desired.environment
    if observation.chain_id != environment.chain_id:
        raise PlanError(
            f"the observation is of chain id {observation.chain_id}, but environment {environment.name} "
            f"has chain_id {environment.chain_id}",
            hint=f"point {environment.rpc_url_env} at the {environment.name} chain",
        )

    # A delisting dated after the chain's time is not due: the address stays blocked until then.
    desired, scheduled_delistings = _due_delistings_only(desired, observation.block_timestamp)

    # The diff compares chain-visible fields only; each change then becomes an action, a warning or a problem.
    changes = diff(desired, observation.state)
    derived = derive_actions(desired, observation.state, changes)
    coupons = coupon_actions(
        desired,
        CouponInputs(
            block_timestamp=observation.block_timestamp,
            total_supply=observation.total_supply,
            treasury_usdc_balance=observation.treasury_usdc_balance,
            usdc_allowance=observation.usdc_allowance_to_corporate_actions,
        ),
        changes,
    )
    records = record_actions(observation.state, changes)
    controls = control_actions(desired, changes, observation.roles, observation.partition_balances, observation.state)
    actions = derived.actions + coupons.actions + records.actions + controls.actions
    problems = [*derived.problems, *coupons.problems, *records.problems, *controls.problems]

    # Batch in sending order, then check what sending them needs.
    transactions = batch_transactions(actions, environment, options.signer, options.gas_cap)
    problems.extend(check_mass_change(actions, desired, options.allow_mass_change))
    # The plan's own grants count for the signer; check_role_sequence checks they come in time.
    problems.extend(check_signer(transactions, desired, options.signer, roles_after_grants(observation.roles, actions)))
    problems.extend(check_role_sequence(actions, observation.roles, options.signer))
    if problems:
        raise plan_error(problems)

    warnings = list(derived.warnings) + scheduled_delistings + list(controls.warnings)
    if options.gas_cap > EIP_7825_TX_GAS_LIMIT:
        warnings.append(
            PlanWarning(
                "gas-cap",
                None,
                "",
                f"gas cap {options.gas_cap:,} is above the 16,777,216 gas per transaction that EIP-7825 allows "
                "on networks after the Osaka upgrade",
            )
        )
    return Plan(
        environment=environment,
        chain_id=observation.chain_id,
        block_number=observation.block_number,
        block_hash=observation.block_hash,
        block_timestamp=observation.block_timestamp,
        reads=observation.reads,
        reads_digest=observation.digest,
        git_commit=options.git_commit,
        signer=options.signer,
        gas_cap=options.gas_cap,
        transactions=transactions,
        scheduled=coupons.scheduled,
        warnings=tuple(warnings),
        git=options.git,
    )


def _due_delistings_only(desired: DesiredState, now: int) -> tuple[DesiredState, list[PlanWarning]]:
    """Keep sanctions entries whose delisted_on is after NOW blocked, with a warning for each."""
    future = {
        address: entry
        for address, entry in desired.state.sanctions.items()
        if entry.delisted_on is not None and entry.delisted_on > now
    }
    if not future:
        return desired, []
    sanctions = dict(desired.state.sanctions)
    warnings = []
    for address, entry in sorted(future.items(), key=lambda item: item[0].lower()):
        sanctions[address] = replace(entry, delisted_on=None)
        day = datetime.fromtimestamp(entry.delisted_on or 0, UTC).date().isoformat()
        warnings.append(
            PlanWarning(
                "delisting-scheduled",
                Kind.SANCTIONS_ENTRY,
                address,
                f"{address} is delisted on {day}, after the chain's time: it stays blocked until a plan on or after that date",
            )
        )
    state = replace(desired.state, sanctions=sanctions)
    return replace(desired, state=state), warnings


def plan_error(problems: Sequence[Problem]) -> PlanError:
    """Build the error that reports PROBLEMS: the one problem with its hint, or all of them rendered."""
    if len(problems) == 1:
        problem = problems[0]
        where = f"{problem.position}: " if problem.position is not None else ""
        return PlanError(f"{where}{problem.message}", problems=tuple(problems), hint=problem.hint)
    rendered = "\n".join(problem.render() for problem in problems)
    return PlanError(
        f"the plan has {len(problems)} problems and sends nothing:\n{rendered}",
        problems=tuple(problems),
        hint="fix each problem above, then plan again",
    )


# --- the plan file -----------------------------------------------------------


def plan_document(plan: Plan) -> dict[str, Any]:
    """Return the plan file's content (schemas/plan.schema.json), its `digest` included."""
    actions: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    for number, transaction in enumerate(plan.transactions, start=1):
        indexes = []
        for action in transaction.actions:
            indexes.append(len(actions) + 1)
            actions.append(_action_document(action, len(actions) + 1, number, plan.git))
        transactions.append(_transaction_document(transaction, number, indexes))

    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "environment": plan.environment.name,
        "chain_id": plan.chain_id,
        "block": {"number": plan.block_number, "hash": plan.block_hash, "timestamp": plan.block_timestamp},
        "reads": {"digest": plan.reads_digest, "values": dict(plan.reads), "sets": dict(plan.sets)},
        "git_commit": plan.git_commit,
        "signer": plan.signer,
        "gas_cap": plan.gas_cap,
        "simulation": plan.simulation,
        "summary": {
            "text": plan.summary(),
            "has_changes": plan.has_changes,
            "counts": {verb.name.lower(): count for verb, count in plan.verb_counts().items()},
            "transactions": len(plan.transactions),
            "force_transfers": list(plan.force_transfer_orders),
        },
        "actions": actions,
        "transactions": transactions,
        "scheduled": [_scheduled_document(item) for item in plan.scheduled],
        "warnings": [
            {"code": warning.code, "kind": warning.kind.value if warning.kind else None, "key": warning.key,
             "message": warning.message}
            for warning in plan.warnings
        ],
    }
    if plan.git is not None:
        document["git"] = plan.git.document()
    document["digest"] = document_digest(document)
    return document


def document_digest(document: Mapping[str, Any]) -> str:
    """Return "sha256:" and the hex digest of DOCUMENT without its `digest`, as compact sorted JSON."""
    body = {key: value for key, value in document.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def plan_json(plan: Plan) -> str:
    """Write the plan file: indented JSON with sorted keys and a final newline."""
    return json.dumps(plan_document(plan), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def plan_digest(plan: Plan) -> str:
    return str(plan_document(plan)["digest"])


def json_value(value: Any) -> Any:
    """Convert a call argument or model value to JSON: integers as decimal strings, bytes as 0x hex."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: json_value(getattr(value, name)) for name in value.__dataclass_fields__}
    return str(value)  # strings, and StrEnum members as their value


def _action_document(action: Action, index: int, transaction: int, git: GitMetadata | None) -> dict[str, Any]:
    return {
        "index": index,
        "transaction": transaction,
        "verb": action.verb.name.lower(),
        "marker": action.verb.marker,
        "stage": action.stage.label,
        "kind": action.kind.value if action.kind else None,
        "key": action.key,
        "description": action.description,
        "source": _source(action, git),
        "changes": [
            {"field": change.field, "operation": change.operation.value, "old": json_value(change.old),
             "new": json_value(change.new)}
            for change in action.changes
        ],
    }


def _source(action: Action, git: GitMetadata | None) -> dict[str, Any] | None:
    if action.position is None:
        return None
    source: dict[str, Any] = {"file": action.position.file, "line": action.position.line, "column": action.position.column}
    if git is not None:
        source["commit"] = git.line_commits.get((action.position.file, action.position.line))
    return source


def _transaction_document(transaction: Transaction, index: int, action_indexes: list[int]) -> dict[str, Any]:
    types, signature = function_abi(transaction.function)
    names = argument_names(transaction.function)
    return {
        "index": index,
        "from": transaction.sender,
        "to": transaction.to,
        "contract": transaction.function.spec.contract,
        "function": transaction.function.qualified_name,
        "data": transaction.data,
        "call": {
            "signature": signature,
            "arguments": [
                {"name": name, "type": kind, "value": json_value(value)}
                for name, kind, value in zip(names, types, transaction.arguments, strict=True)
            ],
        },
        "gas_estimate": transaction.gas_estimate,
        "stages": [stage.label for stage in transaction.stages],
        "actions": action_indexes,
    }


def _scheduled_document(item: ScheduledCoupon) -> dict[str, Any]:
    return {
        "cycle_id": item.cycle_id,
        "period": item.period,
        "rate_bps": item.rate_bps,
        "payment_date": item.payment_date,
        "amount": str(item.amount),
        "computation": item.rule,
        "source": None
        if item.position is None
        else {"file": item.position.file, "line": item.position.line, "column": item.position.column},
    }
