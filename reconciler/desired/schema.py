"""JSON Schema (2020-12) validation of state files, with errors mapped to YAML lines.

The schemas in schemas/ are the single description of each kind. Editors use
them through the `yaml-language-server` line, and the loader uses them to type
plain scalars. `validate_document` checks a loaded file against them with
format checking on, strict integers (1000.0 is not an integer) and ECMA-262's
`$` in patterns (see `reconciler.desired.patterns`). Each jsonschema error
becomes a `Diagnostic` with the file, line and column of the offending key or
value, a plain message and a hint.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from reconciler import PROJECT_ROOT
from reconciler.desired.diagnostics import DISPLAY_LIMIT, Diagnostic, quoted, shorten
from reconciler.desired.loader import Document, RawPath
from reconciler.desired.patterns import ECMA_PATTERN_KEYWORDS, ecma_regex
from reconciler.desired.values import (
    ValueFormatError,
    parse_account_address,
    parse_cid,
    parse_country,
    parse_date,
    parse_utc_datetime,
)
from reconciler.errors import ConfigurationError

SCHEMA_DIR = PROJECT_ROOT / "schemas"

# Each kind of state file and the schema that describes it.
SCHEMA_FILES = {
    "Environment": "environment.schema.json",
    "Investors": "investors.schema.json",
    "Sanctions": "sanctions.schema.json",
    "Allocations": "allocations.schema.json",
    "CouponCycles": "coupons.schema.json",
    "CapTableSnapshots": "cap-tables.schema.json",
    "CustodyAttestations": "attestations.schema.json",
    "Pause": "pause.schema.json",
    "Roles": "roles.schema.json",
    "ForceTransfers": "force-transfers.schema.json",
}
# The usual file of each kind under state/<env>/; other names work, one file per kind.
FILE_NAMES = {
    "Environment": "environment.yaml",
    "Investors": "investors.yaml",
    "Sanctions": "sanctions.yaml",
    "Allocations": "allocations.yaml",
    "CouponCycles": "coupons.yaml",
    "CapTableSnapshots": "cap-tables.yaml",
    "CustodyAttestations": "attestations.yaml",
    "Pause": "pause.yaml",
    "Roles": "roles.yaml",
    "ForceTransfers": "force-transfers.yaml",
}
SCHEMA_LINE_PREFIX = "# yaml-language-server: $schema="


# --- schemas and validators --------------------------------------------------


# C0 controls (tab and line feed included), DEL and C1 controls, then the
# invisible format characters that reorder or hide text (bidi overrides and
# isolates, zero-width marks, the byte-order mark) and the line and paragraph
# separators. A terminal or a pull-request page acts on them, so free text with
# one could rewrite what a plan or a prompt shows. No string value of the YAML
# may contain one.
CONTROL_CHARACTER_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
CONTROL_CHARACTER_HINT = (
    "delete it and write the text on one line of visible characters: a terminal acts on control "
    "and bidi characters, so the plan and the apply prompt would not show the text as it is"
)


def control_character(text: str) -> str | None:
    """Describe the first control character of TEXT, such as "U+001B at character 5", or return None."""
    found = CONTROL_CHARACTER_RE.search(text)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at character {found.start() + 1}"


def _strings(node: Any, path: RawPath = ()) -> Iterator[tuple[RawPath, str]]:
    """Yield the path and the text of every string value under NODE."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """Return the parsed JSON Schema of KIND from schemas/."""
    path = SCHEMA_DIR / SCHEMA_FILES[kind]
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"schema {path} not found",
            hint="run jinbi from an editable install inside the repository, where schemas/ sits beside reconciler/",
        ) from None
    return schema


def _format_check(parse: Any) -> Any:
    """Wrap a value parser as a format checker that leaves non-strings to the `type` keyword.

    The parser runs on every string, even one that fails the field's `pattern`,
    so a format never depends on a pattern being right. `validate_document`
    drops the format error of a value whose pattern already failed.
    """

    def check(instance: object) -> bool:
        if isinstance(instance, str):
            parse(instance)
        return True

    return check


def _build_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("eth-address", raises=ValueFormatError)(_format_check(parse_account_address))
    checker.checks("iso3166-1-alpha-2", raises=ValueFormatError)(_format_check(parse_country))
    checker.checks("date", raises=ValueFormatError)(_format_check(parse_date))
    checker.checks("date-time", raises=ValueFormatError)(_format_check(parse_utc_datetime))
    checker.checks("ipfs-cid", raises=ValueFormatError)(_format_check(parse_cid))
    return checker


def _is_strict_integer(checker: Any, instance: object) -> bool:
    # jsonschema's draft 6+ default accepts 1000.0 as an integer; here only int is.
    return isinstance(instance, int) and not isinstance(instance, bool)


# Draft 2020-12 with strict integers and ECMA-262 patterns; any schema checked with it gets both.
StrictValidator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators=ECMA_PATTERN_KEYWORDS,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@cache
def validator_for(kind: str) -> Any:
    """Return the validator of KIND, with formats checked, integers strict and patterns read as ECMA-262."""
    schema = load_schema(kind)
    # Local references are resolved once here, because resolving them per
    # entry costs a third of the validation time of a large Investors file.
    inlined = _inline_references(schema, schema)
    return StrictValidator(inlined, format_checker=_build_format_checker())


def _inline_references(node: Any, root: dict[str, Any]) -> Any:
    """Return a copy of NODE with each local `$ref` replaced by its target (the schemas are not recursive)."""
    if isinstance(node, list):
        return [_inline_references(each, root) for each in node]
    if not isinstance(node, dict):
        return node
    result = {key: _inline_references(value, root) for key, value in node.items() if key not in ("$ref", "$defs")}
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/"):
        target: Any = root
        for part in reference[2:].split("/"):
            target = target[part]
        result = {**_inline_references(target, root), **result}
    elif reference is not None:
        result["$ref"] = reference
    return result


# --- navigation for the loader -----------------------------------------------


class Navigator:
    """Find the subschema and the allowed JSON types at a place in a document.

    Supports what the state schemas use: local `$ref`, `properties`,
    `patternProperties`, `additionalProperties`, `items`, `type`, `const`,
    `enum` and `anyOf`/`oneOf`/`allOf` branches.
    """

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        # Caches keyed by id(). Each entry keeps a reference to its schema object, so the id stays unique.
        self._resolved: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._types: dict[int, tuple[Any, frozenset[str] | None]] = {}
        self._children: dict[tuple[int, str], tuple[Any, Any]] = {}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Return SCHEMA with its local `$ref` chain merged in."""
        cached = self._resolved.get(id(schema))
        if cached is not None:
            return cached[1]
        resolved = schema
        while "$ref" in resolved:
            reference = resolved["$ref"]
            if not reference.startswith("#/"):
                raise ConfigurationError(f"schema reference {reference} is not local")
            target: Any = self.root
            for part in reference[2:].split("/"):
                target = target[part]
            siblings = {key: value for key, value in resolved.items() if key != "$ref"}
            resolved = {**target, **siblings}
        self._resolved[id(schema)] = (schema, resolved)
        return resolved

    def types(self, schema: Any) -> frozenset[str] | None:
        if schema is None:
            return None
        cached = self._types.get(id(schema))
        if cached is not None:
            return cached[1]
        result = self._collect_types(self.resolve(schema))
        self._types[id(schema)] = (schema, result)
        return result

    def _collect_types(self, schema: dict[str, Any]) -> frozenset[str] | None:
        found: set[str] = set()
        declared = schema.get("type")
        if isinstance(declared, str):
            found.add(declared)
        elif isinstance(declared, list):
            found.update(declared)
        for value in ([schema["const"]] if "const" in schema else []) + list(schema.get("enum", [])):
            found.add(_json_type(value))
        for keyword in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(keyword, []):
                branch_types = self.types(branch)
                if branch_types:
                    found.update(branch_types)
        return frozenset(found) or None

    def child(self, schema: Any, key: str) -> Any:
        if schema is None:
            return None
        cached = self._children.get((id(schema), key))
        if cached is not None:
            return cached[1]
        resolved = self.resolve(schema)
        if not any(keyword in resolved for keyword in _KEY_DEPENDENT_KEYWORDS):
            # A map keyed by address or id: every key has the same subschema.
            cached = self._children.get((id(schema), ""))
            if cached is None:
                cached = (schema, self._find_child(resolved, key))
                self._children[(id(schema), "")] = cached
            return cached[1]
        result = self._find_child(resolved, key)
        if key in resolved.get("properties", {}):
            self._children[(id(schema), key)] = (schema, result)
        return result

    def _find_child(self, schema: dict[str, Any], key: str) -> Any:
        properties = schema.get("properties", {})
        if key in properties:
            return properties[key]
        for pattern, subschema in schema.get("patternProperties", {}).items():
            if ecma_regex(pattern).search(key):
                return subschema
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            return additional
        for keyword in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(keyword, []):
                found = self.child(branch, key)
                if found is not None:
                    return found
        return None

    def item(self, schema: Any) -> Any:
        if schema is None:
            return None
        items = self.resolve(schema).get("items")
        return items if isinstance(items, dict) else None


# Keywords under which the subschema of a key depends on the key's name.
_KEY_DEPENDENT_KEYWORDS = ("properties", "patternProperties", "allOf", "anyOf", "oneOf")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else "array"


@cache
def navigator_for(kind: str) -> Navigator:
    return Navigator(load_schema(kind))


def schema_for_kind(kind: str) -> tuple[Navigator, dict[str, Any]] | None:
    """Return the navigator and root schema of KIND, or None for an unknown kind."""
    if kind not in SCHEMA_FILES:
        return None
    return navigator_for(kind), load_schema(kind)


# --- validation --------------------------------------------------------------


def validate_document(document: Document) -> tuple[list[Diagnostic], set[RawPath]]:
    """Check DOCUMENT against the schema of its kind.

    Returns one finding per problem, and the paths of the invalid values
    (for an invalid key, the path of that key) so that conversion can skip them.
    """
    assert document.kind in SCHEMA_FILES
    validator = validator_for(document.kind)
    errors = list(validator.iter_errors(document.data))
    # A value that fails its pattern is reported once, with the pattern's message, not again as a bad format.
    pattern_failed = {_error_place(error) for error in errors if error.validator == "pattern"}
    # An empty value is reported once, as empty, not again for missing the pattern's words.
    empty = {_error_place(error) for error in errors if error.validator == "minLength" and error.instance == ""}
    findings: list[Diagnostic] = []
    invalid: set[RawPath] = set()
    for error in errors:
        path = _error_place(error)
        if path in document.reported:
            invalid.add(path)
            continue
        if (error.validator == "format" and path in pattern_failed) or (error.validator == "pattern" and path in empty):
            invalid.add(path)
            continue
        findings.extend(_translate(document, error))
        invalid.add(path)
    for path, text in _strings(document.data):
        found = control_character(text)
        if found is not None and path not in invalid and path not in document.reported:
            message = f"{describe_path(path)} contains the control character {found}"
            findings.append(Diagnostic.at(document.value_position(path), "schema.control", message, CONTROL_CHARACTER_HINT))
            invalid.add(path)
    return findings, invalid


def _error_place(error: SchemaError) -> RawPath:
    """Return the path of the value an error is about; for an invalid key, the path of that key."""
    path: RawPath = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        return (*path, str(error.instance))
    return path


def check_schema_line(document: Document, expected_file: str) -> list[Diagnostic]:
    """Check that the file's first line points editors at the schema of its kind."""
    line = document.first_line
    if line.startswith(SCHEMA_LINE_PREFIX):
        target = line[len(SCHEMA_LINE_PREFIX) :].strip()
        if Path(target).name == expected_file:
            return []
        return [
            Diagnostic(
                document.file,
                1,
                len(SCHEMA_LINE_PREFIX) + 1,
                "schema-line",
                f"schema line points at {target}, but a {document.kind} file is described by {expected_file}",
                f"write {SCHEMA_LINE_PREFIX}../../schemas/{expected_file}",
            )
        ]
    return [
        Diagnostic(
            document.file,
            1,
            1,
            "schema-line",
            "first line is not the yaml-language-server schema line",
            f"start the file with {SCHEMA_LINE_PREFIX}../../schemas/{expected_file} so editors validate it",
        )
    ]


def _translate(document: Document, error: SchemaError) -> Iterator[Diagnostic]:
    if error.validator in ("anyOf", "oneOf"):
        yield _translate_alternatives(document, error)
        return
    path: RawPath = tuple(error.absolute_path)
    handler = _HANDLERS.get(str(error.validator), _generic)
    yield from handler(document, error, path)


def _translate_alternatives(document: Document, error: SchemaError) -> Diagnostic:
    """Explain an anyOf/oneOf failure by its most specific branch error."""
    path: RawPath = tuple(error.absolute_path)
    branches = list(error.context or [])
    # A branch whose value has the right shape (a date with month 13) explains more than one that does not.
    shaped = [each for each in branches if isinstance(each.cause, ValueFormatError) and each.cause.shape_matched]
    best = shaped[0] if shaped else best_match(branches)
    hint = str(error.schema.get("errorMessage", "")) if isinstance(error.schema, dict) else ""
    if best is None or best is error or best.validator in ("anyOf", "oneOf"):
        written = shown_value(document, path, error.instance)
        return Diagnostic.at(
            document.value_position(path), "schema.any-of", f"{describe_path(path)} {written} is not valid", hint
        )
    finding = next(iter(_translate(document, best)))
    if hint and not shaped:
        finding = Diagnostic(finding.file, finding.line, finding.column, finding.code, finding.message, hint)
    return finding


# --- wording of each kind of schema error ------------------------------------

_TYPE_NAMES = {
    "integer": "a whole number",
    "boolean": "true or false",
    "string": "text",
    "object": "a mapping of fields",
    "array": "a list",
    "null": "empty",
}
_YAML11_BOOLEANS = frozenset(
    word
    for base in ("y", "yes", "n", "no", "on", "off", "true", "false")
    for word in (base, base.upper(), base.title())
)


def describe_path(path: RawPath) -> str:
    """Name the value at PATH for a message: the entry it belongs to and the field."""
    if not path:
        return "file"
    if len(path) >= 2 and path[0] in _ENTRY_NOUNS:
        entry = f"{_ENTRY_NOUNS[str(path[0])]} {shorten(str(path[1]))}"
        rest = ".".join(shorten(str(part)) for part in path[2:])
        return f"{entry}: {rest}" if rest else entry
    return ".".join(shorten(str(part)) for part in path)


_ENTRY_NOUNS = {
    "investors": "investor",
    "blocked": "sanctions entry",
    "allocations": "allocation",
    "cycles": "coupon cycle",
    "orders": "force-transfer order",
    "snapshots": "cap-table snapshot",
    "attestations": "custody attestation",
    "price_feeds": "price feed",
}


def shown_value(document: Document, path: RawPath, instance: object) -> str:
    """Show a value as it was written in the file."""
    source = document.values.get(path)
    if source is not None:
        if source.plain:
            return shorten(source.text) if source.text else "an empty value"
        return quoted(source.text)
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if isinstance(instance, str):
        return quoted(instance)
    return shorten(json.dumps(instance))


def _field_name(path: RawPath) -> str:
    return str(path[-1]) if path else "value"


def _type_error(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    expected: Any = error.validator_value
    expected_types = [expected] if isinstance(expected, str) else list(expected)
    expected_text = " or ".join(_TYPE_NAMES.get(each, each) for each in expected_types)
    written = shown_value(document, path, error.instance)
    source = document.values.get(path)
    field = _field_name(path)
    hint = ""
    if error.instance is None:
        if source is None or source.text == "":
            written, hint = "an empty value", f"write a value after {field}:"
        else:
            written, hint = source.text, f"write a value; quote it if {source.text} is meant as text"
    elif "boolean" in expected_types and source is not None:
        if not source.plain:
            hint = f"remove the quotes: write {field}: {source.text}" if source.text in ("true", "false") else ""
        elif source.text in _YAML11_BOOLEANS:
            hint = f"only true and false are booleans here: write {field}: true or {field}: false"
        hint = hint or f"write {field}: true or {field}: false"
    elif "integer" in expected_types and source is not None:
        hint = _integer_hint(field, source.text, quoted=not source.plain)
    elif "object" in expected_types:
        hint = "write the fields of this entry below its key, indented"
    elif "string" in expected_types:
        hint = "write the value in quotes"
    message = f"{describe_path(path)} must be {expected_text}, found {written}"
    yield Diagnostic.at(document.value_position(path), "schema.type", message, hint)


# Longer digit strings are not converted for a hint: Python refuses int() of more than 4,300 digits.
_MAX_HINT_DIGITS = 100


def _integer_hint(field: str, text: str, *, quoted: bool) -> str:
    if quoted and re.fullmatch(r"(0|-?[1-9][0-9]*)", text):
        return f"remove the quotes: write {field}: {text}"
    candidate = text.replace("_", "").removeprefix("+")
    if len(candidate) <= _MAX_HINT_DIGITS and re.fullmatch(r"-?[0-9]+(\.0*)?", candidate):
        whole = int(candidate.split(".")[0])
        rules = "no plus sign, fraction, underscore or leading zero"
        return f"write the number in decimal digits only ({rules}): {field}: {whole}"
    return f"write a whole number in decimal digits, such as {field}: 125"


def _required(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    for name in schema.get("required", []):
        if name in instance:
            continue
        example = _example(schema.get("properties", {}).get(name), document)
        where = f"{describe_path(path)}: " if path else ""
        message = f"{where}missing required field {name}"
        hint = f"add {name}: {example}" if example else f"add {name}"
        yield Diagnostic.at(document.key_position(path), "schema.required", message, hint)


def _example(schema: Any, document: Document) -> str:
    if not isinstance(schema, dict):
        return ""
    examples = schema.get("examples")
    if not examples and "$ref" in schema and document.kind is not None:
        examples = navigator_for(document.kind).resolve(schema).get("examples")
    if "const" in schema:
        return str(schema["const"])
    if not examples:
        return ""
    example = examples[0]
    if isinstance(example, bool):
        return "true" if example else "false"
    return json.dumps(example) if isinstance(example, str) else str(example)


def _additional_properties(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = sorted(schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in instance:
        if key in allowed:
            continue
        where = f"{describe_path(path)}: " if path else ""
        close = difflib.get_close_matches(str(key), allowed, n=1)
        suggestion = f"did you mean {close[0]}? " if close else ""
        hint = f"{suggestion}allowed fields: {', '.join(allowed)}"
        yield Diagnostic.at(
            document.key_position((*path, key)), "schema.unknown-field", f"{where}unknown field {key}", hint
        )


def _property_name_error(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    key = str(error.instance)
    position = document.key_position((*path, key))
    noun = _ENTRY_NOUNS.get(str(path[-1]), "key") if path else "key"
    written = quoted(key)
    if error.validator == "format" and isinstance(error.cause, ValueFormatError):
        message = f"{noun} {written} {error.cause.message}"
        yield Diagnostic.at(position, "schema.format", message, error.cause.hint)
        return
    schema = error.schema if isinstance(error.schema, dict) else {}
    if document.kind is not None:
        schema = navigator_for(document.kind).resolve(schema)
    hint = str(schema.get("patternErrorMessage", ""))
    yield Diagnostic.at(position, "schema.key", f"{noun} {written} is invalid", hint)


def _pattern(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = str(schema.get("patternErrorMessage", f"match the pattern {error.validator_value}"))
    written = shown_value(document, path, error.instance)
    yield Diagnostic.at(
        document.value_position(path), "schema.pattern", f"{describe_path(path)} {written} is invalid", hint
    )


def _format(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    written = shown_value(document, path, error.instance)
    cause = error.cause
    if isinstance(cause, ValueFormatError):
        message, hint = f"{describe_path(path)} {written} {cause.message}", cause.hint
    else:
        message, hint = f"{describe_path(path)} {written} is not a valid {error.validator_value}", ""
    yield Diagnostic.at(document.value_position(path), "schema.format", message, hint)


def _enum(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    allowed: Any = error.validator_value
    choices = [str(each) for each in allowed]
    written = shown_value(document, path, error.instance)
    lowered = {choice.lower(): choice for choice in choices}
    instance = str(error.instance)[: DISPLAY_LIMIT + 1]  # an enum value is short, so a longer one matches nothing
    close = lowered.get(instance.lower()) or next(iter(difflib.get_close_matches(instance, choices, n=1)), None)
    hint = f"did you mean {close}?" if close else f"write one of {', '.join(choices)}"
    message = f"{describe_path(path)} must be one of {', '.join(choices)}, found {written}"
    yield Diagnostic.at(document.value_position(path), "schema.enum", message, hint)


def _const(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    written = shown_value(document, path, error.instance)
    message = f"{describe_path(path)} must be {error.validator_value}, found {written}"
    hint = str(schema.get("errorMessage", f"write {_field_name(path)}: {error.validator_value}"))
    yield Diagnostic.at(document.value_position(path), "schema.const", message, hint)


def _range(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    low, high = schema.get("minimum"), schema.get("maximum")
    bound = "at least" if error.validator == "minimum" else "at most"
    written = shown_value(document, path, error.instance)
    message = f"{describe_path(path)} must be {bound} {error.validator_value}, found {written}"
    if "errorMessage" in schema:
        hint = str(schema["errorMessage"])
    elif low is not None and high is not None:
        hint = f"use a value from {low} to {high}"
    else:
        hint = str(schema.get("description", ""))
    yield Diagnostic.at(document.value_position(path), "schema.range", message, hint)


def _length(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    length, bound = len(str(error.instance)), int(str(error.validator_value))
    if error.validator == "maxLength":
        message = f"{describe_path(path)} is too long ({length:,} characters, at most {bound:,})"
        hint = f"shorten it to at most {bound:,} characters"
    elif length == 0:
        message = f"{describe_path(path)} is empty"
        hint = str(schema.get("patternErrorMessage", f"write at least {bound} characters"))
    else:
        message = f"{describe_path(path)} is too short ({length} characters, at least {bound})"
        hint = str(schema.get("patternErrorMessage", f"write at least {bound} characters"))
    yield Diagnostic.at(document.value_position(path), f"schema.{error.validator}", message, hint)


def _generic(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    message = f"{describe_path(path)}: {shorten(error.message)}"
    yield Diagnostic.at(document.value_position(path), f"schema.{error.validator}", message, "")


def _dispatch_property_names(document: Document, error: SchemaError, path: RawPath) -> Iterator[Diagnostic]:
    if "propertyNames" in error.absolute_schema_path:
        yield from _property_name_error(document, error, path)
        return
    yield from _PLAIN_HANDLERS[str(error.validator)](document, error, path)


_PLAIN_HANDLERS: dict[str, Any] = {
    "type": _type_error,
    "required": _required,
    "additionalProperties": _additional_properties,
    "pattern": _pattern,
    "format": _format,
    "enum": _enum,
    "const": _const,
    "minimum": _range,
    "maximum": _range,
    "minLength": _length,
    "maxLength": _length,
}
# Errors of keys (propertyNames) carry the key as instance and the parent as path.
_HANDLERS: dict[str, Any] = {name: _dispatch_property_names for name in _PLAIN_HANDLERS}
