"""Compiled contract artifacts committed under contracts/artifacts/.

`make contracts` (reconciler.chain.compile) writes one JSON file per contract;
this module reads them for deployment, reads and calldata encoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reconciler import PROJECT_ROOT
from reconciler.errors import ConfigurationError

ARTIFACTS_DIR = PROJECT_ROOT / "contracts" / "artifacts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and its creation and runtime bytecode (0x-prefixed hex)."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


@cache
def load(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """Load the artifact of contract NAME, e.g. "ComplianceRegistry"."""
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"contract artifact not found: {path}",
            hint="run `make contracts` to compile contracts/src",
        ) from None
    return Artifact(
        name=raw["contractName"],
        source=raw["sourceName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
    )


def names(directory: Path = ARTIFACTS_DIR) -> list[str]:
    """Return the names of every committed artifact, sorted."""
    return sorted(path.stem for path in directory.glob("*.json"))
