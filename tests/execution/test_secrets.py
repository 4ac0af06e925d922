"""No output, log line, file or exception of an apply contains the key, the keystore password or RPC credentials."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from execution_support import KEY_SPELLINGS, book, onboarding_plan, rpc, run, set_automine, set_investors
from support.rpc_proxy import MethodFaults, fault_proxy

from reconciler.chain import rpc as chain_rpc
from reconciler.devnet import DEV_PRIVATE_KEY
from reconciler.errors import JinbiError
from reconciler.execution import EventKind, ExecutionEvent, Journal, Timeouts, acquire_lock, load_signer

PASSWORD = "keystore-password-7f3a"
URL_USER_SECRET = "rpcuser:rpc-password-91c2"
URL_PATH_KEY = "0123456789abcdef0123456789abcdef"
URL_QUERY_KEY = "apikey=query-key-55d1"
SECRETS = (*KEY_SPELLINGS, PASSWORD, "rpc-password-91c2", URL_PATH_KEY, "query-key-55d1")


def assert_clean(label: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{label} contains a secret"


def test_apply_outputs_and_files_carry_no_secret(
    chain: Any,
    journal_dir: Path,
    lock_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JINBI_PRIVATE_KEY", DEV_PRIVATE_KEY)
    signer = load_signer()
    texts: list[tuple[str, str]] = [("signer repr", repr(signer)), ("signer str", str(signer))]
    caplog.set_level(logging.DEBUG)

    # A clean apply, then the same plan without its journal: the booking reverts.
    plan = onboarding_plan(chain.deployment, chain.accounts)
    first = run(chain, signer, plan, Journal("devnet", "sha256:" + "01" * 32, directory=journal_dir), lock_dir)
    second = run(chain, signer, plan, Journal("devnet", "sha256:" + "02" * 32, directory=journal_dir), lock_dir)
    texts += [("result", first.describe()), ("result", second.describe()), ("outcomes", repr(second.outcomes))]
    with pytest.raises(JinbiError) as failure:
        second.raise_for_failures()
    texts.append(("failure", f"{failure.value} {failure.value.hint} {failure.value!r}"))

    # A replacement with raised fees while anvil does not mine.
    set_automine(chain.w3, False)
    try:

        def mine(event: ExecutionEvent) -> None:
            if event.kind is EventKind.REPLACED:
                rpc(chain.w3, "evm_mine")

        replaced = run(
            chain, signer, [set_investors(0, chain.deployment.compliance_registry, [chain.accounts[3]])],
            Journal("devnet", "sha256:" + "03" * 32, directory=journal_dir), lock_dir,
            timeouts=Timeouts(poll_interval=0.02, replace_after=0.2, receipt_timeout=20.0), progress=mine,
        )  # fmt: skip
    finally:
        set_automine(chain.w3, True)
    assert replaced.outcomes[0].attempts == 2
    texts.append(("replacement", replaced.describe()))

    # Temporary failures, then a revert, through an RPC URL with credentials in it: the transport
    # makes two attempts per send and the execution three, so the fifth attempt gets through.
    faults = MethodFaults()
    faults.unavailable["eth_sendRawTransaction"] = 4
    faults.unavailable["eth_getTransactionCount"] = 1
    with fault_proxy(chain.url, faults) as proxy:
        secret_url = proxy.url.replace("http://", f"http://{URL_USER_SECRET}@") + f"/v3/{URL_PATH_KEY}?{URL_QUERY_KEY}"
        w3 = chain_rpc.connect_url(secret_url, policy=chain_rpc.RetryPolicy(attempts=2, first_wait=0.01))
        through_credentials = run(
            chain, signer, [book(0, chain.deployment.dvp_settlement, "ALLOC-0007", chain.accounts[6])],
            Journal("devnet", "sha256:" + "04" * 32, directory=journal_dir), lock_dir, w3=w3,
        )  # fmt: skip
    assert through_credentials.outcomes[0].status.value == "failed"
    texts.append(("through credentials", through_credentials.describe()))

    # A permanent HTTP failure of the node: its requests exception names the URL, so it must not travel along.
    faults = MethodFaults()
    faults.unauthorized["eth_getTransactionCount"] = 1
    with fault_proxy(chain.url, faults) as proxy:
        secret_url = proxy.url.replace("http://", f"http://{URL_USER_SECRET}@") + f"/v3/{URL_PATH_KEY}?{URL_QUERY_KEY}"
        w3 = chain_rpc.connect_url(secret_url)
        with pytest.raises(JinbiError) as denied:
            run(chain, signer, plan, Journal("devnet", "sha256:" + "06" * 32, directory=journal_dir), lock_dir, w3=w3)
    assert denied.value.message == "the RPC node failed: HTTP 401 Unauthorized"
    assert denied.value.__context__ is None or denied.value.__suppress_context__
    texts.append(("node error", f"{denied.value} {denied.value.hint} {denied.value!r}"))

    # A second apply while the lock is held.
    with acquire_lock("devnet", directory=lock_dir), pytest.raises(JinbiError) as locked:
        run(chain, signer, plan, Journal("devnet", "sha256:" + "05" * 32, directory=journal_dir), lock_dir)
    texts.append(("lock error", f"{locked.value} {locked.value.hint}"))

    # Signer errors for values close to the key, and for a wrong keystore password.
    keystore = tmp_path / "keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(DEV_PRIVATE_KEY, PASSWORD, kdf="pbkdf2", iterations=1000)))
    for environ in (
        {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY + "0"},
        {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY[:-1] + "x"},
        {"JINBI_PRIVATE_KEY": DEV_PRIVATE_KEY, "JINBI_KEYSTORE": str(keystore)},
        {"JINBI_KEYSTORE": str(keystore), "JINBI_KEYSTORE_PASSWORD": PASSWORD[:-1]},
    ):
        with pytest.raises(JinbiError) as signer_error:
            load_signer(environ)
        texts.append(("signer error", f"{signer_error.value} {signer_error.value.hint} {signer_error.value!r}"))

    # Every text, log record, captured stream and file written.
    captured = capfd.readouterr()
    texts += [("log", caplog.text), ("stdout", captured.out), ("stderr", captured.err)]
    texts += [(f"log record {record.name}", repr(record.__dict__)) for record in caplog.records]
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path != keystore]
    assert any(path.suffix == ".json" and "journal" in path.parts for path in written)
    texts += [(str(path), path.read_text(errors="replace")) for path in written]
    for label, text in texts:
        assert_clean(label, text)
    # The logs did record the traffic that could have leaked: sends, retries and the URL's host.
    assert "failed temporarily, retrying in" in caplog.text
    assert "eth_sendRawTransaction" in caplog.text
