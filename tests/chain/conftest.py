"""Fixtures of the chain-reading tests: a state folder with the devnet environment of the session's chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chain_support import write_devnet_environment

from reconciler.model import Environment


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def environment(chain: Any, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Environment:
    """The devnet environment of the session's anvil, with JINBI_RPC_URL pointing at it."""
    environment = write_devnet_environment(state_dir, chain)
    monkeypatch.setenv(environment.rpc_url_env, chain.url)
    return environment
