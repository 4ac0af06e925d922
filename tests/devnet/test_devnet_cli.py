"""`jinbi devnet up | down | status` as a user runs them, against real anvil processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from reconciler import PROJECT_ROOT
from reconciler.devnet import connect, free_port, port_in_use, start_anvil, stop_process


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


def test_up_keeps_no_private_key_in_log(port: int, tmp_path: Path) -> None:
    assert jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)).returncode == 0

    log_text = (PROJECT_ROOT / ".jinbi" / f"devnet-{port}" / "anvil.log").read_text()

    assert "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" not in log_text


def test_killed_anvil_is_restarted_by_up(port: int, tmp_path: Path) -> None:
    assert jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)).returncode == 0
    pid = int((PROJECT_ROOT / ".jinbi" / f"devnet-{port}" / "anvil.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pid)], timeout=10) if psutil.pid_exists(pid) else None

    status = jinbi("devnet", "status", "--port", str(port))
    restarted = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path))

    assert status.stdout.strip() == f"no devnet running on http://127.0.0.1:{port}"
    assert restarted.returncode == 0, restarted.stderr
    assert "JINBI suite deployed" in restarted.stdout


def test_concurrent_ups_start_one_chain(port: int, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "reconciler", "devnet", "up", "--port", str(port), "--state-dir", str(tmp_path)]
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=120) for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert sum("nothing to do" in stdout for stdout, _ in outputs) == 1
    assert jinbi("devnet", "status", "--port", str(port)).stdout.startswith(
        f"devnet running on http://127.0.0.1:{port} (pid "
    )


def test_down_ignores_stale_pid_of_other_port(port: int, tmp_path: Path) -> None:
    other = free_port()
    try:
        assert jinbi("devnet", "up", "--port", str(other), "--state-dir", str(tmp_path)).returncode == 0
        other_pid = (PROJECT_ROOT / ".jinbi" / f"devnet-{other}" / "anvil.pid").read_text()
        stale = PROJECT_ROOT / ".jinbi" / f"devnet-{port}" / "anvil.pid"
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_text(other_pid)

        result = jinbi("devnet", "down", "--port", str(port))

        assert result.stdout.strip() == f"no devnet running on http://127.0.0.1:{port}; nothing to stop"
        assert psutil.pid_exists(int(other_pid))
    finally:
        jinbi("devnet", "down", "--port", str(other))


def test_status_names_non_rpc_listener(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]

        result = jinbi("devnet", "status", "--port", str(busy))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"no devnet running on http://127.0.0.1:{busy}: the port is in use by a program that is not a JSON-RPC chain"
    )


def test_up_rejects_foreign_code_at_suite_addresses(port: int, tmp_path: Path) -> None:
    anvil = start_anvil(port)
    try:
        w3 = connect(port)
        # Ten contracts whose runtime code is the single byte 0x00, at the suite's addresses.
        one_byte_runtime = "0x6001600c60003960016000f300"
        for _ in range(10):
            w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": one_byte_runtime}))

        status = jinbi("devnet", "status", "--port", str(port))
        result = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path))
    finally:
        stop_process(anvil.pid)

    assert "JINBI suite not deployed" in status.stdout
    assert result.returncode == 1
    assert f"error: port {port} serves a JSON-RPC chain (chain id 31337) without the JINBI suite" in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("confirmations: two", "invalid confirmations 'two'"),
        ('rpc_url_env: "A: B"', "invalid rpc_url_env 'A: B'"),
        ("policy: 5", "invalid policy '5'"),
    ],
    ids=["confirmations", "rpc-url-env", "policy"],
)
def test_up_rejects_invalid_settings_before_starting(port: int, tmp_path: Path, line: str, message: str) -> None:
    environment_file = tmp_path / "devnet" / "environment.yaml"
    environment_file.parent.mkdir(parents=True)
    environment_file.write_text(f"kind: Environment\n{line}\n")

    result = jinbi("devnet", "up", "--port", str(port), "--state-dir", str(tmp_path))

    assert result.returncode == 1
    assert f"error: {environment_file}: {message}" in result.stderr
    assert not port_in_use(port)
