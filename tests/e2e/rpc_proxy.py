"""A JSON-RPC proxy in front of a real node, for the chaos tests: it can be cut (the port refuses
connections, as when the node's host goes away) and restored on the same port, and it can refuse
requests whose body is over a size (as public nodes and providers do, with HTTP 413), leave requests
for some methods unanswered, and hold requests for some methods until told to let them through (a
node that is slow to answer)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from daifa.devnet import free_port


class RpcProxy:
    def __init__(self, target: str, max_body: int | None = None) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.max_body = max_body
        self.unanswered: set[str] = set()  # methods whose requests get no answer: the connection just closes
        self.held: dict[str, threading.Event] = {}  # method -> set when its requests may go on
        self.port = free_port()
        self.seen: Counter[str] = Counter()  # "forwarded", "refused"
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                proxy._open.add(self.connection)

            def finish(self) -> None:
                proxy._open.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if proxy.max_body is not None and length > proxy.max_body:
                    proxy.seen["refused"] += 1
                    self._answer(413, b"request entity too large", "text/plain")
                    return
                if any(f'"{method}"'.encode() in body for method in proxy.unanswered):
                    proxy.seen["unanswered"] += 1
                    self.close_connection = True
                    return
                for method, released in list(proxy.held.items()):
                    if f'"{method}"'.encode() in body:
                        proxy.seen["held"] += 1
                        released.wait(timeout=60)
                connection = http.client.HTTPConnection(*proxy.target, timeout=60)
                try:
                    connection.request("POST", "/", body, {"Content-Type": "application/json"})
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                proxy.seen["forwarded"] += 1
                self._answer(answer.status, data, "application/json")

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="rpc-proxy", daemon=True).start()

    def cut(self) -> None:
        """The node's port stops answering: new connections are refused, open ones closed."""
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        for connection in list(self._open):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._server is not None:
            self.cut()
