"""Findings about the desired state, and their text and JSON renderings.

Every finding names a file, a 1-based line and column, a stable code, a
message and a hint. Renderings sort findings by file, line and column, so the
output of a run depends only on the files, never on dict or set order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple


# Values longer than this are cut in messages, so a huge value cannot flood a terminal or a log.
DISPLAY_LIMIT = 80


def shorten(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """Return TEXT, or its first LIMIT characters, an ellipsis and the full length when it is longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def quoted(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """Write TEXT in double quotes with JSON escapes (so a line feed shows as \\n), cut like `shorten`."""
    if len(text) <= limit:
        return json.dumps(text)
    return f"{json.dumps(text[:limit])}… ({len(text):,} characters)"


class SourcePosition(NamedTuple):
    """Position of a value: the file as displayed, and the 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One error found in the desired state."""

    file: str
    line: int
    column: int
    code: str
    message: str
    hint: str = ""

    @classmethod
    def at(cls, position: SourcePosition, code: str, message: str, hint: str = "") -> Diagnostic:
        return cls(position.file, position.line, position.column, code, message, hint)

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        return (self.file, self.line, self.column, self.code, self.message, self.hint)

    def render(self) -> str:
        """Write the finding as `file:line:col: error: message`, with the hint on an indented line."""
        first = f"{self.file}:{self.line}:{self.column}: error: {self.message}"
        return f"{first}\n    hint: {self.hint}" if self.hint else first


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort findings by file, line and column, dropping exact repeats."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def render_text(env_dir: str, diagnostics: Sequence[Diagnostic], counts: Mapping[str, int]) -> str:
    """Render a validation result for a terminal: one finding per line, then a summary line."""
    if not diagnostics:
        summary = ", ".join(f"{count} {_counted(name.replace('_', ' '), count)}" for name, count in counts.items())
        return f"{env_dir}: valid ({summary})"
    files = len({each.file for each in diagnostics})
    noun = "error" if len(diagnostics) == 1 else "errors"
    file_noun = "file" if files == 1 else "files"
    lines = [each.render() for each in diagnostics]
    lines.append(f"{env_dir}: {len(diagnostics)} {noun} in {files} {file_noun}")
    return "\n".join(lines)


def _counted(plural: str, count: int) -> str:
    """Return PLURAL, such as "sanctions entries", in the singular when COUNT is 1."""
    if count != 1:
        return plural
    return plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")


def render_json(env: str, env_dir: str, diagnostics: Sequence[Diagnostic], counts: Mapping[str, int]) -> str:
    """Render a validation result as one JSON document with sorted keys."""
    document = {
        "env": env,
        "path": env_dir,
        "valid": not diagnostics,
        "errors": [asdict(each) for each in diagnostics],
        "counts": dict(counts),
    }
    return json.dumps(document, indent=2, sort_keys=True)
