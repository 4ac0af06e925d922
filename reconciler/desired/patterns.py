"""JSON Schema regular expressions with ECMA-262's end-of-input rule for `$`.

JSON Schema (2020-12, section 6.4) specifies `pattern` and `patternProperties`
as ECMA-262 regular expressions, but jsonschema 4.26 runs them with Python's
`re.search`. In Python, `$` also matches just before a final line feed, so
"DE\\n" matches ^[A-Z]{2}$ there, while in ECMA-262 (without the m flag) `$`
matches only at the end of the input. `ecma_regex` compiles a pattern with each
`$` outside a character class rewritten as `\\Z`. `ECMA_PATTERN_KEYWORDS`
contains the keyword functions (`pattern`, `patternProperties`,
`additionalProperties`) that `reconciler.desired.schema` puts into its
validator class, so every schema and every property key gets the ECMA rule.

NOTE: other differences remain. Python's `\\d`, `\\w` and `\\s` also match
non-ASCII characters, `.` matches a carriage return, and jsonschema's
`unevaluatedProperties` still tests `patternProperties` with `re.search`. The
state schemas avoid all of these, and tests/desired checks that they do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaError

from reconciler.desired.diagnostics import shorten


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a JSON Schema PATTERN so that `$` matches only at the end of the text."""
    parts: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            # An escaped character, such as \$ or \], is copied with its backslash.
            parts.append(pattern[index : index + 2])
            index += 2
            continue
        if not in_class and char == "[":
            in_class = True
            parts.append(char)
            index += 1
            # Python reads a `]` right after `[` or `[^` as a literal, not as the end of the class.
            for opener in ("^", "]"):
                if pattern.startswith(opener, index):
                    parts.append(opener)
                    index += 1
            continue
        if in_class and char == "]":
            in_class = False
        elif not in_class and char == "$":
            char = r"\Z"
        parts.append(char)
        index += 1
    return re.compile("".join(parts))


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield SchemaError(f"{shorten(repr(instance))} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, pattern_properties: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        regex = ecma_regex(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = [ecma_regex(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [
        key for key in instance if key not in properties and not any(regex.search(key) for regex in patterns)
    ]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        listed = ", ".join(shorten(repr(key)) for key in sorted(extras))
        yield SchemaError(f"additional properties are not allowed ({listed})")


# Keyword functions for `jsonschema.validators.extend`.
ECMA_PATTERN_KEYWORDS: dict[str, Any] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}
