"""`jinbi drift`: the on-chain values that differ from the YAML at HEAD, and why.

The YAML at HEAD (read from the commit, not the work tree) is diffed against
one observation of the chain. Each difference gets one of three classes:

- changed outside the reconciler: the chain has a value that no commit
  requested. That is an on-chain item the YAML does not list (a role
  holder, an executed force transfer), or a paused token without a Pause
  file; a pause that the YAML's Pause file asks for is no drift. It is also a value that the last
  applied commit's YAML already had as HEAD has it, so the chain once had
  that value and someone changed it since.
- pending in an unapplied commit: HEAD wants a value that the last applied
  commit's YAML did not want, so the next apply sends it. Without any apply
  recorded in the audit notes every such difference counts as pending.
- an edit of a final record: HEAD changes a recorded snapshot or
  attestation, an executed force transfer or a paid coupon cycle, which plan
  and apply reject, so the YAML must be restored.

A confirmed `jinbi pause` or `unpause` after the last apply stands for the
pause state of that apply, because it set the chain's value the YAML follows.

The last applied commit comes from the audit notes (`reconciler.gitops.audit`).
Unpaid coupon cycles whose payment date the chain has not reached are
scheduled, not drift. `write_adoption` writes the on-chain values of the
differences changed outside into the work tree's YAML with the writer of
`jinbi import`, for a follow-up pull request. It leaves pending differences alone,
and final records whose on-chain values the YAML rules reject, which stay as drift.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.chain import rpc
from reconciler.chain.observe import Observation, observe
from reconciler.desired import SourcePosition, load_state, read_state
from reconciler.desired.dump import write_atomically
from reconciler.desired.schema import FILE_NAMES
from reconciler.desired.state import DesiredState
from reconciler.errors import DesiredStateError, DriftError
from reconciler.gitops.audit import break_glass_pause_state, last_applied_commit
from reconciler.gitops.metadata import open_repository, repository_path
from reconciler.importing import FINAL_RECORD_KINDS, LeftOut, Placeholders, fill_unobserved, render_checked
from reconciler.model import AllocationStatus, Environment, Pause, State
from reconciler.money import format_base_units
from reconciler.planning.actions import YAML_KINDS
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.diff import diff
from reconciler.planning.records import show_time
from reconciler.planning.render_text import printable

if TYPE_CHECKING:
    import git
    from web3 import Web3

log = logging.getLogger(__name__)

TIME_FIELDS = frozenset({"lockup_until", "record_date", "payment_date", "listed_on", "delisted_on", "trade_date"})
KIND_FILES = {kind: FILE_NAMES[name] for kind, name in YAML_KINDS.items()}


class DriftClass(StrEnum):
    """The reason the chain differs from the YAML at HEAD."""

    OUTSIDE = "changed outside the reconciler"
    PENDING = "pending in an unapplied commit"
    REJECTED_EDIT = "edited in the YAML after it became final on chain, which plan and apply reject"


# The kinds whose items cannot change once on chain; a coupon cycle only once it is paid.
FINAL_KINDS = frozenset({Kind.CAP_TABLE_SNAPSHOT, Kind.CUSTODY_ATTESTATION, Kind.FORCE_TRANSFER, Kind.COUPON_CYCLE})


@dataclass(frozen=True)
class DriftItem:
    """One on-chain value that differs from the YAML at HEAD."""

    category: DriftClass
    kind: str  # a Kind value
    key: str
    field: str  # "" for a whole item
    yaml_value: str
    chain_value: str
    position: SourcePosition | None  # in the work tree's folder; None for on-chain-only items
    adopted_in_work_tree: bool = False  # the uncommitted YAML already has the chain's value
    change: Change | None = None

    @property
    def target(self) -> str:
        """The item and field, such as "investors 0x… kyc"."""
        return f"{self.kind} {self.key}" + (f" {self.field}" if self.field else "")

    def describe(self) -> str:
        where = f" ({self.position.file}:{self.position.line})" if self.position is not None else ""
        adopted = "; the work tree already has the chain's value, commit it" if self.adopted_in_work_tree else ""
        if self.category is DriftClass.REJECTED_EDIT and not self.adopted_in_work_tree:
            adopted = f"; restore {self.field}: {self.chain_value} in the YAML, and write any correction under a new id"
        return printable(f"{self.target}: YAML {self.yaml_value}, chain {self.chain_value}") + f"{where}{adopted}"


@dataclass(frozen=True)
class DriftReport:
    """Every difference between the chain and the YAML at HEAD, classified."""

    environment: str
    block_number: int
    block_hash: str
    head: str | None  # None when the state folder is not in a git repository
    last_applied: str | None  # the commit of the newest fully confirmed apply in the audit notes
    items: tuple[DriftItem, ...]

    @property
    def has_drift(self) -> bool:
        return bool(self.items)

    def of(self, category: DriftClass) -> tuple[DriftItem, ...]:
        return tuple(item for item in self.items if item.category is category)

    def describe(self) -> str:
        """Return the report for a terminal, ending with the summary line."""
        head = self.head or "the work tree (not a git repository)"
        applied = self.last_applied or "none recorded, so every difference HEAD asks for counts as pending"
        lines = [
            f"Drift of {self.environment} at block {self.block_number} ({self.block_hash}) against the YAML at {head}.",
            f"Last applied commit: {applied}.",
        ]
        for category in DriftClass:
            found = self.of(category)
            if found:
                lines.append(f"{category.value} ({len(found)}):")
                lines.extend(f"  {item.describe()}" for item in found)
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        if not self.has_drift:
            return "No drift: the chain matches the YAML at HEAD."
        outside, pending = len(self.of(DriftClass.OUTSIDE)), len(self.of(DriftClass.PENDING))
        rejected = len(self.of(DriftClass.REJECTED_EDIT))
        counts = f"{outside} changed outside the reconciler, {pending} pending in an unapplied commit"
        if rejected:
            counts += f", {rejected} {'edit' if rejected == 1 else 'edits'} of final records"
        if outside:
            next_step = f"`jinbi drift --env {self.environment} --write` adopts what changed outside in the YAML."
        elif rejected:
            next_step = "Restore the final records' values in the YAML: plan and apply reject these edits."
        else:
            next_step = "The next apply sends the pending values."
        return f"Drift: {counts}. {next_step}"

    def markdown(self) -> str:
        """Return the report as an issue body: every value escaped, one table row per difference."""
        from reconciler.planning.render_markdown import escape

        lines = [
            f"<!-- jinbi-drift environment={escape(self.environment)} -->",
            f"### JINBI drift in {escape(self.environment)}",
            "",
            f"Block {self.block_number} ({escape(self.block_hash)}), YAML at "
            f"{escape(self.head or 'the work tree')}, last applied commit {escape(self.last_applied or 'none recorded')}.",
            "",
            "| class | item | YAML at HEAD | chain | source |",
            "|---|---|---|---|---|",
        ]
        for item in self.items:
            where = f"{item.position.file}:{item.position.line}" if item.position is not None else ""
            lines.append(
                f"| {escape(item.category.value)} | {escape(item.target)} | {escape(item.yaml_value)} "
                f"| {escape(item.chain_value)} | {escape(where)} |"
            )
        lines += ["", f"**{escape(self.summary())}**", ""]
        return "\n".join(lines)


# --- the YAML at a commit -----------------------------------------------------


def load_at_commit(repository: git.Repo, revision: str, state_dir: Path, env: str, scratch: Path) -> DesiredState | None:
    """Load state_dir/ENV as committed in REVISION, shown with the work tree's paths; None if it has no such folder.

    Raises DesiredStateError when the committed YAML is invalid.
    """
    import git

    folder = repository_path(repository, state_dir / env)
    try:
        tree = repository.commit(revision).tree / folder
    except KeyError:
        return None
    target = scratch / revision / env
    for blob in tree.traverse():
        if not isinstance(blob, git.Blob):
            continue
        path = target / str(blob.path)[len(folder) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob.data_stream.read())
    return _shown_as(load_state(scratch / revision, env), str(target), str(state_dir / env))


def _shown_as(desired: DesiredState, old: str, new: str) -> DesiredState:
    def move(position: SourcePosition) -> SourcePosition:
        return position._replace(file=new + position.file[len(old) :]) if position.file.startswith(old) else position

    positions = {path: move(position) for path, position in desired.positions.items()}
    files = {kind: new + shown[len(old) :] if shown.startswith(old) else shown for kind, shown in desired.files.items()}
    return replace(desired, positions=positions, files=files)


# --- drift --------------------------------------------------------------------


@dataclass(frozen=True)
class DriftInputs:
    """The three states drift compares, and the chain's."""

    head: DesiredState
    head_commit: str | None
    applied: State | None  # the YAML of the last applied commit
    applied_commit: str | None
    work_tree: DesiredState | None  # None when the uncommitted YAML is invalid
    observation: Observation
    # The pause state a confirmed `jinbi pause` or `unpause` set after the last confirmed apply; None without one.
    break_glass_paused: bool | None = None


def read_inputs(state_dir: Path, env: str, *, w3: Web3 | None = None) -> DriftInputs:
    """Load the YAML at HEAD, at the last applied commit and in the work tree, and observe the chain."""
    work_tree = _work_tree(state_dir, env)
    repository = open_repository(state_dir)
    with tempfile.TemporaryDirectory(prefix="jinbi-drift-") as scratch:
        if repository is None:
            log.warning("%s is not in a git repository: drift compares the chain with the work tree", state_dir)
            if work_tree is None:
                load_state(state_dir, env)  # raises the loader's error
            assert work_tree is not None
            head, head_commit, applied, applied_commit = work_tree, None, None, None
            break_glass_paused = None
        else:
            head_commit = str(repository.head.commit.hexsha)
            loaded = load_at_commit(repository, head_commit, state_dir, env, Path(scratch))
            if loaded is None:
                raise DriftError(
                    f"{state_dir / env} is not committed at HEAD {head_commit}",
                    hint="commit the environment's folder first: drift compares the chain with the committed YAML",
                )
            head = loaded
            applied_commit = last_applied_commit(repository, env)
            applied = _applied_state(repository, applied_commit, state_dir, env, Path(scratch))
            break_glass_paused = break_glass_pause_state(repository, env)

    observation = observe(w3 if w3 is not None else rpc.connect(head.environment), head.environment)
    return DriftInputs(head, head_commit, applied, applied_commit, work_tree, observation, break_glass_paused)


def _work_tree(state_dir: Path, env: str) -> DesiredState | None:
    try:
        return load_state(state_dir, env)
    except DesiredStateError as error:
        log.warning("the work tree's YAML of %s is invalid, so adoption is not checked: %s", env, error.message)
        return None


def _applied_state(repository: git.Repo, commit: str | None, state_dir: Path, env: str, scratch: Path) -> State | None:
    if commit is None:
        return None
    try:
        loaded = load_at_commit(repository, commit, state_dir, env, scratch)
    except DesiredStateError as error:
        log.warning("the YAML of the last applied commit %s does not load, so it is not compared: %s", commit, error.message)
        return None
    return loaded.state if loaded is not None else None


def find_drift(inputs: DriftInputs) -> DriftReport:
    """Classify every difference between the chain and the YAML at HEAD; pure."""
    observation = inputs.observation
    environment = inputs.head.environment
    adopted = _still_differing(inputs.work_tree, observation.state)

    items = []
    for change in diff(inputs.head, observation.state):
        if _scheduled(change, observation.block_timestamp):
            continue
        if _final_edit(change, observation.state):
            category = DriftClass.REJECTED_EDIT
        elif change.kind is Kind.PAUSE and change.operation is Operation.CHANGE and inputs.break_glass_paused is not None:
            # A break-glass pause or unpause after the last apply set the chain's value that the YAML then followed.
            category = DriftClass.OUTSIDE if change.new == inputs.break_glass_paused else DriftClass.PENDING
        else:
            category = _classify(change, inputs.applied)
        items.append(
            DriftItem(
                category=category,
                kind=change.kind.value,
                key=change.key,
                field=change.field,
                yaml_value=_show(change.new, change.field, environment, change.operation),
                chain_value=_show(change.old, change.field, environment, change.operation),
                position=change.position,
                adopted_in_work_tree=adopted is not None and (change.kind, change.key, change.field) not in adopted,
                change=change,
            )
        )
    return DriftReport(
        environment=environment.name,
        block_number=observation.block_number,
        block_hash=observation.block_hash,
        head=inputs.head_commit,
        last_applied=inputs.applied_commit,
        items=tuple(items),
    )


def check_drift(state_dir: Path, env: str, *, w3: Web3 | None = None) -> tuple[DriftReport, DriftInputs]:
    """Read the inputs of ENV and classify its drift."""
    inputs = read_inputs(state_dir, env, w3=w3)
    return find_drift(inputs), inputs


def _still_differing(work_tree: DesiredState | None, observed: State) -> set[tuple[Kind, str, str]] | None:
    if work_tree is None:
        return None
    return {(change.kind, change.key, change.field) for change in diff(work_tree, observed)}


def _scheduled(change: Change, block_timestamp: int) -> bool:
    """Return whether CHANGE is an unpaid coupon cycle that is not due yet, which the chain cannot have."""
    return (
        change.kind is Kind.COUPON_CYCLE
        and change.operation is Operation.ADD
        and change.new.payment_date > block_timestamp
    )


def _final_edit(change: Change, observed: State) -> bool:
    """Return whether CHANGE edits a record that is final on chain: recorded, executed, or a paid cycle."""
    if change.operation is not Operation.CHANGE or change.kind not in FINAL_KINDS:
        return False
    if change.kind is Kind.COUPON_CYCLE:
        cycle = observed.coupon_cycles.get(change.key)
        return cycle is not None and cycle.paid_at is not None
    return True


def _classify(change: Change, applied: State | None) -> DriftClass:
    if change.operation is Operation.REMOVE:
        return DriftClass.OUTSIDE
    if applied is None:
        return DriftClass.PENDING
    item = _collection(applied, change.kind).get(change.key)
    if change.operation is Operation.ADD:
        return DriftClass.OUTSIDE if item is not None else DriftClass.PENDING
    if item is None:
        return DriftClass.PENDING
    return DriftClass.OUTSIDE if _field_value(item, change.field) == change.new else DriftClass.PENDING


def _collection(state: State, kind: Kind) -> Mapping[str, Any]:
    collection: Mapping[str, Any] = getattr(state, kind.value)
    return collection


def _field_value(item: Any, field: str) -> Any:
    if field == "blocked":
        return item.blocked
    if field == "status" and item.status is AllocationStatus.SETTLED:
        return AllocationStatus.BOOKED  # settled satisfies booked
    return getattr(item, field)


def _show(value: Any, field: str, environment: Environment, operation: Operation) -> str:
    if isinstance(value, Pause):
        return "paused" if value.paused else "not paused"
    if operation is not Operation.CHANGE:
        return "absent" if value is None else "present"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if field in TIME_FIELDS and isinstance(value, int):
        return show_time(value)
    if field == "amount" and isinstance(value, int):
        return format_base_units(value, environment.decimals.security_token)
    if field == "price" and isinstance(value, int):
        return format_base_units(value, environment.decimals.usdc) + " USDC"
    return str(value)


# --- adopting the chain's values ----------------------------------------------


@dataclass(frozen=True)
class Adoption:
    """The files `write_adoption` wrote and the differences it adopted or left."""

    files: tuple[Path, ...]
    adopted: tuple[DriftItem, ...]
    not_adoptable: tuple[DriftItem, ...]  # items the chain lacks
    left_out: tuple[LeftOut, ...] = ()  # final records on chain whose values the YAML rules reject

    def describe(self) -> str:
        lines = [f"adopted {len(self.adopted)} on-chain {'value' if len(self.adopted) == 1 else 'values'} in the YAML"]
        lines += [f"wrote {path}" for path in self.files]
        for item in self.not_adoptable:
            lines.append(f"not adopted: {item.target}: the chain lacks this item, so there is no value to adopt")
        lines += [f"not adopted: {record.describe()}" for record in self.left_out]
        return "\n".join(lines)


def write_adoption(report: DriftReport, inputs: DriftInputs, state_dir: Path, env: str) -> Adoption:
    """Write the chain's value of each difference changed outside the reconciler into the work tree's YAML.

    Only the files of the kinds concerned are rewritten, in the committed
    format (comments other than the import header are not kept). Pending
    differences stay as the YAML has them. Raises DriftError when the work
    tree's YAML is invalid or the written files do not load.
    """
    if inputs.work_tree is None:
        raise DriftError(
            f"the YAML of {env} in the work tree is invalid, so drift cannot write into it",
            hint=f"run `jinbi validate --env {env}` and fix the files first",
        )
    outside = report.of(DriftClass.OUTSIDE)
    adoptable = [item for item in outside if item.change is not None and item.change.operation is not Operation.ADD]
    skipped = tuple(item for item in outside if item not in adoptable)
    if not adoptable:
        return Adoption((), (), skipped)

    observation = inputs.observation
    filled, placeholders = fill_unobserved(observation, inputs.work_tree.state)
    merged = _merge(inputs.work_tree.state, filled, [item.change for item in adoptable if item.change is not None])
    used = Placeholders(
        refs=tuple(a for a in placeholders.refs if a in merged.investors and a not in inputs.work_tree.state.investors),
        sanctions=tuple(a for a in placeholders.sanctions if a not in inputs.work_tree.state.sanctions),
        trade_dates=tuple(a for a in placeholders.trade_dates if a not in inputs.work_tree.state.allocations),
    )
    # A final record the YAML rules reject cannot be listed: it stays on chain as drift.
    recorded = {
        (YAML_KINDS[Kind(item.kind)], item.key)
        for item in adoptable
        if YAML_KINDS[Kind(item.kind)] in FINAL_RECORD_KINDS
        and item.change is not None
        and item.change.operation is Operation.REMOVE
    }
    checked = render_checked(
        merged,
        inputs.work_tree.environment,
        observation,
        used,
        Path(inputs.work_tree.files["Environment"]),
        env,
        state_dir / env,
        may_leave_out=lambda kind, key: (kind, key) in recorded,
    )
    texts = checked.texts
    left_keys = {(record.kind, record.key) for record in checked.left_out}
    adoptable = [item for item in adoptable if (YAML_KINDS[Kind(item.kind)], item.key) not in left_keys]
    if not adoptable:
        return Adoption((), (), skipped, checked.left_out)
    kinds = {Kind(item.kind) for item in adoptable}

    written = []
    for kind in sorted(kinds):
        name = KIND_FILES[kind]
        # render_files heads each file with the import's origin line; this writer is drift's.
        text = texts[name].replace("Written by `jinbi import`", "Written by `jinbi drift --write`", 1)
        path = state_dir / env / name
        write_atomically(path, text)
        written.append(path)

    result = read_state(state_dir, env)
    if not result.valid:
        rendered = "\n".join(diagnostic.render() for diagnostic in result.diagnostics)
        raise DriftError(
            f"the adopted YAML of {env} does not load:\n{rendered}",
            hint="the chain holds values the YAML rules reject; fix the files by hand",
        )
    return Adoption(tuple(written), tuple(adoptable), skipped, checked.left_out)


def _merge(current: State, filled: State, changes: Iterable[Change]) -> State:
    """Return CURRENT with each change's on-chain value taken from FILLED, field by field."""
    collections: dict[str, dict[str, Any]] = {kind.value: dict(_collection(current, kind)) for kind in Kind}
    for change in changes:
        items = collections[change.kind.value]
        if change.operation is Operation.REMOVE or change.kind is Kind.PAUSE:
            # A pause adopted from the chain gets the import's reason: the YAML's was for the other state.
            items[change.key] = _collection(filled, change.kind)[change.key]
        elif change.field == "blocked":
            # The chain blocks an address that the YAML delists: adopting it drops delisted_on.
            items[change.key] = replace(items[change.key], delisted_on=None)
        else:
            chain_item = _collection(filled, change.kind)[change.key]
            items[change.key] = replace(items[change.key], **{change.field: getattr(chain_item, change.field)})
    return State(
        investors=collections[Kind.INVESTOR.value],
        sanctions=collections[Kind.SANCTIONS_ENTRY.value],
        allocations=collections[Kind.ALLOCATION.value],
        coupon_cycles=collections[Kind.COUPON_CYCLE.value],
        cap_table_snapshots=collections[Kind.CAP_TABLE_SNAPSHOT.value],
        custody_attestations=collections[Kind.CUSTODY_ATTESTATION.value],
        pause=collections[Kind.PAUSE.value],
        roles=collections[Kind.ROLE.value],
        force_transfers=collections[Kind.FORCE_TRANSFER.value],
    )
