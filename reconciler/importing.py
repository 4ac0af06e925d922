"""`jinbi import`: write the chain's current state as desired-state YAML.

The observed model (`reconciler.chain.observe`) is written with the desired
state's own writer (`reconciler.desired.dump`). The files therefore read back
to the same values for every field the chain stores, and a plan right after
an import has nothing to do. Fields the chain does not store are taken from
the environment's existing YAML when the same item is there. Otherwise they
get placeholders that validate and are named in a comment at the top of the file:

- an investor's ref: `IMPORTED-0001`, `IMPORTED-0002`, … in address order;
- a sanctions entry's source `IMPORTED`, listed on the date of the pinned block;
- an allocation's trade date: the date of its booking on chain.

The files are checked with the desired-state loader before they are written.
A final record (a cap-table snapshot, a custody attestation, an executed force
transfer) that the YAML rules reject, such as one recorded by hand with a
placeholder CID, is left out of its file and reported: it cannot be corrected
on chain, and a plan shows it as drift. Other problems that come from the chain
itself (an investor without jurisdiction, an id the YAML format cannot spell)
are still written, as the chain has them, and returned as findings.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from web3 import Web3

from reconciler.chain import rpc
from reconciler.chain.observe import Observation, observe
from reconciler.desired import Diagnostic, read_state
from reconciler.desired.dump import dump_allocations, dump_state, write_atomically
from reconciler.desired.schema import FILE_NAMES
from reconciler.desired.values import format_datetime
from reconciler.errors import ChainError, DesiredStateError
from reconciler.model import (
    PAUSE_KEY,
    SECONDS_PER_DAY,
    Allocation,
    AllocationStatus,
    Environment,
    Investor,
    Partition,
    Pause,
    SanctionsEntry,
    State,
)
from reconciler.planning.render_text import printable

log = logging.getLogger(__name__)

REF_PLACEHOLDER_PREFIX = "IMPORTED-"
SOURCE_PLACEHOLDER = "IMPORTED"
# The Reg S lockup in days when the environment file has no policy for it.
DEFAULT_REGS_LOCKUP_DAYS = 40
IMPORTED_KINDS = (
    "Investors",
    "Sanctions",
    "Allocations",
    "CouponCycles",
    "CapTableSnapshots",
    "CustodyAttestations",
    "Pause",
    "Roles",
    "ForceTransfers",
)
PAUSE_REASON_PLACEHOLDER = "imported from the chain"
# The kinds whose items are final once on chain, with the file's top-level key and the State field.
FINAL_RECORD_KINDS = {
    "CapTableSnapshots": ("snapshots", "cap_table_snapshots"),
    "CustodyAttestations": ("attestations", "custody_attestations"),
    "ForceTransfers": ("orders", "force_transfers"),
}


@dataclass(frozen=True)
class LeftOut:
    """A final record on chain that no file can list, because the YAML rules reject its values."""

    kind: str  # a key of FINAL_RECORD_KINDS
    key: str
    problems: tuple[str, ...]  # the loader's messages, each with its hint

    @property
    def file(self) -> str:
        return FILE_NAMES[self.kind]

    def describe(self) -> str:
        if self.kind == "ForceTransfers":
            advice = (
                "The order is executed on chain, so it stays there and plan shows it as drift. Do not write it "
                "again under a new id: that would move the tokens a second time"
            )
        else:
            new_key = "period" if self.kind == "CapTableSnapshots" else "label"
            advice = (
                "The record is final on chain, so it stays there and plan shows it as drift. Record any "
                f"correction under a new {new_key}"
            )
        return printable(f"left out of {self.file}: {self.key}: {'; '.join(self.problems)}. {advice}")


@dataclass(frozen=True)
class Placeholders:
    """The items whose chain-less fields were filled in by the import, by kind."""

    refs: tuple[str, ...] = ()  # investor addresses given an IMPORTED-NNNN ref
    sanctions: tuple[str, ...] = ()  # addresses given source IMPORTED and the block's date
    trade_dates: tuple[str, ...] = ()  # allocation ids given their booking date
    pause_reason: bool = False  # the pause state got the placeholder reason


@dataclass(frozen=True)
class ImportReport:
    """The files `import_state` wrote, and the loader's findings on them."""

    env: str
    out_dir: Path
    observation: Observation
    placeholders: Placeholders
    files: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    left_out: tuple[LeftOut, ...] = field(default=())

    def describe(self) -> str:
        state = self.observation.state
        lines = [
            f"imported chain {self.observation.chain_id} at block {self.observation.block_number} "
            f"({self.observation.block_hash}) into {self.out_dir}",
            f"  {_count(len(state.investors), 'investor')}, "
            f"{_count(len(state.sanctions), 'blocked address', 'blocked addresses')}, "
            f"{_count(len(state.allocations), 'allocation')}, {_count(len(state.coupon_cycles), 'coupon cycle')}, "
            f"{_count(len(state.cap_table_snapshots), 'cap-table snapshot')}, "
            f"{_count(len(state.custody_attestations), 'custody attestation')}, "
            f"{_count(len(state.force_transfers), 'force transfer')}, {_count(len(state.roles), 'role holder')}, "
            f"token {'paused' if any(pause.paused for pause in state.pause.values()) else 'not paused'}",
        ]
        filled = (
            (_count(len(self.placeholders.refs), "investor ref"), f"set to {REF_PLACEHOLDER_PREFIX}NNNN"),
            (
                _count(len(self.placeholders.sanctions), "sanctions entry", "sanctions entries"),
                f"with source {SOURCE_PLACEHOLDER}",
            ),
            (_count(len(self.placeholders.trade_dates), "trade date"), "set to the booking date"),
        )
        for shown, what in filled:
            if not shown.startswith("0 "):
                lines.append(f"  placeholders: {shown} {what}; replace them with the real values")
        if self.left_out:
            lines[-1] += f"; {_count(len(self.left_out), 'final record')} left out (below)"
        lines.extend(f"wrote {path}" for path in self.files)
        lines.extend(record.describe() for record in self.left_out)
        return "\n".join(lines)

    def problem_error(self) -> DesiredStateError:
        """Return the error that reports the loader's findings on the written files."""
        return DesiredStateError(
            f"the files imported into {self.out_dir} are not a valid desired state: "
            f"{_count(len(self.diagnostics), 'error')}",
            diagnostics=self.diagnostics,
            hint="the chain holds values the YAML rules reject; correct them in the files and run "
            f"`jinbi validate --env {self.env}`, then the next apply sends the corrections to the chain",
        )


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def import_state(state_dir: Path, env: str, *, out_dir: Path | None = None, w3: Web3 | None = None) -> ImportReport:
    """Observe ENV's chain and write every imported kind (`IMPORTED_KINDS`) as YAML.

    Files go to OUT_DIR (by default STATE_DIR/ENV), each replaced atomically.
    Raises DesiredStateError when ENV's environment file is invalid, and
    ChainError when the chain cannot be read whole or contains a value the YAML
    format cannot express (a coupon date that is not at 00:00 UTC).
    """
    # The environment file names the chain's RPC URL variable. The other files only lend chain-less fields.
    existing = read_state(state_dir, env)
    environment = existing.environment
    if environment is None:
        raise _invalid_environment(existing.diagnostics, env)
    target = out_dir if out_dir is not None else Path(existing.env_dir)

    observation = observe(w3 if w3 is not None else rpc.connect(environment), environment)

    state, placeholders = fill_unobserved(
        observation, existing.state, regs_lockup_days=environment.policy.regs_lockup_days
    )
    checked = render_checked(
        state, environment, observation, placeholders, Path(existing.files["Environment"]), env, target
    )
    texts, diagnostics = checked.texts, checked.diagnostics

    written = []
    for name, text in texts.items():
        path = target / name
        write_atomically(path, text)
        written.append(path)
    log.info("imported block %s of chain %s into %s", observation.block_number, observation.chain_id, target)
    return ImportReport(
        env, target, observation, placeholders, tuple(written), tuple(diagnostics), checked.left_out
    )


def _invalid_environment(diagnostics: list[Diagnostic], env: str) -> DesiredStateError:
    first = diagnostics[0]
    return DesiredStateError(
        f"{first.file}:{first.line}:{first.column}: {first.message}",
        diagnostics=tuple(diagnostics),
        hint=f"import needs a valid environment file; run `jinbi validate --env {env}` to see every error",
    )


# --- fields the chain does not hold -------------------------------------------


def fill_unobserved(
    observation: Observation, existing: State, *, regs_lockup_days: int = DEFAULT_REGS_LOCKUP_DAYS
) -> tuple[State, Placeholders]:
    """Complete the observed state with refs, sources, listing and trade dates from EXISTING or placeholders.

    A placeholder trade date is the booking's day, or for a Reg S booking the
    last day that its investor's lockup still covers by REGS_LOCKUP_DAYS when
    that is earlier, so the imported files pass the Reg S lockup rule.
    """
    observed = observation.state
    block_date = observation.block_timestamp - observation.block_timestamp % SECONDS_PER_DAY

    investors: dict[str, Investor] = {}
    missing_refs = []
    for address, investor in observed.investors.items():
        known = existing.investors.get(address)
        if known is not None:
            investors[address] = replace(investor, ref=known.ref)
        else:
            missing_refs.append(address)
    used_refs = {investor.ref for investor in existing.investors.values()}
    for address, ref in zip(sorted(missing_refs, key=str.lower), _new_refs(used_refs), strict=False):
        investors[address] = replace(observed.investors[address], ref=ref)

    sanctions: dict[str, SanctionsEntry] = {}
    for address, entry in observed.sanctions.items():
        known_entry = existing.sanctions.get(address)
        if known_entry is not None:
            sanctions[address] = replace(entry, source=known_entry.source, listed_on=known_entry.listed_on)
        else:
            sanctions[address] = replace(entry, source=SOURCE_PLACEHOLDER, listed_on=block_date)

    allocations: dict[str, Allocation] = {}
    for allocation_id, allocation in observed.allocations.items():
        known_allocation = existing.allocations.get(allocation_id)
        if known_allocation is not None:
            allocations[allocation_id] = replace(allocation, trade_date=known_allocation.trade_date)
        else:
            booked_at = int(observation.reads[f"allocations/{allocation_id}/booked_at"])
            trade_date = booked_at - booked_at % SECONDS_PER_DAY
            lockup_until = getattr(observed.investors.get(allocation.investor), "lockup_until", None)
            if allocation.partition is Partition.REG_S and lockup_until:
                latest = lockup_until - regs_lockup_days * SECONDS_PER_DAY
                trade_date = min(trade_date, latest - latest % SECONDS_PER_DAY)
            allocations[allocation_id] = replace(allocation, trade_date=trade_date)

    # The chain stores no reason: keep the YAML's while it says the same, else a placeholder.
    pause: dict[str, Pause] = {}
    known_pause = existing.pause.get(PAUSE_KEY)
    for key, observed_pause in observed.pause.items():
        same = known_pause is not None and known_pause.paused == observed_pause.paused
        pause[key] = replace(observed_pause, reason=known_pause.reason if same and known_pause else PAUSE_REASON_PLACEHOLDER)

    placeholders = Placeholders(
        pause_reason=any(each.reason == PAUSE_REASON_PLACEHOLDER for each in pause.values()),
        refs=tuple(sorted(missing_refs, key=str.lower)),
        sanctions=tuple(sorted((a for a in observed.sanctions if a not in existing.sanctions), key=str.lower)),
        trade_dates=tuple(sorted(a for a in observed.allocations if a not in existing.allocations)),
    )
    state = State(
        investors=investors,
        sanctions=sanctions,
        allocations=allocations,
        coupon_cycles=observed.coupon_cycles,
        cap_table_snapshots=observed.cap_table_snapshots,
        custody_attestations=observed.custody_attestations,
        pause=pause,
        roles=observed.roles,
        force_transfers=observed.force_transfers,
    )
    return state, placeholders


def _new_refs(used_refs: set[str]) -> Iterator[str]:
    """Yield IMPORTED-0001, IMPORTED-0002, … skipping refs in USED_REFS."""
    number = 0
    while True:
        number += 1
        ref = f"{REF_PLACEHOLDER_PREFIX}{number:04d}"
        if ref not in used_refs:
            yield ref


# --- rendering and checking --------------------------------------------------


def render_files(
    state: State, environment: Environment, observation: Observation, placeholders: Placeholders
) -> dict[str, str]:
    """Return file name -> YAML text of the imported kinds, with a header comment in each."""
    _check_coupon_dates(state, observation)
    texts = dump_state(state, environment)
    texts.pop(FILE_NAMES["Environment"], None)
    texts[FILE_NAMES["Allocations"]] = _with_settled_status(
        texts[FILE_NAMES["Allocations"]], state.allocations, environment
    )

    origin = (
        f"# Written by `jinbi import` from chain {observation.chain_id} at block {observation.block_number} "
        f"({observation.block_hash})."
    )
    notes: Mapping[str, list[str]] = {
        "Investors": [
            f"# The chain stores no refs: placeholder refs {REF_PLACEHOLDER_PREFIX}NNNN are given to "
            f"{_count(len(placeholders.refs), 'investor')}. Replace them with the KYC file references."
        ]
        if placeholders.refs
        else [],
        "Sanctions": [
            f"# The chain stores no source or listing date: entries with source {SOURCE_PLACEHOLDER} have "
            f"listed_on set to the date of block {observation.block_number}. Replace both with the list's."
        ]
        if placeholders.sanctions
        else [],
        "Allocations": [
            f"# The chain stores no trade dates: {_count(len(placeholders.trade_dates), 'allocation')} "
            "have the booking date on chain as trade_date (for Reg S, at the latest the lockup end "
            "less the policy's lockup days). Replace it with the date the trade was agreed."
        ]
        if placeholders.trade_dates
        else [],
        "CouponCycles": [],
        "CapTableSnapshots": [],
        "CustodyAttestations": [],
        "Pause": [f"# The chain stores no reason: replace {PAUSE_REASON_PLACEHOLDER!r} with why the token has this state."]
        if placeholders.pause_reason
        else [],
        "Roles": [],
        "ForceTransfers": [],
    }
    rendered = {}
    for kind in IMPORTED_KINDS:
        name = FILE_NAMES[kind]
        if name not in texts:
            continue  # a state without a pause state has no Pause file
        schema_line, rest = texts[name].split("\n", 1)
        rendered[name] = "\n".join([schema_line, origin, *notes[kind], rest])
    return rendered


def _check_coupon_dates(state: State, observation: Observation) -> None:
    for cycle in state.coupon_cycles.values():
        for name, value in (("record_date", cycle.record_date), ("payment_date", cycle.payment_date)):
            if value % SECONDS_PER_DAY:
                raise ChainError(
                    f"coupon cycle {cycle.id} at block {observation.block_number} has {name} "
                    f"{format_datetime(value)}, which is not at 00:00 UTC, so the CouponCycles file cannot hold it",
                    hint="the YAML format has dates only; leave this environment's coupons.yaml as it is "
                    "and record the cycle by hand",
                )


def _with_settled_status(text: str, allocations: Mapping[str, Allocation], environment: Environment) -> str:
    """Add `status: settled` to the lines of settled allocations if the writer left it out."""
    # NOTE: reconciler.desired.dump writes a settled allocation as booked (the default); the
    # Allocations schema now has settled, so this can move into the writer.
    for allocation in allocations.values():
        if allocation.status is not AllocationStatus.SETTLED:
            continue
        line = dump_allocations({allocation.id: allocation}, environment.decimals).rstrip("\n").rsplit("\n", 1)[-1]
        if "status: settled" in line or not line.endswith("}"):
            continue
        text = text.replace(f"{line}\n", f"{line[:-1]}, status: settled}}\n", 1)
    return text


@dataclass(frozen=True)
class Checked:
    """The rendered files, the loader's findings on them and the final records left out."""

    state: State
    texts: dict[str, str]
    diagnostics: tuple[Diagnostic, ...]
    left_out: tuple[LeftOut, ...]


def render_checked(
    state: State,
    environment: Environment,
    observation: Observation,
    placeholders: Placeholders,
    environment_file: Path,
    env: str,
    target: Path,
    *,
    may_leave_out: Callable[[str, str], bool] = lambda kind, key: True,
) -> Checked:
    """Render STATE's files and check them as the loader will read them, next to ENVIRONMENT_FILE.

    A final record that the loader rejects is left out when MAY_LEAVE_OUT
    (kind, key) allows it, and the files are rendered again without it.
    """
    left_out: list[LeftOut] = []
    while True:
        texts = render_files(state, environment, observation, placeholders)
        diagnostics = _check_files(texts, environment_file, env, target)
        rejected = [
            record
            for record in _rejected_records(texts, diagnostics)
            if record.key in getattr(state, FINAL_RECORD_KINDS[record.kind][1]) and may_leave_out(record.kind, record.key)
        ]
        if not rejected:
            return Checked(state, texts, tuple(diagnostics), tuple(left_out))
        left_out += rejected
        state = _without(state, rejected)


def _rejected_records(texts: Mapping[str, str], diagnostics: list[Diagnostic]) -> list[LeftOut]:
    """Return the final records on whose lines the loader reported DIAGNOSTICS."""
    problems: dict[tuple[str, str], list[str]] = {}
    for kind, (section, _) in FINAL_RECORD_KINDS.items():
        name = FILE_NAMES[kind]
        found = [diagnostic for diagnostic in diagnostics if Path(diagnostic.file).name == name]
        if not found or name not in texts:
            continue
        spans = _entry_lines(texts[name], section)
        for diagnostic in found:
            for key, (first, last) in spans.items():
                if first <= diagnostic.line <= last:
                    hint = f" ({diagnostic.hint})" if diagnostic.hint else ""
                    problems.setdefault((kind, key), []).append(diagnostic.message + hint)
    return [LeftOut(kind, key, tuple(dict.fromkeys(messages))) for (kind, key), messages in problems.items()]


def _entry_lines(text: str, section: str) -> dict[str, tuple[int, int]]:
    """Return each entry of the mapping under SECTION with its first and last 1-based line in TEXT."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    entries: list[tuple[str, int]] = []
    for key_node, value_node in root.value:
        if key_node.value == section and isinstance(value_node, yaml.MappingNode):
            entries = [(key.value, key.start_mark.line + 1) for key, _ in value_node.value]
    last_line = text.count("\n") + 1
    ends = [line - 1 for _, line in entries[1:]] + [last_line]
    return {key: (first, end) for (key, first), end in zip(entries, ends, strict=True)}


def _without(state: State, records: list[LeftOut]) -> State:
    """Return STATE without RECORDS."""
    changed: dict[str, dict[str, Any]] = {}
    for record in records:
        attribute = FINAL_RECORD_KINDS[record.kind][1]
        changed.setdefault(attribute, dict(getattr(state, attribute))).pop(record.key)
    return replace(state, **changed)


def _check_files(texts: Mapping[str, str], environment_file: Path, env: str, target: Path) -> list[Diagnostic]:
    """Load TEXTS with the environment file in a scratch folder and return the findings, shown under TARGET."""
    with tempfile.TemporaryDirectory(prefix="jinbi-import-") as scratch:
        folder = Path(scratch) / env
        folder.mkdir()
        (folder / FILE_NAMES["Environment"]).write_text(environment_file.read_text(encoding="utf-8"), encoding="utf-8")
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        result = read_state(Path(scratch), env)
        shown = str(target)
        return [
            replace(
                diagnostic,
                file=diagnostic.file.replace(str(folder), shown),
                message=diagnostic.message.replace(str(folder), shown),
                hint=diagnostic.hint.replace(str(folder), shown),
            )
            for diagnostic in result.diagnostics
        ]
