"""The local chain: anvil from the pinned npm package with the JINBI suite deployed.

`jinbi devnet up` starts anvil in the background on 127.0.0.1, deploys the
contracts from anvil's first development account and writes
state/devnet/environment.yaml. On a fresh anvil that account's nonces start at
0, so the contracts always land at the same addresses and the committed file
stays valid. The process id and log of each devnet live under .jinbi/devnet-PORT/.

Tests use `LocalChain` directly: an anvil child process on a free port.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import logging
import os
import platform
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import yaml
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from reconciler import PROJECT_ROOT
from reconciler.errors import DevnetError

log = logging.getLogger(__name__)

CHAIN_ID = 31337
HOST = "127.0.0.1"
BLOCK_GAS_LIMIT = 30_000_000

# The devnet's genesis time, 2026-10-01T00:00:00Z. anvil's clock starts there
# and runs on with the wall clock, so the committed devnet state (trade dates,
# lockups, coupon dates) means the same thing whatever day the demo runs.
GENESIS_TIMESTAMP = 1_790_812_800
RUNTIME_DIR = PROJECT_ROOT / ".jinbi"

# anvil's first development account, derived from its public test mnemonic.
# It is the devnet's deployer, role holder and treasury, and has no real value.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

# Heartbeats of the devnet price feeds: the maximum age in seconds of a feed's
# latest round before the morning check raises an alert.
FEED_HEARTBEATS = {"XAU/USD": 3600, "USDC/USD": 86400}
FEED_DECIMALS = 8

# The devnet's anvil options besides its host, port and output.
DEVNET_ARGUMENTS = (
    "--chain-id", str(CHAIN_ID),
    "--gas-limit", str(BLOCK_GAS_LIMIT),
    "--timestamp", str(GENESIS_TIMESTAMP),
)  # fmt: skip
# The line anvil prints once it listens, such as "Listening on 127.0.0.1:8545".
LISTENING_RE = re.compile(rb"Listening on [0-9.]+:([0-9]+)")

# Settings a user may edit in the environment file; `up` keeps their values.
DEFAULT_SETTINGS: dict[str, Any] = {
    "rpc_url_env": "JINBI_RPC_URL",
    "confirmations": 1,
    "face_value_usdc": "1.000000",
    "policy": {"max_revocations_per_apply": 25, "regs_lockup_days": 40},
}


def dev_account() -> LocalAccount:
    """Return anvil's first development account (the devnet signer)."""
    account: LocalAccount = Account.from_key(DEV_PRIVATE_KEY)
    return account


# npm platform packages of @foundry-rs/anvil, by Python's platform names.
_ANVIL_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
    ("Darwin", "arm64"): "darwin-arm64",
}


def find_anvil() -> Path:
    """Locate the anvil binary of the pinned npm package (or $JINBI_ANVIL).

    The native binary of the platform package is preferred over the node
    wrapper in node_modules/.bin, so the recorded process id is anvil's own:
    killing a wrapper would leave anvil running without a parent.
    """
    configured = os.environ.get("JINBI_ANVIL")
    if configured:
        path = Path(configured)
    else:
        suffix = _ANVIL_PLATFORMS.get((platform.system(), platform.machine()), "")
        native = PROJECT_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{suffix}" / "bin" / "anvil"
        path = native if suffix and native.exists() else PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    if not path.exists():
        raise DevnetError(
            f"anvil not found at {path}",
            hint="run `npm ci` in the repository root (or `make demo`, which installs it)",
        )
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def rpc_url(port: int) -> str:
    return f"http://{HOST}:{port}"


class NoJsonRpc(Exception):
    """Nothing on the port returned a valid JSON-RPC response."""


def _rpc(port: int, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """Send one JSON-RPC request and return its result, or raise NoJsonRpc."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(rpc_url(port), data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read(1_000_000))
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise NoJsonRpc(str(error)) from error
    if not isinstance(reply, dict) or reply.get("result") is None:
        raise NoJsonRpc(f"invalid JSON-RPC response to {method}")
    return reply["result"]


def start_anvil(port: int, *, log_path: Path | None = None, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start anvil on 127.0.0.1:PORT and wait until it responds to JSON-RPC.

    With `detach`, the process gets its own session so it outlives the command
    that started it, and its output goes to LOG_PATH.
    """
    anvil = find_anvil()
    if port_in_use(port):
        raise DevnetError(
            f"port {port} on {HOST} is already in use by another program",
            hint="stop that program or pass another --port",
        )
    command = [
        str(anvil),
        "--host", HOST,
        "--port", str(port),
        *DEVNET_ARGUMENTS,
        # Without --silent anvil prints its development accounts' private keys.
        "--silent",
    ]  # fmt: skip
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    finally:
        if log_path:
            output.close()  # type: ignore[union-attr]
    try:
        _wait_until_ready(port, process)
    except DevnetError:
        stop_process(process.pid)
        raise
    log.info("anvil started on %s (pid %s)", rpc_url(port), process.pid)
    return process


def spawn_anvil_on_free_port(arguments: Sequence[str], timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], int]:
    """Start anvil with ARGUMENTS on a port that anvil's own bind chooses, and return the process and the port.

    A port probed free beforehand can be taken by another program before anvil
    binds it, and a client would then talk to that program's chain. Port 0
    leaves no such gap. Anvil announces the chosen port only without
    --silent, so its output, which also lists its public development keys, is
    read for that line and then discarded, never logged.
    """
    command = [str(find_anvil()), "--host", HOST, "--port", "0", *arguments]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    announced: queue.Queue[int | None] = queue.Queue(maxsize=1)
    threading.Thread(target=_read_port, args=(process.stdout, announced), daemon=True).start()
    try:
        port = announced.get(timeout=timeout)
    except KeyboardInterrupt:
        stop_process(process.pid)  # Ctrl-C while anvil starts: no anvil outlives the command
        raise
    except queue.Empty:
        stop_process(process.pid)
        raise DevnetError(
            f"anvil did not announce its port within {timeout:.0f} s",
            hint="check the machine's load, or run node_modules/.bin/anvil by hand to see its output",
        ) from None
    if port is None:
        process.wait()
        raise DevnetError(
            f"anvil exited with code {process.returncode} before it announced its port",
            hint="run node_modules/.bin/anvil by hand to see its error",
        )
    return process, port


def _read_port(stream: IO[bytes], announced: queue.Queue[int | None]) -> None:
    """Put the port of anvil's "Listening on" line into ANNOUNCED (None at end of output), and drain STREAM."""
    port = None
    for line in stream:
        if port is None:
            match = LISTENING_RE.search(line)
            if match:
                port = int(match[1])
                announced.put(port)
    if port is None:
        announced.put(None)


def _wait_until_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevnetError(
                f"anvil exited with code {process.returncode} before it responded on port {port}",
                hint="see the anvil log under .jinbi/ or run node_modules/.bin/anvil by hand",
            )
        try:
            _rpc(port, "eth_chainId", timeout=0.5)
            return
        except NoJsonRpc:
            time.sleep(0.05)
    raise DevnetError(f"anvil did not respond on port {port} within {timeout:.0f} s")


def stop_process(pid: int, timeout: float = 5.0) -> None:
    """Stop PID with SIGTERM, then SIGKILL after TIMEOUT seconds.

    A detached anvil is no child of ours once `up` has exited, and an init
    process that does not reap leaves it a zombie, so a zombie counts as stopped.
    """
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        if not _wait_stopped(process, timeout):
            process.kill()
            _wait_stopped(process, timeout)
    except psutil.NoSuchProcess:
        return


def _wait_stopped(process: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
            process.wait(0.05)
            return True
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            return True
    return False


def connect(port: int) -> Web3:
    return Web3(Web3.HTTPProvider(rpc_url(port), request_kwargs={"timeout": 30}))


# --- the suite on a chain ----------------------------------------------------


@dataclass
class LocalChain:
    """An anvil child process on a free port with the suite deployed (for tests and benches)."""

    port: int
    process: subprocess.Popen[bytes]
    w3: Web3
    deployment: Any

    @classmethod
    def start(cls, port: int | None = None) -> LocalChain:
        from reconciler.chain.deploy import deploy_suite

        if port is None:
            process, chosen = spawn_anvil_on_free_port(DEVNET_ARGUMENTS)
        else:
            process, chosen = start_anvil(port), port
        try:
            _wait_until_ready(chosen, process)
            w3 = connect(chosen)
            deployment = deploy_suite(w3, dev_account())
        except BaseException:
            stop_process(process.pid)
            raise
        return cls(port=chosen, process=process, w3=w3, deployment=deployment)

    @property
    def url(self) -> str:
        return rpc_url(self.port)

    def stop(self) -> None:
        stop_process(self.process.pid)


def suite_deployed(w3: Web3, addresses: dict[str, str]) -> bool:
    """Return whether each address has the runtime code of its contract in the suite.

    Code lengths are compared, not bytes, because deployment fills the
    immutables inside the code; a length match rules out unrelated contracts.
    """
    from reconciler.chain import artifacts
    from reconciler.chain.deploy import CONTRACTS

    artifact_names = dict(CONTRACTS)
    for field_name, address in addresses.items():
        expected = artifacts.load(artifact_names[field_name]).deployed_bytecode
        code = w3.eth.get_code(Web3.to_checksum_address(address))
        if len(code) != (len(expected) - 2) // 2:
            return False
    return True


def expected_addresses() -> dict[str, str]:
    """Return the addresses the suite gets on a fresh anvil (CREATE from the dev account)."""
    from reconciler.chain.deploy import deployment_plan_addresses

    return deployment_plan_addresses(dev_account().address)


# --- `jinbi devnet up | down | status` --------------------------------------


def _runtime_dir(port: int) -> Path:
    return RUNTIME_DIR / f"devnet-{port}"


def _read_pid(port: int) -> int | None:
    try:
        return int((_runtime_dir(port) / "anvil.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_our_anvil(pid: int, port: int) -> bool:
    """Return whether PID is an anvil listening on PORT (a stale pid file may name another process)."""
    try:
        command = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if not command or "anvil" not in Path(command[0]).name:
        return False
    return any(a == "--port" and b == str(port) for a, b in zip(command, command[1:], strict=False))


@contextmanager
def _port_lock(port: int) -> Iterator[None]:
    """Hold an exclusive lock for PORT, so concurrent `up` and `down` calls run one at a time."""
    runtime = _runtime_dir(port)
    runtime.mkdir(parents=True, exist_ok=True)
    with open(runtime / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class DevnetStatus:
    """The chain found on a devnet port, if any."""

    port: int
    answering: bool
    pid: int | None
    chain_id: int | None = None
    block_number: int | None = None
    suite_deployed: bool = False
    foreign: bool = False  # something listens on the port but is no JSON-RPC chain

    def describe(self) -> str:
        if self.foreign:
            return f"no devnet running on {rpc_url(self.port)}: the port is in use by a program that is not a JSON-RPC chain"
        if not self.answering:
            return f"no devnet running on {rpc_url(self.port)}"
        owner = f"pid {self.pid}" if self.pid else "not started by `jinbi devnet up`"
        suite = "JINBI suite deployed" if self.suite_deployed else "JINBI suite not deployed"
        return (
            f"devnet running on {rpc_url(self.port)} ({owner}): chain id {self.chain_id}, "
            f"block {self.block_number}, {suite}"
        )


def status(port: int) -> DevnetStatus:
    """Read what runs on PORT: our anvil, another chain, or nothing."""
    pid = _read_pid(port)
    if pid is not None and not _is_our_anvil(pid, port):
        pid = None
    try:
        chain_id = int(_rpc(port, "eth_chainId"), 16)
        block_number = int(_rpc(port, "eth_blockNumber"), 16)
    except (NoJsonRpc, TypeError, ValueError):
        if port_in_use(port):
            return DevnetStatus(port=port, answering=False, pid=pid, foreign=True)
        return DevnetStatus(port=port, answering=False, pid=pid)
    deployed = chain_id == CHAIN_ID and suite_deployed(connect(port), expected_addresses())
    return DevnetStatus(port, True, pid, chain_id, block_number, deployed)


@dataclass(frozen=True)
class UpResult:
    """The outcome of `jinbi devnet up`."""

    status: DevnetStatus
    started: bool
    environment_file: Path | None

    def describe(self) -> str:
        if not self.started:
            return f"{self.status.describe()}; nothing to do"
        return f"{self.status.describe()}\nwrote {self.environment_file}"


def up(port: int, state_dir: Path) -> UpResult:
    """Start anvil on PORT, deploy the suite and write the devnet environment file.

    Does nothing when the suite already runs there. Raises DevnetError when the
    port is taken by anything else. Concurrent calls for one port run one at a time.
    """
    environment_file = state_dir / "devnet" / "environment.yaml"
    with _port_lock(port):
        current = status(port)
        if current.answering and current.suite_deployed:
            return UpResult(status=current, started=False, environment_file=None)
        # Check the environment file's settings and that it can be written before deploying.
        existing = _existing_settings(environment_file)
        _check_writable(environment_file)
        return _start_and_deploy(port, current, environment_file, existing)


def _start_and_deploy(port: int, current: DevnetStatus, environment_file: Path, existing: dict[str, Any]) -> UpResult:
    if current.answering:
        raise DevnetError(
            f"port {port} serves a JSON-RPC chain (chain id {current.chain_id}) without the JINBI suite",
            hint=f"stop that chain (`jinbi devnet down --port {port}` if devnet up started it) or pass another --port",
        )

    runtime = _runtime_dir(port)
    runtime.mkdir(parents=True, exist_ok=True)
    process = start_anvil(port, log_path=runtime / "anvil.log", detach=True)
    (runtime / "anvil.pid").write_text(f"{process.pid}\n")
    try:
        from reconciler.chain.deploy import deploy_suite

        w3 = connect(port)
        deployment = deploy_suite(w3, dev_account())
        environment_file.write_text(render_environment(deployment, existing), encoding="utf-8")
    except BaseException:
        stop_process(process.pid)
        (runtime / "anvil.pid").unlink(missing_ok=True)
        raise
    return UpResult(status=status(port), started=True, environment_file=environment_file)


def down(port: int) -> str:
    """Stop the anvil that `up` started on PORT; return what was done."""
    with _port_lock(port):
        return _down(port)


def _down(port: int) -> str:
    pid = _read_pid(port)
    pid_file = _runtime_dir(port) / "anvil.pid"
    if pid is None or not _is_our_anvil(pid, port):
        pid_file.unlink(missing_ok=True)
        if port_in_use(port):
            raise DevnetError(
                f"a program listens on port {port} but `jinbi devnet up` did not start it; not stopping it",
                hint="stop it by hand, or pass the --port that devnet up used",
            )
        return f"no devnet running on {rpc_url(port)}; nothing to stop"
    stop_process(pid)
    pid_file.unlink(missing_ok=True)
    return f"stopped devnet on {rpc_url(port)} (pid {pid})"


# --- environment file --------------------------------------------------------


_ENV_VAR_RE = re.compile(r"[A-Z_][A-Z0-9_]*")
_USDC_RE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,6})?")
_COUNT_RE = re.compile(r"[0-9]{1,9}")
_DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,77})(\.[0-9]{1,36})?")

# The optional `checks` section of the environment file: each setting's pattern, and whether it is written quoted.
CHECK_SETTINGS: dict[str, tuple[re.Pattern[str], bool]] = {
    "large_transfer_usd": (_DECIMAL_RE, True),
    "max_rejection_rate_percent": (_DECIMAL_RE, True),
    "activity_window_hours": (_COUNT_RE, False),
    "attestation_max_age_days": (_COUNT_RE, False),
    "max_log_block_range": (_COUNT_RE, False),
}


def _existing_settings(path: Path) -> dict[str, Any]:
    """Read and check the user-editable settings of an existing environment file.

    Raises DevnetError naming the setting when one can't be written back as it is.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise DevnetError(f"cannot read {path}: {error}", hint="fix or delete the file; `up` writes a new one") from error
    try:
        # BaseLoader keeps every scalar as the string it was written as.
        loaded = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds no objects
    except yaml.YAMLError as error:
        raise DevnetError(f"{path} is not valid YAML: {error}", hint="fix or delete the file; `up` writes a new one") from error
    if not isinstance(loaded, dict):
        return {}
    checks = {
        "rpc_url_env": (_ENV_VAR_RE, "an environment variable name such as JINBI_RPC_URL"),
        "confirmations": (_COUNT_RE, "a whole number of blocks such as 1"),
        "face_value_usdc": (_USDC_RE, 'a decimal USDC amount with at most 6 places, such as "1.000000"'),
    }
    for key, (pattern, expected) in checks.items():
        value = loaded.get(key)
        if value is not None and not (isinstance(value, str) and pattern.fullmatch(value)):
            raise DevnetError(f"{path}: invalid {key} {value!r}", hint=f"write {expected}, or delete the line")
    policy = loaded.get("policy")
    if policy is not None and not (
        isinstance(policy, dict) and all(isinstance(v, str) and _COUNT_RE.fullmatch(v) for v in policy.values())
    ):
        raise DevnetError(f"{path}: invalid policy {policy!r}", hint="write a mapping of limits to whole numbers")
    for name, feed in (loaded.get("price_feeds") or {}).items():
        heartbeat = feed.get("heartbeat_seconds") if isinstance(feed, dict) else None
        if heartbeat is not None and not _COUNT_RE.fullmatch(heartbeat):
            raise DevnetError(f"{path}: invalid heartbeat_seconds {heartbeat!r} of feed {name}", hint="write seconds")
        for bound in ("min_answer", "max_answer"):
            value = feed.get(bound) if isinstance(feed, dict) else None
            if value is not None and not (isinstance(value, str) and _DECIMAL_RE.fullmatch(value)):
                raise DevnetError(
                    f"{path}: invalid {bound} {value!r} of feed {name}",
                    hint='write a decimal number in the feed\'s units, such as "1000", or delete it',
                )
    thresholds = loaded.get("checks")
    if thresholds is not None and not isinstance(thresholds, dict):
        raise DevnetError(f"{path}: invalid checks {thresholds!r}", hint="write a mapping of check settings, or delete it")
    for key, value in (thresholds or {}).items():
        if key not in CHECK_SETTINGS:
            raise DevnetError(f"{path}: unknown setting checks.{key}", hint=f"use one of {', '.join(CHECK_SETTINGS)}")
        if not (isinstance(value, str) and CHECK_SETTINGS[key][0].fullmatch(value)):
            raise DevnetError(f"{path}: invalid checks.{key} {value!r}", hint="write a number, or delete the line")
    return loaded


def _check_writable(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.probe"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise DevnetError(
            f"cannot write the environment file {path}: {error.strerror}",
            hint="pass a writable --state-dir",
        ) from error


def render_environment(deployment: Any, existing: dict[str, Any]) -> str:
    """Render state/devnet/environment.yaml for DEPLOYMENT, keeping user-edited settings."""
    settings = {key: existing.get(key, default) for key, default in DEFAULT_SETTINGS.items()}
    policy = {**DEFAULT_SETTINGS["policy"], **(settings["policy"] or {})}
    old_feeds = existing.get("price_feeds") or {}
    feeds = {
        name: {
            "address": f'"{getattr(deployment, field)}"',
            "decimals": FEED_DECIMALS,
            "heartbeat_seconds": int((old_feeds.get(name) or {}).get("heartbeat_seconds", FEED_HEARTBEATS[name])),
            **{
                bound: f'"{value}"'  # checked against _DECIMAL_RE
                for bound in ("min_answer", "max_answer")
                if (value := (old_feeds.get(name) or {}).get(bound)) is not None
            },
        }
        for name, field in (("XAU/USD", "xau_usd_feed"), ("USDC/USD", "usdc_usd_feed"))
    }
    checks = [
        f'  {key}: "{value}"' if CHECK_SETTINGS[key][1] else f"  {key}: {int(value)}"
        for key, value in (existing.get("checks") or {}).items()
    ]
    contracts = {
        name: getattr(deployment, name)
        for name in (
            "compliance_registry",
            "compliance_oracle",
            "security_token",
            "dvp_settlement",
            "corporate_actions",
            "transfer_agent_bridge",
            "custody_attestations",
            "usdc",
        )
    }
    lines = [
        "# yaml-language-server: $schema=../../schemas/environment.schema.json",
        "# Written by `jinbi devnet up`: the addresses are those of a fresh anvil and",
        "# stay the same on every run. rpc_url_env, confirmations, face_value_usdc,",
        "# policy, checks and the feeds' heartbeats and answer bounds are kept.",
        "kind: Environment",
        "name: devnet",
        f"chain_id: {CHAIN_ID}",
        f"rpc_url_env: {settings['rpc_url_env']}",  # checked against _ENV_VAR_RE
        f"confirmations: {int(settings['confirmations'])}",
        f'treasury: "{deployment.treasury}"',
        "contracts:",
        *(f'  {name}: "{address}"' for name, address in contracts.items()),
        "decimals:",
        "  security_token: 18",
        "  usdc: 6",
        f'face_value_usdc: "{settings["face_value_usdc"]}"',
        "price_feeds:",
        *(f"  {name}: {{{', '.join(f'{key}: {value}' for key, value in feed.items())}}}" for name, feed in feeds.items()),
        "policy:",
        *(f"  {key}: {int(value)}" for key, value in policy.items()),
        *(["checks:", *checks] if checks else []),
    ]
    return "\n".join(lines) + "\n"


def write_environment(path: Path, deployment: Any) -> Path:
    """Write the devnet environment file for DEPLOYMENT at PATH."""
    text = render_environment(deployment, _existing_settings(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
