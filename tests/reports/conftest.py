"""Fixtures of the report tests: one chain with three months of history per pytest worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reports_world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("reports-world"))
    try:
        yield built
    finally:
        built.chain.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working folder for a command, so that its default output lands there."""
    return tmp_path
