"""A JSON-RPC proxy on 127.0.0.1 that forwards to anvil and injects faults.

Faults chosen by JSON-RPC method, each for the next N requests of that method:

- `lose_response`: the request reaches anvil, but the client gets HTTP 502 in
  place of anvil's response, as when a gateway drops the response to a
  transaction that the node did accept;
- `unavailable`: the client gets HTTP 503 and anvil never receives the request;
- `unauthorized`: the client gets HTTP 401, a permanent failure, and anvil never receives the request.

Faults drawn at random from a seeded generator (`RandomFaults`), one draw per
request in arrival order, so a client that sends one request at a time meets
the same faults on every run:

- `drop`: the connection closes before anvil receives the request;
- `drop_after`: anvil handles the request, then the connection closes without a response;
- `http_500` and `http_429`: the client gets that status and anvil never receives the request;
- `lose_response`: as above;
- `delay`: the proxy waits `delay` seconds, longer than the client's timeout,
  and only then forwards the request, so anvil may handle it after the client's retry.

A `hook` is called twice for every request, when it arrives and after anvil
answered it, and can drop the connection at either point. Tests use it to
act on the chain at a chosen request, or to lose chosen responses. The proxy forwards only to the upstream URL it is
given, which the tests set to a local anvil. It handles single requests; a
JSON-RPC batch passes through, drawn and hooked under the method "batch".
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Phase(StrEnum):
    """Where a request is when the hook is called."""

    RECEIVED = "received"  # anvil has not seen it yet
    ANSWERED = "answered"  # anvil handled it; the client has not got the response yet


# Called with the request's number (from 1, in arrival order), its method, the
# phase and the request body. When it returns True, the proxy closes the
# connection without forwarding or responding.
RequestHook = Callable[[int, str, Phase, bytes], bool]

RANDOM_FAULT_KINDS = ("drop", "drop_after", "http_500", "http_429", "lose_response", "delay")


@dataclass
class RandomFaults:
    """Faults drawn with probability `rate` per request from a generator seeded with `seed`.

    Only requests of `methods` draw, when it is set. `limit` caps the number of
    faults in all, so a long run cannot be starved.
    """

    seed: int
    rate: float
    kinds: tuple[str, ...] = RANDOM_FAULT_KINDS
    delay: float = 1.0  # seconds, for `delay`
    methods: frozenset[str] | None = None
    limit: int | None = None
    generator: random.Random = field(init=False)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(RANDOM_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: expected some of {RANDOM_FAULT_KINDS}")
        self.generator = random.Random(self.seed)

    def draw(self, method: str, injected_so_far: int) -> str | None:
        if self.methods is not None and method not in self.methods:
            return None
        if self.limit is not None and injected_so_far >= self.limit:
            return None
        # Two draws per request whatever the outcome, so one request's fault never shifts the next one's.
        hit = self.generator.random() < self.rate
        kind = self.kinds[self.generator.randrange(len(self.kinds))]
        return kind if hit else None


@dataclass
class MethodFaults:
    """Remaining faults per JSON-RPC method, random faults, the hook, and what the proxy saw."""

    lose_response: Counter[str] = field(default_factory=Counter)
    unavailable: Counter[str] = field(default_factory=Counter)
    unauthorized: Counter[str] = field(default_factory=Counter)
    random: RandomFaults | None = None
    hook: RequestHook | None = None
    seen: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    log: list[tuple[int, str, str]] = field(default_factory=list)  # (request number, method, fault)
    hook_errors: list[BaseException] = field(default_factory=list)  # raised by the hook; the connection was dropped
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str) -> tuple[int, str | None]:
        """Count a request of METHOD and return its number and the fault to inject into it, if any."""
        with self.lock:
            self.requests += 1
            number = self.requests
            self.seen[method] += 1
            fault = self._counted_fault(method)
            if fault is None and self.random is not None:
                fault = self.random.draw(method, len(self.log))
            if fault is not None:
                self.injected[method] += 1
                self.log.append((number, method, fault))
            return number, fault

    def _counted_fault(self, method: str) -> str | None:
        faults = (
            ("unauthorized", self.unauthorized),
            ("unavailable", self.unavailable),
            ("lose_response", self.lose_response),
        )
        for name, remaining in faults:
            if remaining[method] > 0:
                remaining[method] -= 1
                return name
        return None


@dataclass
class FaultProxy:
    url: str
    faults: MethodFaults


# Status and body of each fault that responds without forwarding, or after forwarding.
_REFUSALS = {
    "unauthorized": (401, b'{"message": "injected: unauthorized"}'),
    "unavailable": (503, b'{"message": "injected: service unavailable"}'),
    "http_500": (500, b'{"message": "injected: internal server error"}'),
    "http_429": (429, b'{"message": "injected: too many requests"}'),
}
_LOST_RESPONSE = (502, b'{"message": "injected: the answer was lost"}')


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a delayed request closed its socket; writing to it fails, as intended.
        return


@contextmanager
def fault_proxy(upstream: str, faults: MethodFaults) -> Iterator[FaultProxy]:
    """Run a proxy to UPSTREAM on a free 127.0.0.1 port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            payload = json.loads(body)
            method = str(payload.get("method", "")) if isinstance(payload, dict) else "batch"
            number, fault = faults.take(method)

            if self._hook(number, method, Phase.RECEIVED, body):
                self._drop()
                return
            if fault in _REFUSALS:
                self._respond(*_REFUSALS[fault])
                return
            if fault == "drop":
                self._drop()
                return
            if fault == "delay":
                assert faults.random is not None
                time.sleep(faults.random.delay)

            request = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                status, content = response.status, response.read()

            if self._hook(number, method, Phase.ANSWERED, body):
                self._drop()
                return
            if fault == "lose_response":
                self._respond(*_LOST_RESPONSE)
                return
            if fault == "drop_after":
                self._drop()
                return
            self._respond(status, content)

        def _hook(self, number: int, method: str, phase: Phase, body: bytes) -> bool:
            """Run the hook; an exception in it is kept for the test and drops the connection."""
            if faults.hook is None:
                return False
            try:
                return faults.hook(number, method, phase, body)
            except Exception as error:  # noqa: BLE001 - handed to the test through hook_errors
                faults.hook_errors.append(error)
                return True

        def _respond(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _drop(self) -> None:
            """Close the connection without a response, as a crashed gateway or a network failure does."""
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FaultProxy(url=f"http://127.0.0.1:{server.server_address[1]}", faults=faults)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
