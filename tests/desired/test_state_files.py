"""Problems with whole files: forbidden characters, byte order marks, odd folder entries, files that fail to parse."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
import yaml
from desired_support import CliResult, StateTree, only

from reconciler.desired.loader import _reader_error

CONTROL_HINT = (
    "delete it: YAML allows no control characters other than tab, line feed and carriage return, not even in a comment"
)


def insert_at_line(tree: StateTree, name: str, line: int, text: str) -> None:
    """Insert TEXT at the start of the 1-based LINE of NAME."""
    path = tree.env_dir / name
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line - 1] = text + lines[line - 1]
    path.write_text("\n".join(lines), encoding="utf-8")


def edit(tree: StateTree, name: str, old: str, new: str) -> None:
    path = tree.env_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- characters YAML forbids -------------------------------------------------


def test_control_character_in_comment(tree: StateTree) -> None:
    # Line 2 of coupons.yaml is a comment: "# Quarterly coupons of 125 bps ...".
    edit(tree, "coupons.yaml", "# Quarterly coupons", "# Quarterly\x00 coupons")
    edit(tree, "investors.yaml", "kyc: true", "kyc: yes")

    errors = tree.errors()

    assert [(each.file, each.code) for each in errors] == [
        (tree.file("coupons.yaml"), "yaml.character"),
        (tree.file("investors.yaml"), "schema.type"),
    ]
    assert errors[0].message == "control character U+0000 (NUL) is not allowed in YAML"
    assert errors[0].hint == CONTROL_HINT
    assert (errors[0].line, errors[0].column) == (2, 12)


def test_control_character_in_value(tree: StateTree) -> None:
    edit(tree, "coupons.yaml", 'period: "2026-Q4"', 'period: "2026-Q4\x07"')

    error = only(tree.errors())

    assert error.message == "control character U+0007 (BEL) is not allowed in YAML"
    assert (error.file, error.line, error.column) == (tree.file("coupons.yaml"), 5, 25)


def test_many_control_characters_counted(tree: StateTree) -> None:
    edit(tree, "coupons.yaml", "# Quarterly coupons", "# " + "\x1b" * 12 + "Quarterly coupons")

    errors = tree.errors()

    assert [(each.line, each.column) for each in errors] == [(2, column) for column in range(3, 14)]
    assert errors[0].message == "control character U+001B (ESC) is not allowed in YAML"
    assert errors[-1].message == "2 more characters that YAML does not allow, from here on"


def test_control_character_json_output(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    edit(tree, "coupons.yaml", "# Quarterly coupons", "# Quarterly\x00 coupons")

    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root), "--format", "json")

    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout)["errors"] == [
        {
            "file": tree.file("coupons.yaml"),
            "line": 2,
            "column": 12,
            "code": "yaml.character",
            "message": "control character U+0000 (NUL) is not allowed in YAML",
            "hint": CONTROL_HINT,
        }
    ]


def test_reader_error_without_mark_placed() -> None:
    # The check above finds every character the parsers reject first; this is the fallback if one slips through.
    error = yaml.reader.ReaderError("<unicode string>", 9, 0, "unicode", "special characters are not allowed")

    finding = _reader_error("x.yaml", "kind: X\nab: c\n", error)

    assert (finding.line, finding.column, finding.code) == (2, 2, "yaml.syntax")
    assert finding.message == "invalid YAML: special characters are not allowed"


def test_byte_order_mark_dropped(tree: StateTree) -> None:
    path = tree.env_dir / "coupons.yaml"
    path.write_text("\ufeff" + path.read_text(encoding="utf-8"), encoding="utf-8")

    result = tree.read()

    assert result.diagnostics == []
    assert sorted(result.state.coupon_cycles) == ["1", "2"]


# --- folder entries that are not state files ---------------------------------


def test_upper_case_suffix_reported(tree: StateTree) -> None:
    (tree.env_dir / "sanctions.yaml").rename(tree.env_dir / "sanctions.YAML")

    error = only(tree.errors())

    assert error.message == "file is not read, because its suffix .YAML is not lower case"
    assert error.hint == "rename it to sanctions.yaml"
    assert (error.file, error.line, error.column, error.code) == (tree.file("sanctions.YAML"), 1, 1, "file.suffix")


def test_dangling_symlink_reported(tree: StateTree) -> None:
    (tree.env_dir / "x.yaml").symlink_to("nowhere.yaml")

    error = only(tree.errors())

    assert error.message == "symbolic link to nowhere.yaml, which does not exist"
    assert error.hint == "point the link at the state file, or remove it"
    assert (error.file, error.code) == (tree.file("x.yaml"), "file.unreadable")


def test_symlink_loop_reported(tree: StateTree) -> None:
    (tree.env_dir / "x.yaml").symlink_to("x.yaml")

    error = only(tree.errors())

    assert error.message == "symbolic link that leads back to itself (a link loop)"
    assert (error.file, error.code) == (tree.file("x.yaml"), "file.unreadable")


def test_folder_named_like_state_file_reported(tree: StateTree) -> None:
    (tree.env_dir / "investors.yaml").rename(tree.env_dir / "people.yaml")
    (tree.env_dir / "investors.yaml").mkdir()

    error = only(tree.errors())

    assert error.message == "a folder named like a state file"
    assert error.hint == "move it out of the environment folder"
    assert (error.file, error.code) == (tree.file("investors.yaml"), "file.not-a-file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_file_reported(tree: StateTree) -> None:
    path = tree.env_dir / "coupons.yaml"
    path.chmod(0)

    error = only(tree.errors())

    assert error.message == "cannot read the file: Permission denied"
    assert (error.file, error.code) == (tree.file("coupons.yaml"), "file.unreadable")


# --- rules that need a file that failed to parse -----------------------------


def test_unparsed_investors_file_skips_allocation_rules(tree: StateTree) -> None:
    edit(tree, "investors.yaml", "    kyc: true", "    kyc: [true")

    errors = tree.errors()

    assert [(each.file, each.line, each.column, each.code) for each in errors] == [
        (tree.file("investors.yaml"), 1, 1, "rules.skipped"),
        (tree.file("investors.yaml"), 10, 8, "yaml.syntax"),
    ]
    assert errors[0].message == (
        "allocations were not checked against their investors, because this Investors file could not be parsed"
    )
    assert errors[0].hint == "fix the YAML errors of this file and validate again to run those checks"


def test_unparsed_environment_file_not_reported_missing(tree: StateTree) -> None:
    edit(tree, "environment.yaml", "policy:\n", "policy: {\n")

    errors = tree.errors()

    assert [(each.file, each.code) for each in errors] == [
        (tree.file("environment.yaml"), "rules.skipped"),
        (tree.file("environment.yaml"), "yaml.syntax"),
    ]
    assert errors[0].message == (
        "allocations were not checked against the Reg S lockup policy, because this Environment file could not be "
        "parsed"
    )


def test_unparsed_file_kind_from_kind_line(tree: StateTree) -> None:
    (tree.env_dir / "investors.yaml").rename(tree.env_dir / "people.yaml")
    edit(tree, "people.yaml", "ref: INV-0031", "ref: INV\x00-0031")

    codes = [(each.file, each.code) for each in tree.errors()]

    assert codes == [(tree.file("people.yaml"), "rules.skipped"), (tree.file("people.yaml"), "yaml.character")]


# --- the environment folder --------------------------------------------------


def test_missing_environment_folder_json(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("validate", "--env", "prod", "--state-dir", str(tree.root), "--format", "json")

    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "env": "prod",
        "path": str(tree.root / "prod"),
        "valid": False,
        "errors": [
            {
                "file": str(tree.root / "prod"),
                "line": 1,
                "column": 1,
                "code": "environment.not-found",
                "message": f"environment folder {tree.root / 'prod'} not found",
                "hint": "create it, or point --state-dir at the folder that holds prod/",
            }
        ],
        "counts": {
            "files": 0,
            "investors": 0,
            "sanctions_entries": 0,
            "allocations": 0,
            "coupon_cycles": 0,
            "cap_table_snapshots": 0,
            "custody_attestations": 0,
            "role_holders": 0,
            "force_transfers": 0,
        },
    }
