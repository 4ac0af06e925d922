"""Cap-table snapshots and custody attestations -> batched record calls, or the problems of an edit.

Both kinds record a document by its IPFS CID, once. TransferAgentBridge keys
a snapshot by keccak256 of its period and CustodyAttestations an attestation
by keccak256 of its label, and both revert on a key recorded before. A record
in the YAML and not on chain therefore becomes one item of `recordSnapshots`
or `recordAttestations`. A recorded one whose CID or scope the YAML changes is
a problem with a hint, because the correction is a new record under a new
period or label. Records on chain that the YAML lacks are drift, reported with
the other kinds by `reconciler.planning.actions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.model import CapTableSnapshot, CustodyAttestation, State
from reconciler.planning.calls import Function, Stage, stored_strings_gas
from reconciler.planning.changes import Change, Kind, Operation
from reconciler.planning.records import Action, Problem, Verb, show_time

RECORD_KINDS = (Kind.CAP_TABLE_SNAPSHOT, Kind.CUSTODY_ATTESTATION)


@dataclass(frozen=True)
class RecordOutcome:
    actions: tuple[Action, ...]
    problems: tuple[Problem, ...]


def record_actions(observed: State, changes: Sequence[Change]) -> RecordOutcome:
    """Record the new snapshots and attestations of CHANGES, and reject edits of recorded ones."""
    actions: list[Action] = []
    problems: list[Problem] = []
    for change in changes:
        if change.kind not in RECORD_KINDS:
            continue
        if change.operation is Operation.ADD:
            actions.append(_record(change))
        elif change.operation is Operation.CHANGE:
            problems.append(_recorded_edit(observed, change))
    return RecordOutcome(tuple(actions), tuple(problems))


def _record(change: Change) -> Action:
    if change.kind is Kind.CAP_TABLE_SNAPSHOT:
        snapshot: CapTableSnapshot = change.new
        function = Function.RECORD_SNAPSHOTS
        verb = Verb.RECORD_SNAPSHOT
        argument: tuple[str, ...] = (snapshot.period, snapshot.cid)
        description = f"would record the cap table of period {snapshot.period} as CID {snapshot.cid}"
    else:
        attestation: CustodyAttestation = change.new
        function = Function.RECORD_ATTESTATIONS
        verb = Verb.RECORD_ATTESTATION
        argument = (attestation.scope, attestation.label, attestation.cid)
        description = f"would record the {attestation.scope} attestation as CID {attestation.cid}"
    return Action(
        verb=verb,
        stage=Stage.DEPENDENT,
        function=function,
        kind=change.kind,
        key=change.key,
        argument=argument,
        gas=function.spec.item_gas + stored_strings_gas(*argument),
        description=description,
        position=change.position,
        changes=(change,),
    )


def _recorded_edit(observed: State, change: Change) -> Problem:
    if change.kind is Kind.CAP_TABLE_SNAPSHOT:
        recorded_at = observed.cap_table_snapshots[change.key].recorded_at
        new_key = "period"
    else:
        recorded_at = observed.custody_attestations[change.key].attested_at
        new_key = "label"
    noun = change.kind.noun
    return Problem(
        f"{noun} {change.key} was recorded on chain on {show_time(recorded_at)} with {change.field} {change.old}, "
        f"but the YAML has {change.new}; a recorded {noun} cannot be edited",
        f'restore {change.field}: "{change.old}", and record the correction under a new {new_key}, '
        f"such as {change.key}-corrected",
        change.position,
    )
