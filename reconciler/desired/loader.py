"""Strict YAML loading that keeps where every key and value was written.

PyYAML follows YAML 1.1, whose implicit typing reads an unquoted 0x… address
as an integer (dropping leading zeros), NO as false and 2026-03-15 as a date.
This loader uses PyYAML only to parse (libyaml's events when available) and
gives each plain, unquoted scalar the type its schema declares at that place:

- a string field keeps the text exactly as written;
- an integer field takes decimal digits with an optional minus sign only (no
  plus sign, exponent, underscore, leading zero or fraction), at most 78
  digits (the length of the largest uint256);
- a boolean field takes only `true` and `false`;
- anything else stays text, so the schema rejects it with the line and a hint;
- empty values, `~` and `null` are null, which no field accepts.

So no value is ever silently converted: an unquoted NO, yes, 0x0012…, 0012 or
2026-03-15 in a text field is kept exactly as written, and in any other field
it is rejected with its line and a hint.

Quoted scalars are always strings. Duplicate keys, aliases, merge keys (`<<`),
explicit tags other than `!!str`, complex keys, multi-document files and
characters YAML forbids (control characters, even in comments) are rejected.
A UTF-8 byte order mark at the start of a file is dropped.
`reconciler.desired.schema` supplies the schema navigation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from reconciler.desired.diagnostics import Diagnostic, SourcePosition, shorten

# libyaml's parser is about 20 times faster than PyYAML's pure-Python one: 0.1 s against
# 1.9 s for 10,000 investors on the benchmark machine. Both emit the same events.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAML_TAG_PREFIX = "tag:yaml.org,2002:"
STR_TAG = YAML_TAG_PREFIX + "str"
_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_INTEGER_RE = re.compile(r"^(0|-?[1-9][0-9]*)$")
# 2**256 - 1 has 78 digits. Longer numbers fit no field, and Python's int() refuses more than 4,300 digits.
MAX_INTEGER_DIGITS = 78
# Characters outside YAML 1.1's printable set, which PyYAML and libyaml reject anywhere in a file.
_NON_PRINTABLE_RE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_CHARACTER_FINDINGS = 10
# A top-level `kind:` line, read from the text of a file the parser rejects.
_KIND_LINE_RE = re.compile(r"^kind:[ \t]*([\"']?)([A-Za-z]+)\1[ \t]*(?:#.*)?$", re.MULTILINE)
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}

RawPath = tuple[str | int, ...]


class ScalarSource(NamedTuple):
    """Position and spelling of a scalar value in its file."""

    line: int
    column: int
    plain: bool  # written without quotes
    text: str  # the characters as written, before typing


class SchemaNavigator(Protocol):
    """Schema lookups the loader needs to type plain scalars."""

    def child(self, schema: Any, key: str) -> Any: ...

    def item(self, schema: Any) -> Any: ...

    def types(self, schema: Any) -> frozenset[str] | None: ...


@dataclass
class Document:
    """One parsed YAML file with the positions of its keys and scalar values."""

    file: str  # the path as shown in messages
    kind: str | None
    data: Any
    values: dict[RawPath, ScalarSource] = field(default_factory=dict)
    keys: dict[RawPath, SourcePosition] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    first_line: str = ""
    # True when the file could not be read or parsed, so `data` is None.
    parse_failed: bool = False
    # For a file that failed to parse: the kind named by its top-level `kind:` line, if one was found.
    guessed_kind: str | None = None
    # Values replaced by null because the loader already reported them (aliases).
    reported: set[RawPath] = field(default_factory=set)

    def value_position(self, path: RawPath) -> SourcePosition:
        """Return where the value at PATH starts, falling back to its key or the nearest parent."""
        source = self.values.get(path)
        if source is not None:
            return SourcePosition(self.file, source.line, source.column)
        return self.key_position(path)

    def key_position(self, path: RawPath) -> SourcePosition:
        """Return where the key of PATH is written, or the nearest parent's key, or line 1."""
        for length in range(len(path), 0, -1):
            position = self.keys.get(path[:length])
            if position is not None:
                return position
        return SourcePosition(self.file, 1, 1)


def type_plain_scalar(text: str, types: frozenset[str] | None) -> Any:
    """Type an unquoted scalar by the JSON types its schema allows at that place (None: unknown)."""
    if text in _NULL_WORDS:
        return None
    if types is not None:
        if "boolean" in types and text in ("true", "false"):
            return text == "true"
        if "integer" in types and _is_integer(text):
            return int(text)
        if "string" in types:
            return text
    # No schema type fits: keep a value the schema can name in its error.
    if text in ("true", "false"):
        return text == "true"
    if _is_integer(text):
        return int(text)
    return text


def _is_integer(text: str) -> bool:
    return len(text.removeprefix("-")) <= MAX_INTEGER_DIGITS and _INTEGER_RE.fullmatch(text) is not None


def _is_long_integer(text: str, types: frozenset[str] | None) -> bool:
    """Tell whether TEXT is a whole number too long to convert at a place where it would be converted."""
    if len(text.removeprefix("-")) <= MAX_INTEGER_DIGITS or not _INTEGER_RE.fullmatch(text):
        return False
    return types is None or "integer" in types or "string" not in types


def load_document(path: Path, file: str, schema_for_kind: Any) -> Document:
    """Parse the YAML file at PATH, shown as FILE in messages.

    SCHEMA_FOR_KIND maps the file's `kind` to (navigator, root schema), or to
    None for an unknown kind, in which case plain scalars get the default
    strict typing. Problems are collected in `Document.diagnostics`, and the
    caller decides what an unknown kind means.
    """
    document = Document(file=file, kind=None, data=None)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"file is not valid UTF-8 ({error.reason})"
        return _failed(document, Diagnostic(file, 1, 1, "yaml.encoding", message, "save it as UTF-8"))
    except OSError as error:
        message = f"cannot read the file: {error.strerror or type(error).__name__}"
        hint = "check the file and its permissions"
        return _failed(document, Diagnostic(file, 1, 1, "file.unreadable", message, hint))
    # Some Windows editors start UTF-8 files with a byte order mark; it carries no content.
    text = text.removeprefix("\ufeff")
    document.first_line = text.split("\n", 1)[0].rstrip("\r")

    # Both parsers stop at the first forbidden character without a line; find every one first.
    forbidden = _forbidden_characters(file, text)
    if forbidden:
        document.guessed_kind = _kind_line(text)
        return _failed(document, *forbidden)
    try:
        events = list(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        document.guessed_kind = _kind_line(text)
        return _failed(document, _syntax_error(file, error))
    except yaml.YAMLError as error:
        document.guessed_kind = _kind_line(text)
        return _failed(document, _reader_error(file, text, error))

    document.kind = _top_level_kind(events)
    lookup = schema_for_kind(document.kind) if document.kind is not None else None
    navigator, schema = lookup if lookup is not None else (_NoSchema(), None)
    builder = _Builder(document, navigator)
    document.data = builder.build_stream(iter(events), schema)
    return document


def _failed(document: Document, *diagnostics: Diagnostic) -> Document:
    document.diagnostics.extend(diagnostics)
    document.parse_failed = True
    return document


def _kind_line(text: str) -> str | None:
    match = _KIND_LINE_RE.search(text)
    return match.group(2) if match else None


def _text_position(text: str, index: int) -> tuple[int, int]:
    """Return the 1-based line and column of the character at INDEX of TEXT."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _forbidden_characters(file: str, text: str) -> list[Diagnostic]:
    """Report each character YAML forbids, up to a limit, then how many more there are."""
    if _NON_PRINTABLE_RE.search(text) is None:
        return []
    findings = []
    matches = list(_NON_PRINTABLE_RE.finditer(text))
    for match in matches[:_MAX_CHARACTER_FINDINGS]:
        line, column = _text_position(text, match.start())
        findings.append(Diagnostic(file, line, column, "yaml.character", *_describe_character(match.group())))
    if len(matches) > _MAX_CHARACTER_FINDINGS:
        more = len(matches) - _MAX_CHARACTER_FINDINGS
        line, column = _text_position(text, matches[_MAX_CHARACTER_FINDINGS].start())
        findings.append(
            Diagnostic(
                file,
                line,
                column,
                "yaml.character",
                f"{more} more characters that YAML does not allow, from here on",
                "delete them, or save the file again as plain UTF-8 text",
            )
        )
    return findings


def _describe_character(char: str) -> tuple[str, str]:
    """Return the message and the hint for a character YAML does not allow."""
    code = f"U+{ord(char):04X}"
    if unicodedata.category(char) == "Cc":
        name = _CONTROL_NAMES.get(ord(char))
        label = f"{code} ({name})" if name else code
        return (
            f"control character {label} is not allowed in YAML",
            "delete it: YAML allows no control characters other than tab, line feed and carriage return, "
            "not even in a comment",
        )
    return f"character {code} is not allowed in YAML", "delete it: YAML does not allow this character anywhere"


def _reader_error(file: str, text: str, error: yaml.YAMLError) -> Diagnostic:
    """Report a parser error without a mark, at the position it names when it names one."""
    position = getattr(error, "position", None)
    line, column = _text_position(text, position) if isinstance(position, int) else (1, 1)
    reason = getattr(error, "reason", None) or str(error)
    return Diagnostic(file, line, column, "yaml.syntax", f"invalid YAML: {reason}", "save the file as plain UTF-8 text")


def _syntax_error(file: str, error: yaml.MarkedYAMLError) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = error.problem or "invalid YAML"
    if error.context:
        problem = f"{problem} ({error.context})"
    hint = "check the indentation (spaces only, no tabs) and the quotes around this place"
    return Diagnostic(file, line, column, "yaml.syntax", f"invalid YAML: {problem}", hint)


def _top_level_kind(events: list[Event]) -> str | None:
    """Return the text of the top-level `kind` value, reading events without building anything."""
    if len(events) < 4 or not isinstance(events[2], MappingStartEvent):
        return None
    depth = 0
    expecting_key = True
    found_kind_key = False
    for event in events[3:]:
        if depth == 0:
            if isinstance(event, MappingEndEvent):
                return None
            if found_kind_key:
                return event.value if isinstance(event, ScalarEvent) else None
            if expecting_key and isinstance(event, ScalarEvent) and event.value == "kind":
                found_kind_key = True
            expecting_key = not expecting_key
        if isinstance(event, CollectionStartEvent):
            depth += 1
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            depth -= 1
    return None


def _line_column(mark: Any) -> tuple[int, int]:
    """Return the 1-based line and column of a parser mark (0-based), or 1, 1 without one."""
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def _shown_tag(tag: str | None) -> str:
    """Write a tag the short way it is usually typed: !!int rather than tag:yaml.org,2002:int."""
    tag = tag or ""
    return "!!" + tag[len(YAML_TAG_PREFIX) :] if tag.startswith(YAML_TAG_PREFIX) else tag


class _NoSchema:
    """Navigation for files whose kind is unknown: every place has unknown types."""

    def child(self, schema: Any, key: str) -> Any:
        return None

    def item(self, schema: Any) -> Any:
        return None

    def types(self, schema: Any) -> frozenset[str] | None:
        return None


class _Builder:
    """Build plain Python values from parser events, recording positions and problems."""

    def __init__(self, document: Document, navigator: SchemaNavigator) -> None:
        self.document = document
        self.navigator = navigator

    def build_stream(self, events: Iterator[Event], schema: Any) -> Any:
        next(events)  # StreamStartEvent
        data: Any = None
        documents = 0
        for event in events:
            if not isinstance(event, DocumentStartEvent):
                continue  # DocumentEndEvent, StreamEndEvent
            documents += 1
            if documents > 1:
                self._error(
                    event.start_mark,
                    "yaml.multiple-documents",
                    "file holds more than one YAML document",
                    "keep one document per file: remove the `---` line and what follows it, or move it to another file",
                )
                return data
            data = self._node(next(events), events, schema, ())
        if documents == 0:
            self.document.diagnostics.append(
                Diagnostic(
                    self.document.file,
                    1,
                    1,
                    "yaml.empty",
                    "file is empty",
                    "write the `kind:` line and the fields of that kind",
                )
            )
        return data

    def _node(self, event: Event, events: Iterator[Event], schema: Any, path: RawPath) -> Any:
        if isinstance(event, AliasEvent):
            self.document.reported.add(path)
            self._error(
                event.start_mark,
                "yaml.alias",
                f"YAML alias *{shorten(str(event.anchor))} is not supported",
                "write the value out in full, so that every value can be read where it stands",
            )
            return None
        if isinstance(event, ScalarEvent):
            return self._scalar(event, schema, path)
        if isinstance(event, MappingStartEvent | SequenceStartEvent) and event.tag is not None:
            self._error(
                event.start_mark,
                "yaml.tag",
                f"explicit YAML tag {_shown_tag(event.tag)} is not supported",
                "remove the tag, because the schema sets the type of every field",
            )
        if isinstance(event, MappingStartEvent):
            return self._mapping(events, schema, path)
        if isinstance(event, SequenceStartEvent):
            return self._sequence(events, schema, path)
        raise AssertionError(f"unexpected YAML event {event!r}")

    def _scalar(self, event: ScalarEvent, schema: Any, path: RawPath) -> Any:
        tag = event.tag
        plain = tag is None and not event.style
        if tag is not None and tag not in (STR_TAG, "!"):
            self._error(
                event.start_mark,
                "yaml.tag",
                f"explicit YAML tag {_shown_tag(tag)} is not supported",
                "remove the tag, because the schema sets the type of every field. Quote a value to make it text",
            )
        line, column = _line_column(event.start_mark)
        self.document.values[path] = ScalarSource(line, column, plain, event.value)
        if not plain:
            return event.value
        types = self.navigator.types(schema)
        if _is_long_integer(event.value, types):
            self.document.reported.add(path)
            digits = len(event.value.removeprefix("-"))
            self._error(
                event.start_mark,
                "yaml.integer-too-long",
                f"{shorten(str(path[-1])) if path else 'value'} is a whole number of {digits:,} digits, "
                f"longer than any field takes",
                f"no field takes a number of more than {MAX_INTEGER_DIGITS} digits (2^256 - 1): check the value",
            )
            return None
        return type_plain_scalar(event.value, types)

    def _mapping(self, events: Iterator[Event], schema: Any, path: RawPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        keys = self.document.keys
        file = self.document.file
        for key_event in events:
            if isinstance(key_event, MappingEndEvent):
                return result
            if not isinstance(key_event, ScalarEvent):
                self._reject_key(key_event, events)
                continue
            key = key_event.value
            mark = key_event.start_mark
            line, column = _line_column(mark)
            if key_event.tag not in (None, STR_TAG, "!"):
                self._error(
                    mark,
                    "yaml.tag",
                    f"explicit YAML tag {_shown_tag(key_event.tag)} is not supported",
                    "remove the tag",
                )
            if key == "<<" and key_event.tag is None and not key_event.style:
                self._error(
                    mark,
                    "yaml.merge-key",
                    "YAML merge keys (<<) are not supported",
                    "write every field of this entry out in full",
                )
                self._skip(next(events), events)
                continue
            key_path = (*path, key)
            first = keys.get(key_path)
            if first is not None:
                self._error(
                    mark,
                    "yaml.duplicate-key",
                    f"duplicate key {shorten(key)}: first on line {first.line}, again on line {line}",
                    "remove one of the two entries; plain YAML would silently keep only the last one",
                )
                self._skip(next(events), events)
                continue
            keys[key_path] = SourcePosition(file, line, column)
            result[key] = self._node(next(events), events, self.navigator.child(schema, key), key_path)
        raise AssertionError("YAML mapping without an end event")

    def _sequence(self, events: Iterator[Event], schema: Any, path: RawPath) -> list[Any]:
        result: list[Any] = []
        item_schema = self.navigator.item(schema)
        for event in events:
            if isinstance(event, SequenceEndEvent):
                return result
            index_path = (*path, len(result))
            line, column = _line_column(event.start_mark)
            self.document.keys[index_path] = SourcePosition(self.document.file, line, column)
            result.append(self._node(event, events, item_schema, index_path))
        raise AssertionError("YAML sequence without an end event")

    def _reject_key(self, key_event: Event, events: Iterator[Event]) -> None:
        shape = "an alias" if isinstance(key_event, AliasEvent) else "a list or a mapping"
        self._error(
            key_event.start_mark,
            "yaml.complex-key",
            f"a mapping key must be text, found {shape}",
            "write the key as a name or as quoted text",
        )
        self._skip(key_event, events)
        self._skip(next(events), events)

    def _skip(self, event: Event, events: Iterator[Event]) -> None:
        """Consume the rest of the node that starts with EVENT."""
        depth = 1 if isinstance(event, CollectionStartEvent) else 0
        while depth:
            inner = next(events)
            if isinstance(inner, CollectionStartEvent):
                depth += 1
            elif isinstance(inner, MappingEndEvent | SequenceEndEvent):
                depth -= 1

    def _error(self, mark: Any, code: str, message: str, hint: str) -> None:
        line, column = _line_column(mark)
        self.document.diagnostics.append(Diagnostic(self.document.file, line, column, code, message, hint))
