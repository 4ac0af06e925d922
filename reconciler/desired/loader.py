"""Strict YAML loading that keeps where every key and value was written.

PyYAML follows YAML 1.1, whose implicit typing reads an unquoted 0x… address
as an integer (dropping leading zeros), NO as false and 2026-03-15 as a date.
This loader uses PyYAML only to parse (libyaml's events when available) and
gives each plain, unquoted scalar the type its schema declares at that place:

- a string field keeps the text exactly as written;
- an integer field takes decimal digits with an optional minus sign only (no
  plus sign, exponent, underscore, leading zero or fraction);
- a boolean field takes only `true` and `false`;
- anything else stays text, so the schema rejects it with the line and a hint;
- empty values, `~` and `null` are null, which no field accepts.

Quoted scalars are always strings. Duplicate keys, aliases, merge keys (`<<`),
explicit tags other than `!!str`, complex keys and multi-document files are
rejected. `reconciler.desired.schema` supplies the schema navigation.
"""

from __future__ import annotations

import re
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

from reconciler.desired.diagnostics import Diagnostic, SourcePosition

# libyaml's parser is about 20 times faster than PyYAML's pure-Python one: 0.1 s against
# 1.9 s for 10,000 investors on the benchmark machine. Both emit the same events.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAML_TAG_PREFIX = "tag:yaml.org,2002:"
STR_TAG = YAML_TAG_PREFIX + "str"
_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_INTEGER_RE = re.compile(r"^(0|-?[1-9][0-9]*)$")

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
        if "integer" in types and _INTEGER_RE.fullmatch(text):
            return int(text)
        if "string" in types:
            return text
    # No schema type fits: keep a value the schema can name in its error.
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER_RE.fullmatch(text):
        return int(text)
    return text


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
        document.diagnostics.append(
            Diagnostic(file, 1, 1, "yaml.encoding", f"file is not valid UTF-8 ({error.reason})", "save it as UTF-8")
        )
        return document
    document.first_line = text.split("\n", 1)[0].rstrip("\r")

    try:
        events = list(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as error:
        document.diagnostics.append(_syntax_error(file, error))
        return document

    document.kind = _top_level_kind(events)
    lookup = schema_for_kind(document.kind) if document.kind is not None else None
    navigator, schema = lookup if lookup is not None else (_NoSchema(), None)
    builder = _Builder(document, navigator)
    document.data = builder.build_stream(iter(events), schema)
    return document


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
                f"YAML alias *{event.anchor} is not supported",
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
        value = type_plain_scalar(event.value, self.navigator.types(schema)) if plain else event.value
        line, column = _line_column(event.start_mark)
        self.document.values[path] = ScalarSource(line, column, plain, event.value)
        return value

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
                    f"duplicate key {key}: first on line {first.line}, again on line {line}",
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
