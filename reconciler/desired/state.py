"""Read state/<env>/ into the model, collecting every problem on the way.

`read_state` never stops at the first problem: it loads every YAML file of
the folder, checks each against the schema of its `kind`, converts the valid
entries and runs the cross-file rules, so one run reports everything.
`load_state` is the strict entry point for commands that act on the state.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.desired.convert import (
    Converted,
    ModelPath,
    convert_allocations,
    convert_coupon_cycles,
    convert_environment,
    convert_investors,
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
    if not _ENV_NAME_RE.fullmatch(env):
        raise ValidationError(
            f"invalid environment name {env!r}",
            hint="an environment is a folder name under the state folder, such as devnet",
        )
    path = state_dir / env
    if not path.is_dir():
        raise ValidationError(
            f"environment folder {path} not found",
            hint=f"create it, or point --state-dir at the folder that holds {env}/",
        )
    return path


def read_state(state_dir: Path, env: str) -> ReadResult:
    """Load, check and convert every state file of ENV; problems are returned, not raised."""
    # Loading builds hundreds of thousands of small acyclic objects; pausing the
    # cyclic garbage collector meanwhile halves the time for a large state.
    with _garbage_collection_paused():
        return _read_state(state_dir, env)


@contextmanager
def _garbage_collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_state(state_dir: Path, env: str) -> ReadResult:
    env_path = environment_dir(state_dir, env)
    diagnostics: list[Diagnostic] = []

    # Load every YAML file and sort the files by kind.
    documents = _load_documents(env_path, diagnostics)

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
    else:
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
    )
    diagnostics.extend(converted.diagnostics)

    # Cross-file rules on what converted.
    files = {kind: document.file for kind, document in documents.items()}
    context = RuleContext(
        env_name=env,
        environment=environment,
        state=state,
        positions=converted.positions,
        files=files,
        invalid_investors=_invalid_addresses(invalid.get("Investors", set()), "investors"),
    )
    diagnostics.extend(check_rules(context))

    return ReadResult(
        env=env,
        env_dir=str(env_path),
        environment=environment,
        state=state,
        positions=converted.positions,
        files=files,
        diagnostics=sorted_diagnostics(diagnostics),
    )


def load_state(state_dir: Path, env: str) -> DesiredState:
    """Read ENV's desired state, raising DesiredStateError when it has any problem."""
    result = read_state(state_dir, env)
    if result.diagnostics or result.environment is None:
        first = result.diagnostics[0]
        more = len(result.diagnostics) - 1
        message = f"{first.file}:{first.line}:{first.column}: {first.message}"
        if more:
            message += f" (and {more} more {'error' if more == 1 else 'errors'})"
        raise DesiredStateError(
            message,
            diagnostics=tuple(result.diagnostics),
            hint=f"run `jinbi validate --env {env}` to see every error with its hint",
        )
    return DesiredState(result.environment, result.state, result.positions, result.files)


def _load_documents(env_path: Path, diagnostics: list[Diagnostic]) -> dict[str, Document]:
    documents: dict[str, Document] = {}
    # The usual file names come first, so a second file of a kind is the one reported.
    usual = set(FILE_NAMES.values())
    paths = sorted(
        (
            path
            for path in env_path.iterdir()
            if path.suffix in YAML_SUFFIXES and path.is_file() and not path.name.startswith(".")
        ),
        key=lambda path: (path.name not in usual, path.name),
    )
    for path in paths:
        document = load_document(path, str(path), schema_for_kind)
        diagnostics.extend(document.diagnostics)
        if document.data is None and document.diagnostics:
            continue  # unreadable: already reported
        problem = _kind_problem(document, documents)
        if problem is not None:
            diagnostics.append(problem)
            continue
        assert document.kind is not None
        documents[document.kind] = document
    log.debug("loaded %s state files from %s", len(documents), env_path)
    return documents


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
