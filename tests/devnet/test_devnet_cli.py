"""`jinbi devnet up | down | status` as a user runs them, against real anvil processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler import PROJECT_ROOT
from reconciler.devnet import free_port


def jinbi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture
def port() -> Iterator[int]:
    chosen = free_port()
    yield chosen
    jinbi("devnet", "down", "--port", str(chosen))


def test_up_deploys_and_writes_environment(port: int, tmp_path: Path) -> None:
    result = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "JINBI suite deployed" in result.stdout
    written = yaml.safe_load((tmp_path / "devnet" / "environment.yaml").read_text())
    committed = yaml.safe_load((PROJECT_ROOT / "state" / "devnet" / "environment.yaml").read_text())
    assert written["contracts"] == committed["contracts"]
    assert written["price_feeds"] == committed["price_feeds"]
    assert written["chain_id"] == 31337


def test_second_up_does_nothing(port: int, tmp_path: Path) -> None:
    assert jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)).returncode == 0
    environment_file = tmp_path / "devnet" / "environment.yaml"
    environment_file.unlink()

    result = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("nothing to do")
    assert not environment_file.exists()


def test_down_stops_the_chain(port: int, tmp_path: Path) -> None:
    assert jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)).returncode == 0

    result = jinbi("devnet", "down", "--port", str(port))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"stopped devnet on http://127.0.0.1:{port}")
    assert jinbi("devnet", "status", "--port", str(port)).stdout.strip() == (
        f"no devnet running on http://127.0.0.1:{port}"
    )


def test_status_reports_running_chain(port: int, tmp_path: Path) -> None:
    assert jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)).returncode == 0

    result = jinbi("devnet", "status", "--port", str(port))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"devnet running on http://127.0.0.1:{port} (pid ")
    assert "chain id 31337" in result.stdout


def test_down_without_devnet_is_a_no_op(port: int) -> None:
    result = jinbi("devnet", "down", "--port", str(port))

    assert result.returncode == 0
    assert result.stdout.strip() == f"no devnet running on http://127.0.0.1:{port}; nothing to stop"


def test_up_on_port_in_use_fails_clearly(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]

        result = jinbi("devnet", "up", "--port", str(busy), "--state-dir", str(tmp_path))

    assert result.returncode == 1
    assert f"error: port {busy} on 127.0.0.1 is already in use by another program" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "devnet" / "environment.yaml").exists()


def test_up_without_anvil_fails_clearly(port: int, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-anvil"

    result = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path), env={"JINBI_ANVIL": str(missing)})

    assert result.returncode == 1
    assert f"error: anvil not found at {missing}" in result.stderr
    assert "hint: run `npm ci`" in result.stderr
    assert "Traceback" not in result.stderr
