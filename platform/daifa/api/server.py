"""Serving the API with uvicorn, hardened for the internet: a bounded number of connections (in all, and
from one address), deadlines for a request's headers and for its body, a bound on header bytes, and a
bound on requests per keep-alive connection.

uvicorn (0.54, httptools) has none of these: a client that sends a request's headers one byte every
few seconds keeps its connection, and its file descriptor, as long as it likes; one that never ends its
headers makes the parser buffer them without a limit. `GuardedHttpToolsProtocol` adds them to uvicorn's
own protocol. They suit a platform that faces the internet directly; behind a reverse proxy that
enforces its own (nginx: client_header_timeout, client_body_timeout, limit_conn, large_client_header_buffers)
they are a second line, and `per_client` should be 0, since every connection then comes from the proxy.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from daifa.api.connection_limits import LIMITS_ENVIRONMENT, ConnectionLimits
from daifa.devnet import free_port


def _canned(status: str, code: str, detail: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP response written before any request was parsed (or instead of one)."""
    body = json.dumps({"type": f"urn:daifa:problem:{code}", "title": code.replace("_", " "),
                       "status": int(status.split()[0]), "detail": detail, "code": code}).encode()  # fmt: skip
    head = [
        f"HTTP/1.1 {status}",
        "content-type: application/problem+json",
        f"content-length: {len(body)}",
        "connection: close",
        *([f"retry-after: {retry_after}"] if retry_after is not None else []),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_TOO_MANY = _canned(
    "503 Service Unavailable",
    "too_many_connections",
    "the server has as many connections as it takes: retry shortly",
    5,
)
_TOO_MANY_FROM_YOU = _canned(
    "429 Too Many Requests", "too_many_connections", "too many open connections from your address: reuse fewer", 5
)
_HEADERS_TOO_LARGE = _canned(
    "431 Request Header Fields Too Large", "headers_too_large", "the request line and headers are too large: send less"
)
_TOO_SLOW = _canned(
    "408 Request Timeout", "request_timeout", "the request took too long to arrive: send it again, whole"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of `ConnectionLimits` (see the module docstring)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits.from_environment()
    _per_client: ClassVar[Counter[str]] = Counter()  # one event loop per process: no lock needed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._host = self.client[0] if self.client else ""
        self._per_client[self._host] += 1
        self._timer: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0
        self._requests = 0
        self._refused = False
        limits = self.limits
        if len(self.connections) > limits.max_connections:
            self._refuse(_TOO_MANY)
        elif limits.per_client and self._per_client[self._host] > limits.per_client:
            self._refuse(_TOO_MANY_FROM_YOU)
        else:
            self._arm(limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._per_client[self._host] -= 1
        if self._per_client[self._host] <= 0:
            del self._per_client[self._host]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_headers
            and self._header_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(_HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._arm(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes = 0
        # Headers that arrived in one read were not counted while they came: count them now.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refuse(_HEADERS_TOO_LARGE)
            return
        self._requests += 1
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()
        if self._requests >= self.limits.max_requests_per_connection and self.cycle is not None:
            self.cycle.keep_alive = False  # this answer says Connection: close

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_message_complete()

    # ------------------------------------------------------------------------------ helpers

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._reading_headers:  # an idle new connection goes quietly; half a request is told why
            self._refuse(_TOO_SLOW if self._header_bytes else b"")
        else:
            self.transport.close()  # a body that stopped arriving: the app reads a disconnect

    def _refuse(self, response: bytes) -> None:
        self._refused = True
        self._disarm()
        if response:
            self.transport.write(response)
        self.transport.close()


def uvicorn_config(app: Any, host: str, port: int, limits: ConnectionLimits, **kwargs: Any) -> uvicorn.Config:
    """A uvicorn configuration with the guarded protocol and its limits (also for spawned API processes)."""
    os.environ[LIMITS_ENVIRONMENT] = limits.to_environment()
    GuardedHttpToolsProtocol.limits = limits
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=max(1, round(limits.keep_alive)),
        backlog=min(2_048, limits.max_connections),
        server_header=False,
        log_config=None,
        access_log=False,
        **{"proxy_headers": False, **kwargs},  # addresses come from the socket unless a proxy is trusted
    )


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", limits: ConnectionLimits | None = None) -> Iterator[str]:
    """Serves `app` from a background thread until the block ends, with the same protocol and limits as
    `daifa serve`; yields its base URL. For the demo and the tests."""
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, host, port, limits or ConnectionLimits(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="daifa-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the API did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run(
    app: Any,
    host: str,
    port: int,
    limits: ConnectionLimits,
    *,
    workers: int = 1,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serves until stopped: `app` in this process, or (workers > 1) the factory import string `app` in
    `workers` processes sharing one socket, each with the guarded protocol."""
    from uvicorn.supervisors import Multiprocess

    proxy = {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips} if forwarded_allow_ips else {}
    options: dict[str, Any] = {"workers": workers, "factory": workers > 1, **proxy}
    config = uvicorn_config(app, host, port, limits, **options)
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
