"""JSON-RPC connections to an environment's chain.

`connect(environment)` returns a Web3 whose HTTP transport counts every
JSON-RPC request it sends (`request_counter(w3)`). It retries transient
failures (connection errors, timeouts, HTTP 429 and 5xx) with capped
exponential backoff. It never shows the RPC URL's credentials: userinfo, the
query string and path segments longer than 20 characters (API keys) are
replaced by `***` in logs and in error texts built with `error_text`.

The retries live in a `requests` transport adapter under web3's HTTPProvider,
so single requests and JSON-RPC batches take the same path. web3's own retry
(`exception_retry_configuration`) is switched off: it covers single requests
only, sleeps without logging and has no cap.

Callers: `reconciler.chain.observe`, `jinbi import`, and later plan and apply.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider, Web3

from reconciler.errors import ConfigurationError
from reconciler.model import Environment

log = logging.getLogger(__name__)

# Environment that may fall back to a local anvil when its RPC variable is unset.
DEVNET_NAME = "devnet"
DEVNET_DEFAULT_URL = "http://127.0.0.1:8545"
REQUEST_TIMEOUT_SECONDS = 30.0

# A path segment at least this long is taken for an API key and redacted, so
# that short segments such as "v3" stay readable.
SECRET_PATH_SEGMENT_LENGTH = 21
REDACTED = "***"


# --- request counting --------------------------------------------------------


@dataclass
class RequestCounter:
    """JSON-RPC traffic of one connection, retried attempts included."""

    http_requests: int = 0  # HTTP POSTs sent
    json_rpc_requests: int = 0  # JSON-RPC requests inside them: a batch of n counts n
    retries: int = 0  # HTTP attempts that were repeats of a failed attempt
    methods: Counter[str] = field(default_factory=Counter)  # JSON-RPC requests by method

    def reset(self) -> None:
        self.http_requests = 0
        self.json_rpc_requests = 0
        self.retries = 0
        self.methods.clear()

    def record(self, methods: list[str]) -> None:
        self.http_requests += 1
        self.json_rpc_requests += len(methods)
        self.methods.update(methods)


def _json_rpc_methods(body: bytes | str | None) -> list[str]:
    """Return the method of each JSON-RPC request in an HTTP request body, a batch or a single request."""
    if not body:
        return []
    try:
        payload = json.loads(body)
    except ValueError:
        return ["?"]
    requests_in_body = payload if isinstance(payload, list) else [payload]
    return [str(item.get("method", "?")) if isinstance(item, dict) else "?" for item in requests_in_body]


# --- redaction ---------------------------------------------------------------


def url_secrets(url: str) -> tuple[str, ...]:
    """Return the parts of URL that may be credentials: userinfo, query string, long path segments."""
    parts = urlsplit(url)
    secrets: list[str] = []
    if "@" in parts.netloc:
        secrets.append(parts.netloc.rpartition("@")[0])
    if parts.query:
        secrets.append(parts.query)
    secrets.extend(segment for segment in parts.path.split("/") if len(segment) >= SECRET_PATH_SEGMENT_LENGTH)
    # Longest first, so a secret that contains another is replaced whole.
    return tuple(sorted(set(secrets), key=len, reverse=True))


def redact_url(url: str) -> str:
    """Return URL with its userinfo, query string and long path segments replaced by ***."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{REDACTED}@{host}" if "@" in parts.netloc else host
    path = "/".join(
        REDACTED if len(segment) >= SECRET_PATH_SEGMENT_LENGTH else segment for segment in parts.path.split("/")
    )
    query = f"?{REDACTED}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"


def redact_text(text: str, url: str) -> str:
    """Replace every credential part of URL that occurs in TEXT (an error message, say) by ***."""
    for secret in url_secrets(url):
        text = text.replace(secret, REDACTED)
    return text


class _RedactSecrets(logging.Filter):
    """Redact the credentials of every connected URL from the arguments of a logger's records.

    Attached to web3's provider logger, whose debug lines name the endpoint, and
    to urllib3's connection pool logger, whose debug lines name the path and query.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add_url(self, url: str) -> None:
        self.secrets.update(url_secrets(url))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True

    def _redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


_SECRET_FILTER = _RedactSecrets()
logging.getLogger("urllib3.connectionpool").addFilter(_SECRET_FILTER)


# --- retries -----------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure: waits double from `first_wait` up to `max_wait`."""

    attempts: int = 6  # HTTP attempts in total, the first included
    first_wait: float = 0.5  # seconds
    max_wait: float = 8.0  # seconds


def is_transient_status(status: int) -> bool:
    """Tell whether an HTTP status is worth retrying: 429 (rate limited) and every 5xx."""
    return status == 429 or 500 <= status <= 599


def _transient_response(response: object) -> bool:
    # NOTE: a node that reports rate limiting inside an HTTP 200 JSON-RPC error is not retried.
    return isinstance(response, requests.Response) and is_transient_status(response.status_code)


class _RetryingAdapter(HTTPAdapter):
    """A transport adapter that counts each attempt and retries transient failures with tenacity."""

    def __init__(self, counter: RequestCounter, policy: RetryPolicy, shown_url: str) -> None:
        super().__init__()
        self.counter = counter
        self.policy = policy
        self.shown_url = shown_url

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        methods = _json_rpc_methods(request.body)
        what = methods[0] if len(methods) == 1 else f"batch of {len(methods)} requests"

        def attempt() -> requests.Response:
            self.counter.record(methods)
            return HTTPAdapter.send(self, request, *args, **kwargs)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.counter.retries += 1
            outcome = state.outcome
            assert outcome is not None and state.next_action is not None
            if outcome.failed:
                reason = type(outcome.exception()).__name__
            else:
                response = outcome.result()
                reason = f"HTTP {response.status_code}"
                response.close()  # give the connection back to the pool before the next attempt
            log.warning(
                "JSON-RPC %s to %s failed temporarily, retrying in %g s (attempt %s of %s): %s",
                what,
                self.shown_url,
                state.next_action.sleep,
                state.attempt_number + 1,
                self.policy.attempts,
                reason,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=tenacity.wait_exponential(multiplier=self.policy.first_wait, max=self.policy.max_wait),
            retry=(
                tenacity.retry_if_exception_type((requests.ConnectionError, requests.Timeout))
                | tenacity.retry_if_result(_transient_response)
            ),
            before_sleep=before_sleep,
            # After the last attempt, a transient response goes back to web3, which raises
            # HTTPError for its status; an exception is raised as it is.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        response: requests.Response = retrying(attempt)
        return response


class CountingHTTPProvider(HTTPProvider):
    """web3's HTTP provider over the retrying, counting adapter, with the URL redacted wherever web3 shows it."""

    logger = logging.getLogger(f"{__name__}.http")

    def __init__(self, url: str, *, timeout: float, policy: RetryPolicy) -> None:
        self.counter = RequestCounter()
        self.shown_url = redact_url(url)
        _SECRET_FILTER.add_url(url)
        session = requests.Session()
        adapter = _RetryingAdapter(self.counter, policy, self.shown_url)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        super().__init__(
            url,
            request_kwargs={"timeout": timeout},
            session=session,
            exception_retry_configuration=None,
        )

    def __str__(self) -> str:
        return f"RPC connection {self.shown_url}"


CountingHTTPProvider.logger.addFilter(_SECRET_FILTER)


# --- the factory -------------------------------------------------------------


def rpc_url(environment: Environment) -> str:
    """Return the RPC URL of ENVIRONMENT from the variable its `rpc_url_env` names.

    Only the devnet environment falls back to a local anvil on 127.0.0.1:8545.
    Raises ConfigurationError when the variable is unset for any other environment.
    """
    url = os.environ.get(environment.rpc_url_env, "").strip()
    if url:
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # such as an unclosed IPv6 bracket
            valid = False
        if not valid:
            shown = _shown_invalid_url(url)
            raise ConfigurationError(
                f"{environment.rpc_url_env} of environment {environment.name} is not a valid http(s) URL: {shown}",
                hint="set it to the node's HTTP JSON-RPC endpoint, such as http://127.0.0.1:8545",
            )
        return url
    if environment.name == DEVNET_NAME:
        return DEVNET_DEFAULT_URL
    raise ConfigurationError(
        f"{environment.rpc_url_env} is not set: environment {environment.name} reads its RPC URL from it",
        hint=f"export {environment.rpc_url_env} with the node's HTTP JSON-RPC endpoint",
    )


def _shown_invalid_url(url: str) -> str:
    """Return an invalid URL as an error may show it: redacted, or described when it can't be parsed."""
    if "://" not in url:
        return "a value without a scheme such as http://"
    try:
        return redact_url(url)
    except ValueError:
        return "a value that cannot be parsed as a URL"


def connect_url(
    url: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS, policy: RetryPolicy | None = None
) -> Web3:
    """Return a Web3 on URL with request counting, retries and redaction."""
    return Web3(CountingHTTPProvider(url, timeout=timeout, policy=policy or RetryPolicy()))


def connect(
    environment: Environment, *, timeout: float = REQUEST_TIMEOUT_SECONDS, policy: RetryPolicy | None = None
) -> Web3:
    """Return a Web3 on ENVIRONMENT's RPC URL with request counting, retries and redaction."""
    return connect_url(rpc_url(environment), timeout=timeout, policy=policy)


def request_counter(w3: Web3) -> RequestCounter | None:
    """Return the request counter of a Web3 made by `connect`, or None for any other Web3."""
    provider = w3.provider
    return provider.counter if isinstance(provider, CountingHTTPProvider) else None


def error_text(w3: Web3, error: BaseException) -> str:
    """Describe ERROR from a request through W3 in one line, without the URL's credentials."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        response = error.response
        return f"HTTP {response.status_code} {response.reason}".rstrip()
    # requests' own messages name the host and the path, which may carry a key.
    if isinstance(error, requests.Timeout):
        return f"{type(error).__name__}: timed out"
    if isinstance(error, requests.ConnectionError):
        return f"{type(error).__name__}: connection failed"
    text = str(error) or type(error).__name__
    endpoint = getattr(w3.provider, "endpoint_uri", None)
    return redact_text(text, str(endpoint)) if endpoint else text
