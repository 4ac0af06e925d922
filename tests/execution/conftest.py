"""Fixtures of the execution tests: the devnet signer, journal and lock folders, manual mining, the target world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from execution_support import set_automine
from target_world import World, build_world

from reconciler.devnet import DEV_PRIVATE_KEY
from reconciler.execution import Journal, Signer, load_signer


@pytest.fixture
def signer() -> Signer:
    return load_signer({"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY})


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    return tmp_path / "locks"


@pytest.fixture
def journal(journal_dir: Path) -> Journal:
    return Journal("devnet", "sha256:" + "ab" * 32, directory=journal_dir)


@pytest.fixture
def manual_mining(chain: Any) -> Iterator[None]:
    """Stop anvil from mining on arrival for the test; switching it back on mines what is left pending."""
    set_automine(chain.w3, False)
    try:
        yield
    finally:
        set_automine(chain.w3, True)


@pytest.fixture(scope="session")
def target_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A chain of its own, one 21-action plan away from the target state (target_world.py)."""
    world = build_world(tmp_path_factory.mktemp("target-world"))
    try:
        yield world
    finally:
        world.chain.stop()
