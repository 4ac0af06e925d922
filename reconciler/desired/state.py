"""Read state/<env>/ into the model, collecting every problem on the way.

`read_state` never stops at the first problem: it loads every YAML file of
the folder, checks each against the schema of its `kind`, converts the valid
entries and runs the cross-file rules, so one run reports everything. Even a
missing environment folder is a finding. Rules that compare with a file that
could not be parsed are skipped, and one finding names the skipped checks.
`load_state` is the strict entry point for commands that act on the state.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.desired.convert import (
    Converted,
    ModelPath,
    convert_allocations,
    convert_cap_table_snapshots,
    convert_coupon_cycles,
    convert_custody_attestations,
    convert_environment,
    convert_force_transfers,
    convert_investors,
    convert_pause,
    convert_roles,
    convert_sanctions,
    default_decimals,
)
from reconciler.desired.diagnostics import Diagnostic, SourcePosition, sorted_diagnostics
from reconciler.desired.loader import Document, RawPath, load_document
from reconciler.desired.rules import RuleContext, check_rules
from reconciler.desired.schema import FILE_NAMES, SCHEMA_FILES, check_schema_line, schema_for_kind, validate_document
from reconciler.desired.values import ValueFormatError, parse_address
from reconciler.errors import DesiredStateError, ValidationError
from reconciler.model import Environment, State

log = logging.getLogger(__name__)

_ENV_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ReadResult:
    """Everything read from one environment folder, valid or not."""

    env: str
    env_dir: str  # the folder as displayed in messages
    environment: Environment | None
    state: State
    positions: Mapping[ModelPath, SourcePosition]
    files: Mapping[str, str]  # kind -> file as displayed
    diagnostics: list[Diagnostic]  # sorted by file, line and column

    @property
    def valid(self) -> bool:
        return not self.diagnostics

    def counts(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "investors": len(self.state.investors),
            "sanctions_entries": len(self.state.sanctions),
            "allocations": len(self.state.allocations),
            "coupon_cycles": len(self.state.coupon_cycles),
            "cap_table_snapshots": len(self.state.cap_table_snapshots),
            "custody_attestations": len(self.state.custody_attestations),
            "role_holders": len(self.state.roles),
            "force_transfers": len(self.state.force_transfers),
        }


@dataclass(frozen=True)
class DesiredState:
    """A valid desired state: the environment, the managed collections and where each value was written."""

    environment: Environment
    state: State
    positions: Mapping[ModelPath, SourcePosition]
    files: Mapping[str, str]


def environment_dir(state_dir: Path, env: str) -> Path:
    """Return state_dir/env, raising ValidationError for an unusable name or a missing folder."""
    problem = _environment_dir_problem(state_dir, env)
    if problem is not None:
        _, message, hint = problem
        raise ValidationError(message, hint=hint)
    return state_dir / env


def _environment_dir_problem(state_dir: Path, env: str) -> tuple[str, str, str] | None:
    """Return the code, message and hint of an unusable environment name or a missing folder."""
    if not _ENV_NAME_RE.fullmatch(env):
        return (
            "environment.invalid-name",
            f"invalid environment name {env!r}",
            "an environment is a folder name under the state folder, such as devnet",
        )
    path = state_dir / env
    if not path.is_dir():
        return (
            "environment.not-found",
            f"environment folder {path} not found",
            f"create it, or point --state-dir at the folder that holds {env}/",
        )
    return None


def read_state(state_dir: Path, env: str) -> ReadResult:
    """Load, check and convert every state file of ENV; problems are returned, not raised.

    A missing or unusable environment folder is returned as the only finding,
    at line 1 of the folder's path.
    """
    problem = _environment_dir_problem(state_dir, env)
    if problem is not None:
        env_dir = str(state_dir / env)
        return ReadResult(env, env_dir, None, State(), {}, {}, [Diagnostic(env_dir, 1, 1, *problem)])
    # Loading builds hundreds of thousands of small acyclic objects; pausing the
    # cyclic garbage collector meanwhile halves the time for a large state.
    with _garbage_collection_paused():
        return _read_state(state_dir / env, env)


@contextmanager
def _garbage_collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_state(env_path: Path, env: str) -> ReadResult:
    diagnostics: list[Diagnostic] = []

    # Load every YAML file and sort the files by kind.
    documents, unparsed = _load_documents(env_path, diagnostics)

    # Check each file against the schema of its kind.
    invalid: dict[str, set[RawPath]] = {}
    for kind, document in documents.items():
        findings, invalid[kind] = validate_document(document)
        diagnostics.extend(findings)
        diagnostics.extend(check_schema_line(document, SCHEMA_FILES[kind]))

    # Convert the valid entries; the environment's decimals govern the amounts.
    converted = Converted()
    environment = None
    if "Environment" in documents:
        environment = convert_environment(documents["Environment"], invalid["Environment"], converted)
    elif "Environment" not in unparsed:
        diagnostics.append(
            Diagnostic(
                str(env_path),
                1,
                1,
                "environment.missing",
                f"no Environment file in {env_path}",
                "run `jinbi devnet up` for devnet, or write environment.yaml with kind: Environment",
            )
        )
    decimals = environment.decimals if environment is not None else default_decimals()
    state = State(
        investors=(
            convert_investors(documents["Investors"], invalid["Investors"], converted)
            if "Investors" in documents
            else {}
        ),
        sanctions=(
            convert_sanctions(documents["Sanctions"], invalid["Sanctions"], converted)
            if "Sanctions" in documents
            else {}
        ),
        allocations=(
            convert_allocations(documents["Allocations"], invalid["Allocations"], decimals, converted)
            if "Allocations" in documents
            else {}
        ),
        coupon_cycles=(
            convert_coupon_cycles(documents["CouponCycles"], invalid["CouponCycles"], decimals, converted)
            if "CouponCycles" in documents
            else {}
        ),
        cap_table_snapshots=(
            convert_cap_table_snapshots(documents["CapTableSnapshots"], invalid["CapTableSnapshots"], converted)
            if "CapTableSnapshots" in documents
            else {}
        ),
        custody_attestations=(
            convert_custody_attestations(documents["CustodyAttestations"], invalid["CustodyAttestations"], converted)
            if "CustodyAttestations" in documents
            else {}
        ),
        pause=convert_pause(documents["Pause"], invalid["Pause"], converted) if "Pause" in documents else {},
        roles=convert_roles(documents["Roles"], invalid["Roles"], converted) if "Roles" in documents else {},
        force_transfers=(
            convert_force_transfers(documents["ForceTransfers"], invalid["ForceTransfers"], decimals, converted)
            if "ForceTransfers" in documents
            else {}
        ),
    )
    diagnostics.extend(converted.diagnostics)

    # Cross-file rules on what converted, except those that need a file that failed to parse.
    files = {kind: document.file for kind, document in documents.items()}
    context = RuleContext(
        env_name=env,
        environment=environment,
        state=state,
        positions=converted.positions,
        files=files,
        invalid_investors=_invalid_addresses(invalid.get("Investors", set()), "investors"),
        unparsed_kinds=frozenset(unparsed),
    )
    diagnostics.extend(check_rules(context))
    if state.allocations:
        diagnostics.extend(_skipped_rules(unparsed))

    return ReadResult(
        env=env,
        env_dir=str(env_path),
        environment=environment,
        state=state,
        positions=converted.positions,
        files=files,
        diagnostics=sorted_diagnostics(diagnostics),
    )


def read_environment(
    state_dir: Path, env: str, *, purpose: str, valid_kinds: Iterable[str] = (), strict: bool = True
) -> tuple[Environment, ReadResult]:
    """Read ENV's state files and return the environment with everything read.

    For read-only commands that need the environment's addresses but not a
    valid desired state. Raises DesiredStateError when the environment file,
    or the file of any kind in VALID_KINDS (such as "CouponCycles"), has a
    finding, because a command would otherwise act on values that `jinbi
    validate` rejects. Findings in other files are returned, not raised.
    PURPOSE names the command in the hint, such as "the check". With STRICT
    false, only an environment file that cannot be read at all raises: the
    break-glass pause must work even when a finding elsewhere in the file
    (a duplicate key under `checks:`) would stop every other command.
    """
    result = read_state(state_dir, env)
    if result.environment is None:
        findings = result.diagnostics
    elif not strict:
        findings = []
    else:
        findings = kind_findings(result, ("Environment", *valid_kinds))
    if findings or result.environment is None:
        hint = f"{purpose} needs a valid {_kind_names(valid_kinds)}; run `jinbi validate --env {env}` to see every error"
        raise _findings_error(findings, hint)
    return result.environment, result


def kind_findings(result: ReadResult, kinds: Iterable[str]) -> list[Diagnostic]:
    """Return the findings of RESULT located in the file of each of KINDS.

    A kind whose file failed to parse is looked up under its usual name, such as coupons.yaml.
    """
    files = {result.files.get(kind, str(Path(result.env_dir) / FILE_NAMES[kind])) for kind in kinds}
    return [diagnostic for diagnostic in result.diagnostics if diagnostic.file in files]


def _kind_names(valid_kinds: Iterable[str]) -> str:
    names = ["environment file", *(FILE_NAMES[kind] for kind in valid_kinds)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _findings_error(findings: Sequence[Diagnostic], hint: str) -> DesiredStateError:
    """Return the error for FINDINGS: the first as file:line:col and the count of the others, with all attached."""
    first = findings[0]
    more = len(findings) - 1
    message = f"{first.file}:{first.line}:{first.column}: {first.message}"
    if more:
        message += f" (and {more} more {'error' if more == 1 else 'errors'})"
    return DesiredStateError(message, diagnostics=tuple(findings), hint=hint)


def load_state(state_dir: Path, env: str) -> DesiredState:
    """Read ENV's desired state, raising DesiredStateError when it has any problem.

    A missing environment folder raises ValidationError with its hint, as `environment_dir` does.
    """
    environment_dir(state_dir, env)
    result = read_state(state_dir, env)
    if result.diagnostics or result.environment is None:
        raise _findings_error(
            result.diagnostics, f"run `jinbi validate --env {env}` to see every error with its hint"
        )
    return DesiredState(result.environment, result.state, result.positions, result.files)


def list_state_files(env_path: Path) -> tuple[list[Path], list[Diagnostic]]:
    """Return the YAML files of ENV_PATH, and a finding for each other entry named like a YAML file.

    Such entries are a name ending in .YAML or .Yml, a folder, a broken
    symbolic link or anything else that is not a regular file. Hidden names
    are skipped. The usual file names come first, so that a second file of a
    kind is the one reported.
    """
    usual = set(FILE_NAMES.values())
    paths = []
    findings = []
    for path in sorted(env_path.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in YAML_SUFFIXES:
            continue
        problem = _entry_problem(path)
        if problem is None:
            paths.append(path)
        else:
            findings.append(Diagnostic(str(path), 1, 1, *problem))
    paths.sort(key=lambda path: (path.name not in usual, path.name))
    return paths, findings


def _entry_problem(path: Path) -> tuple[str, str, str] | None:
    """Return the code, message and hint of a YAML-named entry that is not read as a state file."""
    if path.suffix not in YAML_SUFFIXES:
        return (
            "file.suffix",
            f"file is not read, because its suffix {path.suffix} is not lower case",
            f"rename it to {path.stem}{path.suffix.lower()}",
        )
    try:
        path.stat()
    except OSError as error:
        if path.is_symlink() and error.errno == errno.ENOENT:
            message = f"symbolic link to {os.readlink(path)}, which does not exist"
        elif path.is_symlink() and error.errno == errno.ELOOP:
            message = "symbolic link that leads back to itself (a link loop)"
        else:
            message = f"cannot read the file: {error.strerror or type(error).__name__}"
        return "file.unreadable", message, "point the link at the state file, or remove it"
    if path.is_dir():
        return "file.not-a-file", "a folder named like a state file", "move it out of the environment folder"
    if not path.is_file():
        return "file.not-a-file", "not a regular file", "replace it with a plain YAML file, or remove it"
    return None


def _load_documents(env_path: Path, diagnostics: list[Diagnostic]) -> tuple[dict[str, Document], dict[str, str]]:
    """Load the state files of ENV_PATH by kind; also return kind -> file for the files that failed to parse."""
    documents: dict[str, Document] = {}
    unparsed: dict[str, str] = {}
    paths, findings = list_state_files(env_path)
    diagnostics.extend(findings)
    for path in paths:
        document = load_document(path, str(path), schema_for_kind)
        diagnostics.extend(document.diagnostics)
        if document.parse_failed:
            kind = unparsed_kind(document)
            if kind is not None:
                unparsed.setdefault(kind, document.file)
            continue
        if document.data is None and document.diagnostics:
            continue  # an empty file: already reported
        problem = _kind_problem(document, documents)
        if problem is not None:
            diagnostics.append(problem)
            continue
        assert document.kind is not None
        documents[document.kind] = document
    log.debug("loaded %s state files from %s", len(documents), env_path)
    return documents, unparsed


def unparsed_kind(document: Document) -> str | None:
    """Return the likely kind of a file that failed to parse: from its `kind:` line, else from its usual name."""
    if document.guessed_kind in SCHEMA_FILES:
        return document.guessed_kind
    name = Path(document.file).name
    return next((kind for kind, usual in FILE_NAMES.items() if usual == name), None)


# The checks skipped when the file of each kind failed to parse.
_SKIPPED_CHECKS = {
    "Environment": "allocations were not checked against the Reg S lockup policy",
    "Investors": "allocations were not checked against their investors",
    "Sanctions": "allocations were not checked against blocked addresses",
}


def _skipped_rules(unparsed: Mapping[str, str]) -> Iterator[Diagnostic]:
    for kind, file in sorted(unparsed.items()):
        if kind in _SKIPPED_CHECKS:
            yield Diagnostic(
                file,
                1,
                1,
                "rules.skipped",
                f"{_SKIPPED_CHECKS[kind]}, because this {kind} file could not be parsed",
                "fix the YAML errors of this file and validate again to run those checks",
            )


def _kind_problem(document: Document, documents: Mapping[str, Document]) -> Diagnostic | None:
    kinds = ", ".join(SCHEMA_FILES)
    position = document.value_position(("kind",))
    if document.kind is None:
        return Diagnostic.at(
            document.key_position(()),
            "kind.missing",
            "file has no kind",
            f"add a top-level kind: line with one of {kinds}",
        )
    if document.kind not in SCHEMA_FILES:
        return Diagnostic.at(position, "kind.unknown", f"unknown kind {document.kind}", f"use one of {kinds}")
    other = documents.get(document.kind)
    if other is not None:
        return Diagnostic.at(
            position,
            "kind.duplicate",
            f"kind {document.kind} is already defined in {other.file}",
            "keep all entries of one kind in one file",
        )
    return None


def _invalid_addresses(invalid: set[RawPath], collection: str) -> frozenset[str]:
    addresses = set()
    for path in invalid:
        if len(path) >= 2 and path[0] == collection:
            try:
                addresses.add(parse_address(str(path[1])))
            except ValueFormatError:
                continue
    return frozenset(addresses)
