"""The RPC connection: retries of transient failures, permanent failures, request counts and URL redaction."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from rpc_proxy import Faults, faulty_proxy

from reconciler.chain import rpc
from reconciler.chain.observe import observe
from reconciler.devnet import free_port
from reconciler.errors import ChainError, ConfigurationError
from reconciler.model import Environment

FAST = rpc.RetryPolicy(attempts=3, first_wait=0.01, max_wait=0.02)
# A URL shaped like a hosted node's: userinfo, an API key in the path and a token in the query.
USERINFO = "reader:hunter2-password"
API_KEY = "k3y0123456789abcdefghijklmnopqrs"
TOKEN = "token=0xsecretquerytoken"


def secret_url(proxy_url: str) -> str:
    host = proxy_url.removeprefix("http://")
    return f"http://{USERINFO}@{host}/v3/{API_KEY}?{TOKEN}"


# --- transient and permanent failures -----------------------------------------


def test_failure_midway_is_error(chain: Any, environment: Environment, caplog: pytest.LogCaptureFixture) -> None:
    # Requests 1 and 2 pin the block and read the summary; the pages never arrive.
    with faulty_proxy(chain.url, Faults(fail_from=3)) as proxy:
        w3 = rpc.connect_url(proxy.url, policy=FAST)
        with pytest.raises(ChainError) as caught, caplog.at_level(logging.WARNING, logger="reconciler.chain.rpc"):
            observe(w3, environment)

    assert caught.value.message.startswith("reading ComplianceRegistry.investorsPage(0, 1) and 6 more calls at block ")
    assert caught.value.message.endswith("failed: HTTP 500 Internal Server Error")
    assert proxy.faults.failed == FAST.attempts
    counter = rpc.request_counter(w3)
    assert counter is not None
    assert counter.http_requests == 2 + FAST.attempts
    assert counter.retries == FAST.attempts - 1
    retries = [record.getMessage() for record in caplog.records]
    assert len(retries) == FAST.attempts - 1
    assert "failed temporarily, retrying in 0.01 s (attempt 2 of 3): HTTP 500" in retries[0]


def test_two_failures_then_complete(chain: Any, environment: Environment) -> None:
    expected = observe(rpc.connect_url(chain.url), environment)

    with faulty_proxy(chain.url, Faults(fail_at=2, fail_times=2)) as proxy:
        w3 = rpc.connect_url(proxy.url, policy=FAST)
        observation = observe(w3, environment)

    assert observation.state == expected.state
    assert observation.digest == expected.digest
    assert proxy.faults.failed == 2
    counter = rpc.request_counter(w3)
    assert counter is not None
    assert counter.retries == 2
    assert counter.http_requests == 4 + 2
    # The summary batch of 30 calls went out three times.
    assert observation.rpc_requests == 40 + 2 * 30


@pytest.mark.parametrize("status", [429, 502, 503], ids=["rate-limited", "bad-gateway", "unavailable"])
def test_transient_statuses_retried(chain: Any, environment: Environment, status: int) -> None:
    with faulty_proxy(chain.url, Faults(fail_at=1, fail_times=1, status=status)) as proxy:
        observation = observe(rpc.connect_url(proxy.url, policy=FAST), environment)

    assert proxy.faults.failed == 1
    assert observation.chain_id == 31337


def test_client_error_not_retried(chain: Any, environment: Environment) -> None:
    with faulty_proxy(chain.url, Faults(fail_from=1, status=403)) as proxy:
        with pytest.raises(ChainError) as caught:
            observe(rpc.connect_url(proxy.url, policy=FAST), environment)

    assert proxy.faults.failed == 1
    assert caught.value.message == "reading the chain id and the latest block failed: HTTP 403 Forbidden"


def test_connection_refused_is_error(environment: Environment) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChainError) as caught:
        observe(rpc.connect_url(url, policy=FAST), environment)

    assert caught.value.message == (
        "reading the chain id and the latest block failed: ConnectionError: connection failed"
    )


# --- redaction -------------------------------------------------------------------


def test_retry_log_redacts_url(chain: Any, environment: Environment, caplog: pytest.LogCaptureFixture) -> None:
    with faulty_proxy(chain.url, Faults(fail_at=1, fail_times=1)) as proxy:
        url = secret_url(proxy.url)
        with caplog.at_level(logging.DEBUG):
            observe(rpc.connect_url(url, policy=FAST), environment)

    port = proxy.url.rsplit(":", 1)[1]
    assert f"http://***@127.0.0.1:{port}/v3/***?***" in caplog.text
    assert "failed temporarily, retrying in" in caplog.text
    for secret in (USERINFO, "hunter2", API_KEY, TOKEN):
        assert secret not in caplog.text


def test_permanent_failure_redacts_url(chain: Any, environment: Environment, caplog: pytest.LogCaptureFixture) -> None:
    with faulty_proxy(chain.url, Faults(fail_from=1)) as proxy:
        url = secret_url(proxy.url)
        with pytest.raises(ChainError) as caught, caplog.at_level(logging.DEBUG):
            observe(rpc.connect_url(url, policy=FAST), environment)

    shown = f"{caught.value.message}\n{caught.value.hint}\n{caplog.text}"
    for secret in (USERINFO, "hunter2", API_KEY, TOKEN):
        assert secret not in shown


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://user:pass@node.example/rpc", "https://***@node.example/rpc"),
        ("https://mainnet.example/v3/0123456789abcdef0123456789abcdef", "https://mainnet.example/v3/***"),
        ("https://node.example/rpc?apikey=abc", "https://node.example/rpc?***"),
        ("https://node.example/12345678901234567890", "https://node.example/12345678901234567890"),
    ],
    ids=["plain", "userinfo", "long-path-segment", "query", "20-character-segment"],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert rpc.redact_url(url) == redacted


def test_redact_text_removes_secrets() -> None:
    url = "https://user:pass@node.example/v3/0123456789abcdef0123456789abcdef?key=1"
    text = "HTTPSConnectionPool(host='node.example'): url: /v3/0123456789abcdef0123456789abcdef?key=1 user:pass"

    assert rpc.redact_text(text, url) == "HTTPSConnectionPool(host='node.example'): url: /v3/***?*** ***"


# --- the URL of an environment ------------------------------------------------------


def test_devnet_defaults_to_local_anvil(environment: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(environment.rpc_url_env, raising=False)

    assert rpc.rpc_url(environment) == "http://127.0.0.1:8545"


def test_other_environment_needs_url(environment: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(environment.rpc_url_env, raising=False)
    mainnet = replace(environment, name="mainnet")

    with pytest.raises(ConfigurationError) as caught:
        rpc.rpc_url(mainnet)

    assert caught.value.message == "JINBI_RPC_URL is not set: environment mainnet reads its RPC URL from it"


def test_url_from_variable(environment: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.rpc_url_env, "http://127.0.0.1:9999")

    assert rpc.rpc_url(environment) == "http://127.0.0.1:9999"


def test_url_without_http_rejected(environment: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.rpc_url_env, "ws://user:pw@127.0.0.1:8546")

    with pytest.raises(ConfigurationError) as caught:
        rpc.rpc_url(environment)

    assert caught.value.message == (
        "JINBI_RPC_URL of environment devnet is not a valid http(s) URL: ws://***@127.0.0.1:8546"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("127.0.0.1:8545", "a value without a scheme such as http://"),
        ("http://[::1", "a value that cannot be parsed as a URL"),
        ("http://", "http://"),
    ],
    ids=["no-scheme", "unclosed-ipv6", "no-host"],
)
def test_malformed_url_rejected(
    environment: Environment, monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    monkeypatch.setenv(environment.rpc_url_env, value)

    with pytest.raises(ConfigurationError) as caught:
        rpc.rpc_url(environment)

    assert caught.value.message == f"JINBI_RPC_URL of environment devnet is not a valid http(s) URL: {shown}"
