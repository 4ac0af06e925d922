"""A JSON-RPC proxy on 127.0.0.1 that forwards to anvil and injects faults by JSON-RPC method.

Three faults, each for the next N requests of one method:

- `lose_response`: the request reaches anvil, but the client gets HTTP 502 in
  place of anvil's response, as when a gateway drops the response to a
  transaction that the node did accept;
- `unavailable`: the client gets HTTP 503 and anvil never receives the request;
- `unauthorized`: the client gets HTTP 401, a permanent failure, and anvil never receives the request.

It forwards only to the upstream URL it is given, which the tests set to a
local anvil, and it handles single requests; a batch always passes through.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class MethodFaults:
    """Remaining faults per JSON-RPC method, and what the proxy saw."""

    lose_response: Counter[str] = field(default_factory=Counter)
    unavailable: Counter[str] = field(default_factory=Counter)
    unauthorized: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str) -> str | None:
        """Count a request of METHOD and return the fault to inject into it, if any."""
        with self.lock:
            self.seen[method] += 1
            faults = (
                ("unauthorized", self.unauthorized),
                ("unavailable", self.unavailable),
                ("lose_response", self.lose_response),
            )
            for name, remaining in faults:
                if remaining[method] > 0:
                    remaining[method] -= 1
                    self.injected[method] += 1
                    return name
            return None


@dataclass
class FaultProxy:
    url: str
    faults: MethodFaults


@contextmanager
def fault_proxy(upstream: str, faults: MethodFaults) -> Iterator[FaultProxy]:
    """Run a proxy to UPSTREAM on a free 127.0.0.1 port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            payload = json.loads(body)
            method = payload.get("method", "") if isinstance(payload, dict) else ""
            fault = faults.take(method) if method else None
            if fault == "unauthorized":
                self._respond(401, b'{"message": "injected: unauthorized"}')
                return
            if fault == "unavailable":
                self._respond(503, b'{"message": "injected: service unavailable"}')
                return
            request = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                status, content = response.status, response.read()
            if fault == "lose_response":
                self._respond(502, b'{"message": "injected: the answer was lost"}')
                return
            self._respond(status, content)

        def _respond(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FaultProxy(url=f"http://127.0.0.1:{server.server_address[1]}", faults=faults)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
