"""A JSON-RPC proxy on 127.0.0.1 that forwards to anvil and responds to chosen requests with HTTP errors.

The tests point a reconciler connection at it to see retries, permanent
failures and request counts against a real chain. It ignores the request's
path, query and credentials, so a URL with secrets in them still reaches anvil.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Faults:
    """Which HTTP requests fail, numbered from 1 in arrival order.

    From `fail_from` on, every request gets `status`; from `fail_at` on, the
    next `fail_times` requests get it and the later ones pass. `before`, when
    set, runs with the number of each forwarded request before it is forwarded.
    """

    fail_from: int | None = None
    fail_at: int | None = None
    fail_times: int = 0
    status: int = 500
    before: Callable[[int], None] | None = None
    seen: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fails(self) -> bool:
        with self.lock:
            self.seen += 1
            number = self.seen
            fails = (self.fail_from is not None and number >= self.fail_from) or (
                self.fail_at is not None and self.fail_at <= number < self.fail_at + self.fail_times
            )
            if fails:
                self.failed += 1
            elif self.before is not None:
                self.before(number)
            return fails


@dataclass
class Proxy:
    url: str
    faults: Faults


@contextmanager
def faulty_proxy(upstream: str, faults: Faults) -> Iterator[Proxy]:
    """Run a proxy to UPSTREAM on a free 127.0.0.1 port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if faults.next_fails():
                self._answer(faults.status, b'{"message": "injected failure"}')
                return
            request = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                self._answer(response.status, response.read())

        def _answer(self, status: int, payload: bytes) -> None:
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
        yield Proxy(url=f"http://127.0.0.1:{server.server_address[1]}", faults=faults)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
