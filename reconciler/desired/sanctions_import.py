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
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.desired.convert import Converted, convert_sanctions
from reconciler.desired.diagnostics import sorted_diagnostics
from reconciler.desired.dump import dump_sanctions, write_atomically
from reconciler.desired.loader import Document, load_document
from reconciler.desired.schema import FILE_NAMES, schema_for_kind, validate_document
from reconciler.desired.state import YAML_SUFFIXES, environment_dir
from reconciler.desired.values import ValueFormatError, format_date, parse_address, parse_date
from reconciler.errors import DesiredStateError, ValidationError
from reconciler.model import SanctionsEntry

log = logging.getLogger(__name__)

_DATE_IN_NAME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


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

    The list date is LIST_DATE (YYYY-MM-DD) or the first date in the file name.
    Every address must be valid; mixed case must carry a correct EIP-55
    checksum, and two spellings of one address are rejected.
    """
    file = str(path)
    date_text = list_date
    if date_text is None:
        match = _DATE_IN_NAME_RE.search(path.name)
        if match is None:
            raise ValidationError(
                f"cannot tell the date of list {file}",
                hint="pass --list-date YYYY-MM-DD, or keep the date in the file name as the OFAC extracts do",
            )
        date_text = match.group(1)
    try:
        day = parse_date(date_text)
    except ValueFormatError as error:
        raise ValidationError(f"list date {date_text} {error.message}", hint=error.hint) from None

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"list {file} not found", hint="check the path of the list file") from None
    except UnicodeDecodeError:
        raise ValidationError(f"list {file} is not UTF-8 text", hint="pass a text or JSON list of addresses") from None
    items = _json_items(file, text) if path.suffix == ".json" else _text_items(text)

    lines: dict[str, int] = {}
    for line, item in items:
        try:
            address = parse_address(item)
        except ValueFormatError as error:
            raise ValidationError(f"{file}:{line}: {item!r} {error.message}", hint=error.hint) from None
        if address in lines:
            raise ValidationError(
                f"{file}:{line}: address {item} is already on line {lines[address]} of the list",
                hint="a list names each address once; check the list's source before importing it",
            )
        lines[address] = line
    return AddressList(file=file, list_date=day, lines=lines)


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
        raise ValidationError(f"{file}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
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
) -> ImportReport:
    """Merge the list at LIST_PATH into ENV's Sanctions file and rewrite it when anything changed."""
    if not _SOURCE_RE.fullmatch(source):
        raise ValidationError(
            f"invalid source {source!r}",
            hint="a source is 1 to 64 letters, digits, '.', '_', '/' or '-', such as OFAC-SDN",
        )
    env_path = environment_dir(state_dir, env)
    address_list = read_address_list(list_path, list_date)

    # Read the current entries; an invalid Sanctions file is never rewritten.
    document = _find_sanctions_file(env_path)
    path = Path(document.file) if document is not None else env_path / FILE_NAMES["Sanctions"]
    current = _read_entries(document) if document is not None else {}
    _reject_older_list(current, source, address_list, str(path))

    merged, report = _merge(current, source, address_list, str(path))
    text = dump_sanctions(merged)
    old_text = path.read_text(encoding="utf-8") if path.exists() else None
    written = text != old_text
    if written:
        write_atomically(path, text)
        log.info("wrote %s", path)
    return replace(report, written=written)


def _find_sanctions_file(env_path: Path) -> Document | None:
    for path in sorted(env_path.iterdir()):
        if path.suffix not in YAML_SUFFIXES or not path.is_file() or path.name.startswith("."):
            continue
        document = load_document(path, str(path), schema_for_kind)
        if document.kind == "Sanctions":
            return document
    return None


def _read_entries(document: Document) -> dict[str, SanctionsEntry]:
    findings, invalid = validate_document(document)
    converted = Converted()
    entries = convert_sanctions(document, invalid, converted)
    problems = sorted_diagnostics([*document.diagnostics, *findings, *converted.diagnostics])
    if problems:
        first = problems[0]
        raise DesiredStateError(
            f"{first.file}:{first.line}:{first.column}: {first.message}",
            diagnostics=tuple(problems),
            hint="fix the Sanctions file first (jinbi validate lists every error); it was not changed",
        )
    return entries


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
