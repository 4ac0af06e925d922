"""`jinbi validate`: results on stdout, exit codes 0 and 1, identical output from run to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from desired_support import CliResult, StateTree

from reconciler import PROJECT_ROOT
from reconciler.desired import load_state
from reconciler.errors import ValidationError


def break_two_files(tree: StateTree) -> None:
    investors = tree.env_dir / "investors.yaml"
    investors.write_text(investors.read_text(encoding="utf-8").replace("kyc: true", "kyc: yes", 3), encoding="utf-8")
    coupons = tree.env_dir / "coupons.yaml"
    coupons.write_text(coupons.read_text(encoding="utf-8").replace("rate_bps: 125", "rate_bps: 1.25"), encoding="utf-8")


def test_valid_state_exit_0(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root))

    assert result.exit_code == 0
    assert result.stdout == (
        f"{tree.env_dir}: valid (9 files, 40 investors, 10 sanctions entries, 10 allocations, 2 coupon cycles, "
        "1 cap table snapshot, 1 custody attestation, 14 role holders, 0 force transfers)\n"
    )
    assert result.stderr == ""


def test_invalid_state_exit_1(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    break_two_files(tree)

    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root))

    lines = result.stdout.rstrip("\n").split("\n")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert lines[0] == (
        f"{tree.file('coupons.yaml')}:5:38: error: coupon cycle 1: rate_bps must be a whole number, found 1.25"
    )
    assert lines[1] == "    hint: write a whole number in decimal digits, such as rate_bps: 125"
    assert lines[-1] == f"{tree.env_dir}: 5 errors in 2 files"
    assert sum(" error: " in line for line in lines) == 5


def test_json_format(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    break_two_files(tree)

    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root), "--format", "json")

    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["valid"] is False
    assert document["env"] == "devnet"
    assert len(document["errors"]) == 5
    assert document["errors"][0] == {
        "file": tree.file("coupons.yaml"),
        "line": 5,
        "column": 38,
        "code": "schema.type",
        "message": "coupon cycle 1: rate_bps must be a whole number, found 1.25",
        "hint": "write a whole number in decimal digits, such as rate_bps: 125",
    }


def test_json_format_valid(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("validate", "--env", "devnet", "--state-dir", str(tree.root), "--format", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "env": "devnet",
        "path": str(tree.env_dir),
        "valid": True,
        "errors": [],
        "counts": {
            "files": 9,
            "investors": 40,
            "sanctions_entries": 10,
            "allocations": 10,
            "coupon_cycles": 2,
            "cap_table_snapshots": 1,
            "custody_attestations": 1,
            "role_holders": 14,
            "force_transfers": 0,
        },
    }


def test_missing_environment_folder(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    # Reported as a finding on stdout, so that --format json can carry it too.
    result = run_cli("validate", "--env", "prod", "--state-dir", str(tree.root))

    folder = tree.root / "prod"
    assert result.exit_code == 1
    assert result.stderr == ""
    assert result.stdout == (
        f"{folder}:1:1: error: environment folder {folder} not found\n"
        "    hint: create it, or point --state-dir at the folder that holds prod/\n"
        f"{folder}: 1 error in 1 file\n"
    )


def test_unsafe_environment_name(tree: StateTree, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("validate", "--env", "../devnet", "--state-dir", str(tree.root))

    assert result.exit_code == 1
    assert result.stdout.startswith(f"{tree.root / '../devnet'}:1:1: error: invalid environment name '../devnet'\n")


def test_missing_environment_folder_load_state_raises(tree: StateTree) -> None:
    # Commands that act on the state keep the plain error.
    with pytest.raises(ValidationError) as error:
        load_state(tree.root, "prod")

    assert error.value.message == f"environment folder {tree.root / 'prod'} not found"


def test_help_documents_exit_codes(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("validate", "--help")

    assert result.exit_code == 0
    assert "Exit codes: 0 valid, 1 invalid or unreadable." in " ".join(result.stdout.split())


def test_output_identical_across_processes(tree: StateTree) -> None:
    # Different hash seeds change set and dict-of-set orders; the output must not change.
    break_two_files(tree)
    script = (
        "import sys\n"
        "from reconciler.cli import main\n"
        f"sys.argv = ['jinbi', 'validate', '--env', 'devnet', '--state-dir', {str(tree.root)!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print('web3 loaded' if 'web3' in sys.modules else 'no chain code loaded', file=sys.stderr)\n"
    )
    outputs = []
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        environment.pop("JINBI_RPC_URL", None)
        completed = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=environment,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 1
        assert completed.stderr == "no chain code loaded\n"
        outputs.append(completed.stdout)

    assert outputs[0] == outputs[1]
    assert outputs[0].count(" error: ") == 5
