"""A plan file is applied only when the bytes it would send encode the calls it shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "planning"))

from planning_support import address, environment, investor, observation, plan, state  # noqa: E402

from reconciler.errors import PlanError  # noqa: E402
from reconciler.execution.run import read_plan_file  # noqa: E402
from reconciler.planning.plan import document_digest, plan_document  # noqa: E402


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    document["digest"] = document_digest(document)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def document() -> dict[str, Any]:
    return plan_document(plan(state(investors=[investor(1), investor(2)]), observation()))


def test_untouched_plan_file_is_read(tmp_path: Path, document: dict[str, Any]) -> None:
    path = write(tmp_path, document)

    assert read_plan_file(path, environment())["digest"] == document["digest"]


def test_calldata_swapped_with_new_digest_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    transaction = document["transactions"][0]
    transaction["data"] = transaction["data"].replace(address(1)[2:].lower(), "11" * 20)
    path = write(tmp_path, document)

    with pytest.raises(PlanError) as raised:
        read_plan_file(path, environment())

    assert raised.value.message == (
        f"plan file {path}: the calldata of transaction 1 does not encode the call it shows (setInvestors(uint256[]))"
    )


def test_target_swapped_with_new_digest_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    document["transactions"][0]["to"] = "0x" + "22" * 20
    path = write(tmp_path, document)

    with pytest.raises(PlanError) as raised:
        read_plan_file(path, environment())

    assert raised.value.message.startswith(f"plan file {path}: transaction 1 goes to 0x{'22' * 20}, not to contracts.")
