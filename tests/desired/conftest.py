"""Fixtures for the desired-state tests: a copy of the committed devnet state to edit per test."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from desired_support import SAMPLE_DIR, CliResult, StateTree

from reconciler.cli import main


@pytest.fixture
def tree(tmp_path: Path) -> StateTree:
    shutil.copytree(SAMPLE_DIR, tmp_path / "state" / "devnet")
    return StateTree(tmp_path / "state")


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `jinbi ARGS` in-process through `main()`, the way the console script does."""

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["jinbi", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run
