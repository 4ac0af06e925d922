"""Import a dated sanctions address list (such as an OFAC SDN extract) into the Sanctions file.

The list is the full set of addresses one source blocks on one date. Compared
with the Sanctions file:

- an address on the list without an entry is added with that source and date;
- a delisted entry whose address is back on the list is relisted from that date;
- an active entry of the same source missing from the list gets `delisted_on`,
  which unblocks it on chain. The entry stays, so git keeps the history;
- entries of other sources are never changed, and every other entry keeps its
  source and dates.

The file is rewritten in the committed format (sorted, EIP-55), so importing
the same list twice changes nothing. Comments in the Sanctions file are not kept.

Because a missing address means "delist", an empty or truncated list would
unblock everything. A list without addresses is therefore rejected. A list
whose file name dates it after today is rejected unless its date is given
explicitly. An import that would delist more entries than the environment's
`policy.max_revocations_per_apply` writes nothing unless `allow_mass_change`
is set.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler.desired.convert import Converted, convert_sanctions
from reconciler.desired.diagnostics import DISPLAY_LIMIT, Diagnostic, sorted_diagnostics
from reconciler.desired.dump import dump_sanctions, write_atomically
from reconciler.desired.loader import Document, load_document
from reconciler.desired.schema import FILE_NAMES, schema_for_kind, validate_document
from reconciler.desired.state import environment_dir, list_state_files, unparsed_kind
from reconciler.desired.values import (
    ValueFormatError,
    format_date,
    parse_account_address,
    parse_date,
)
from reconciler.errors import DesiredStateError, ValidationError
from reconciler.model import SanctionsEntry

log = logging.getLogger(__name__)

_DATE_IN_NAME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
# The limit when the environment file cannot be read; the environment schema's example value.
DEFAULT_MAX_REVOCATIONS = 25
_POLICY_FIELD = ("policy", "max_revocations_per_apply")


@dataclass(frozen=True)
class RevocationLimit:
    """The maximum number of delistings of one import without `allow_mass_change`, and the source of that number."""

    value: int
    source: str  # completes "more than the limit of N (...)"


@dataclass(frozen=True)
class AddressList:
    """The addresses of one dated list, each with the line it was read from."""

    file: str
    list_date: int
    lines: dict[str, int]  # EIP-55 address -> line (JSON: 1-based item number)


@dataclass(frozen=True)
class ImportReport:
    """Changes an import made to the Sanctions file."""

    sanctions_file: str
    source: str
    list_date: int
    added: list[str]
    relisted: list[str]
    delisted: list[str]
    unchanged: int
    written: bool

    @property
    def changed(self) -> bool:
        return bool(self.added or self.relisted or self.delisted)

    def describe(self) -> str:
        day = format_date(self.list_date)
        lines = [f"+ {address} added (listed on {day})" for address in self.added]
        lines += [f"+ {address} relisted (listed on {day})" for address in self.relisted]
        lines += [f"- {address} delisted (delisted on {day})" for address in self.delisted]
        lines.append(
            f"{self.source} list of {day}: {len(self.added)} added, {len(self.relisted)} relisted, "
            f"{len(self.delisted)} delisted, {self.unchanged} unchanged"
        )
        lines.append(f"wrote {self.sanctions_file}" if self.written else f"{self.sanctions_file} left unchanged")
        return "\n".join(lines)


def read_address_list(path: Path, list_date: str | None = None) -> AddressList:
    """Read a list file: one address a line (blank lines and # comments skipped), or a JSON array.

    The list date is LIST_DATE (YYYY-MM-DD) or the first date in the file name,
    and a date from the file name must not be after today (UTC). Every address
    must be valid and must not be the zero address. Mixed case must carry a
    correct EIP-55 checksum, and two spellings of one address are rejected. A
    list without addresses is rejected. A UTF-8 byte order mark at its start is
    dropped.
    """
    file = str(path)
    day = _list_day(path, list_date)
    text = _read_list_text(path).removeprefix("\ufeff")
    items = _json_items(file, text) if path.suffix == ".json" else _text_items(text)

    lines: dict[str, int] = {}
    for line, item in items:
        try:
            address = parse_account_address(item)
        except ValueFormatError as error:
            raise ValidationError(f"{file}:{line}: {_shown_item(item)} {error.message}", hint=error.hint) from None
        if address in lines:
            raise ValidationError(
                f"{file}:{line}: address {item} is already on line {lines[address]} of the list",
                hint="a list names each address once; check the list's source before importing it",
            )
        lines[address] = line
    if not lines:
        raise ValidationError(
            f"list {file} contains no addresses",
            hint="an empty list would delist every entry of its source: check that the file is the whole list",
        )
    return AddressList(file=file, list_date=day, lines=lines)


def _list_day(path: Path, list_date: str | None) -> int:
    """Return the list's date: LIST_DATE, else the first date in the file name, which must not be in the future."""
    date_text = list_date
    if date_text is None:
        match = _DATE_IN_NAME_RE.search(path.name)
        if match is None:
            raise ValidationError(
                f"cannot tell the date of list {path}",
                hint="pass --list-date YYYY-MM-DD, or keep the date in the file name as the OFAC extracts do",
            )
        date_text = match.group(1)
    try:
        day = parse_date(date_text)
    except ValueFormatError as error:
        raise ValidationError(f"list date {date_text} {error.message}", hint=error.hint) from None
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if list_date is None and date_text > today:
        raise ValidationError(
            f"list {path} is dated {date_text} by its file name, which is after today ({today} UTC)",
            hint=f"check the file name; if {date_text} is the list's real date, pass --list-date {date_text}",
        )
    return day


def _read_list_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"list {path} not found", hint="check the path of the list file") from None
    except IsADirectoryError:
        raise ValidationError(
            f"list {path} is a folder", hint="pass the list file itself, such as sanctioned-eth-2024-09-27.txt"
        ) from None
    except UnicodeDecodeError:
        raise ValidationError(f"list {path} is not UTF-8 text", hint="pass a text or JSON list of addresses") from None
    except OSError as error:
        raise ValidationError(
            f"cannot read list {path}: {error.strerror or type(error).__name__}",
            hint="check the file and its permissions",
        ) from None


def _shown_item(item: str) -> str:
    if len(item) <= DISPLAY_LIMIT:
        return repr(item)
    return f"{item[:DISPLAY_LIMIT]!r}… ({len(item):,} characters)"


def _text_items(text: str) -> list[tuple[int, str]]:
    items = []
    for number, raw in enumerate(text.splitlines(), start=1):
        item = raw.strip()
        if item and not item.startswith("#"):
            items.append((number, item))
    return items


def _json_items(file: str, text: str) -> list[tuple[int, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if text.rstrip().endswith("]"):
            hint = 'write a JSON array of address strings, such as ["0x…", "0x…"]'
        else:
            hint = "the file does not end with ], so it looks truncated: download the list again"
        raise ValidationError(f"{file}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}", hint=hint) from None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ValidationError(
            f"{file}: JSON list is not an array of address strings", hint='write an array such as ["0x…", "0x…"]'
        )
    return [(index, item.strip()) for index, item in enumerate(data, start=1)]


def import_sanctions(
    state_dir: Path,
    env: str,
    list_path: Path,
    *,
    source: str = "OFAC-SDN",
    list_date: str | None = None,
    allow_mass_change: bool = False,
) -> ImportReport:
    """Merge the list at LIST_PATH into ENV's Sanctions file and rewrite it when anything changed.

    Raises ValidationError, and writes nothing, when the import would delist
    more entries than the environment's revocation limit and ALLOW_MASS_CHANGE
    is false.
    """
    if not _SOURCE_RE.fullmatch(source):
        raise ValidationError(
            f"invalid source {source!r}",
            hint="a source is 1 to 64 letters, digits, '.', '_', '/' or '-', such as OFAC-SDN",
        )
    env_path = environment_dir(state_dir, env)
    address_list = read_address_list(list_path, list_date)

    # Read the current entries; an invalid Sanctions file is never rewritten.
    document, environment_document = _find_documents(env_path)
    path = Path(document.file) if document is not None else env_path / FILE_NAMES["Sanctions"]
    current = _read_entries(document) if document is not None else {}
    _reject_older_list(current, source, address_list, str(path))

    # A list that leaves out many addresses is more likely damaged than a mass delisting.
    merged, report = _merge(current, source, address_list, str(path))
    if report.delisted and not allow_mass_change:
        _check_delistings(report, _revocation_limit(environment_document, env_path), address_list)
    text = dump_sanctions(merged)
    old_text = path.read_text(encoding="utf-8") if path.exists() else None
    written = text != old_text
    if written:
        write_atomically(path, text)
        log.info("wrote %s", path)
    return replace(report, written=written)


def _find_documents(env_path: Path) -> tuple[Document | None, Document | None]:
    """Return the Sanctions and the Environment file of ENV_PATH, each None when absent.

    The Environment file is returned even when it failed to parse. Raises
    DesiredStateError when an entry of the folder cannot be read, or a file
    that fails to parse may be the Sanctions file, because writing a new
    Sanctions file next to it would lose its entries.
    """
    paths, findings = list_state_files(env_path)
    if findings:
        raise _state_error(findings, "fix the environment folder first (jinbi validate lists every problem)")
    found: dict[str, Document] = {}
    for path in paths:
        document = load_document(path, str(path), schema_for_kind)
        kind = unparsed_kind(document) if document.parse_failed else document.kind
        if document.parse_failed and kind in (None, "Sanctions"):
            raise _state_error(
                document.diagnostics,
                "fix this file first: it may be the Sanctions file, so the import did not write one",
            )
        if kind is not None:
            found.setdefault(kind, document)
    return found.get("Sanctions"), found.get("Environment")


def _state_error(problems: Sequence[Diagnostic], hint: str) -> DesiredStateError:
    ordered = sorted_diagnostics(problems)
    first = ordered[0]
    return DesiredStateError(
        f"{first.file}:{first.line}:{first.column}: {first.message}", diagnostics=tuple(ordered), hint=hint
    )


def _read_entries(document: Document) -> dict[str, SanctionsEntry]:
    findings, invalid = validate_document(document)
    converted = Converted()
    entries = convert_sanctions(document, invalid, converted)
    problems = [*document.diagnostics, *findings, *converted.diagnostics]
    if problems:
        hint = "fix the Sanctions file first (jinbi validate lists every error); it was not changed"
        raise _state_error(problems, hint)
    return entries


def _revocation_limit(document: Document | None, env_path: Path) -> RevocationLimit:
    """Read policy.max_revocations_per_apply from the Environment file, or fall back to the default."""
    if document is None:
        reason = f"no Environment file was found in {env_path}"
    elif document.parse_failed:
        reason = f"{document.file} could not be parsed"
    else:
        _, invalid = validate_document(document)
        policy = document.data.get("policy") if isinstance(document.data, dict) else None
        value = policy.get(_POLICY_FIELD[1]) if isinstance(policy, dict) else None
        # Errors elsewhere in the file, even at its top level, leave this value usable.
        if isinstance(value, int) and not any(path and path == _POLICY_FIELD[: len(path)] for path in invalid):
            return RevocationLimit(value, f"policy.max_revocations_per_apply in {document.file}")
        reason = f"policy.max_revocations_per_apply in {document.file} is missing or invalid"
    log.warning("using the default revocation limit %s, because %s", DEFAULT_MAX_REVOCATIONS, reason)
    return RevocationLimit(DEFAULT_MAX_REVOCATIONS, f"the default, because {reason}")


def _check_delistings(report: ImportReport, limit: RevocationLimit, address_list: AddressList) -> None:
    count = len(report.delisted)
    if count <= limit.value:
        return
    raise ValidationError(
        f"list {address_list.file} would delist {count} {report.source} entries, more than the limit of "
        f"{limit.value} ({limit.source}); nothing was written",
        hint="a truncated or incomplete list delists every address it leaves out, so check the list; "
        "if these delistings are intended, import it again with --allow-mass-change",
    )


def _reject_older_list(current: dict[str, SanctionsEntry], source: str, address_list: AddressList, file: str) -> None:
    """Reject a list older than the newest change of its source, which would undo later listings."""
    dates = [
        day
        for entry in current.values()
        if entry.source == source
        for day in (entry.listed_on, entry.delisted_on)
        if day is not None
    ]
    if dates and address_list.list_date < max(dates):
        raise ValidationError(
            f"list {address_list.file} is dated {format_date(address_list.list_date)}, before the newest "
            f"{source} change in {file} ({format_date(max(dates))})",
            hint="import lists in date order: an older list would delist addresses listed since",
        )


def _merge(
    current: dict[str, SanctionsEntry], source: str, address_list: AddressList, file: str
) -> tuple[dict[str, SanctionsEntry], ImportReport]:
    day = address_list.list_date
    merged = dict(current)
    added: list[str] = []
    relisted: list[str] = []
    delisted: list[str] = []
    for address in address_list.lines:
        entry = current.get(address)
        if entry is None:
            merged[address] = SanctionsEntry(address, source, listed_on=day)
            added.append(address)
        elif not entry.blocked:
            merged[address] = SanctionsEntry(address, source, listed_on=day)
            relisted.append(address)
    for address, entry in current.items():
        if entry.source == source and entry.blocked and address not in address_list.lines:
            merged[address] = replace(entry, delisted_on=day)
            delisted.append(address)
    order = str.lower
    report = ImportReport(
        sanctions_file=file,
        source=source,
        list_date=day,
        added=sorted(added, key=order),
        relisted=sorted(relisted, key=order),
        delisted=sorted(delisted, key=order),
        unchanged=len(current) - len(relisted) - len(delisted),
        written=False,
    )
    return merged, report
