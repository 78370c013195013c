"""`daifa serve` attacked over raw sockets, as a stranger on the internet would: a body nested 100,000 deep,
bodies far over their limit (declared and streamed), a header flood, a thousand connections that never
finish their headers, and wrong keys by the dozen. Each gets its answer at once, the process keeps its
memory and file descriptors, and it goes on serving others. Everything is bounded: at most 70 MB sent,
a thousand connections, and each step stops by itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daifa.devnet import free_port

pytestmark = pytest.mark.chains("eth-tester")  # the embedded chain: `daifa serve` with no node
HEADER_TIMEOUT = 2.0
PER_CLIENT = 100


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """Resident memory of the server process, bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def raw(self, request: bytes, source: str = "127.0.0.1", timeout: float = 10) -> bytes:
        """Sends `request` on a new connection and returns what comes back until the server closes it or
        a whole response has arrived."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout, source_address=(source, 0)) as s:
            s.sendall(request)
            return _read_response(s)


def _read_response(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def problem_code(response: bytes) -> str:
    return str(json.loads(response.partition(b"\r\n\r\n")[2])["code"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "daifa.cli.main", "serve", "--port", str(port), "--data-dir", str(folder),
            "--header-timeout", str(HEADER_TIMEOUT), "--per-client-connections", str(PER_CLIENT),
            "--log-format", "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "API on" in line:
                break
        threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
        served = Server(process, port)
        deadline = time.monotonic() + 60
        while not _healthy(served.url):
            assert time.monotonic() < deadline and served.alive(), "the server did not become healthy"
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/v1/health").status_code == 200
    except httpx.TransportError:
        return False


def post_head(path: str, length: int | None, content_type: str = "application/json", extra: str = "") -> bytes:
    headers = [
        f"POST {path} HTTP/1.1",
        "Host: daifa",
        f"Content-Type: {content_type}",
        f"Idempotency-Key: {uuid.uuid4()}",
        "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}",
    ]
    return ("\r\n".join(headers) + extra + "\r\n\r\n").encode()


def test_a_body_nested_100000_deep_is_refused_and_the_server_lives(server: Server) -> None:
    body = b"[" * 100_000 + b"]" * 100_000  # 200 KB
    response = server.raw(post_head("/v1/parties", len(body)) + body)
    assert status_of(response) == 400 and problem_code(response) == "json_too_deep"
    response = server.raw(post_head("/v1/plans", len(body)) + body)
    assert status_of(response) == 400 and problem_code(response) == "json_too_deep"
    assert server.alive() and httpx.get(server.url + "/v1/health").status_code == 200


def test_bodies_over_their_limit_are_cut_off_without_the_memory_they_claim(server: Server) -> None:
    before = server.rss()
    # Declared: a gibibyte, refused before a byte of it is read.
    started = time.monotonic()
    response = server.raw(post_head("/v1/parties", 2**30))
    assert status_of(response) == 413 and problem_code(response) == "body_too_large"
    assert time.monotonic() - started < 2

    # Streamed with no length: a plan is cut off at its 4 MiB, an upload at its 64 MiB.
    for path, content_type, size in (
        ("/v1/plans", "application/json", 20 * 2**20),
        ("/v1/parties", "multipart/form-data; boundary=x", 70 * 2**20),
    ):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(post_head(path, None, content_type))
            chunk = b"%x\r\n%s\r\n" % (2**20, b"0" * 2**20)
            sent = 0
            try:
                while sent < size:
                    s.sendall(chunk)
                    sent += 2**20
                s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading: what it answered is waiting
            response = _read_response(s)
        assert status_of(response) == 413, (path, response[:300])
    assert server.rss() - before < 150 * 2**20, f"{(server.rss() - before) / 2**20:.0f} MiB more"
    assert server.alive()


def test_a_header_flood_gets_431(server: Server) -> None:
    flood = "".join(f"\r\nX-Filler-{n}: {'a' * 1000}" for n in range(40))
    response = server.raw(post_head("/v1/parties", 0, extra=flood))
    assert status_of(response) == 431


def test_a_thousand_half_sent_requests_hold_nothing_for_long(server: Server) -> None:
    baseline = server.descriptors()
    slow: list[socket.socket] = []
    refused_at_once = 0
    try:
        for _ in range(1_000):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: daifa\r\nX-Slow: ")  # and never the rest
            slow.append(s)
        time.sleep(0.5)
        for s in slow:
            s.setblocking(False)
            try:
                if s.recv(65536).startswith(b"HTTP/1.1 429"):
                    refused_at_once += 1
            except BlockingIOError:
                pass
        assert refused_at_once >= 1_000 - PER_CLIENT - 5, refused_at_once
        # Someone else, from another address, is served meanwhile.
        started = time.monotonic()
        answer = server.raw(b"GET /v1/health HTTP/1.1\r\nHost: daifa\r\n\r\n", source="127.0.0.2")
        assert status_of(answer) == 200 and time.monotonic() - started < 2
        # The connections that stopped mid-header are dropped after the header timeout.
        time.sleep(HEADER_TIMEOUT + 1.5)
        assert server.descriptors() <= baseline + 10, (server.descriptors(), baseline)
    finally:
        for s in slow:
            s.close()
    assert server.alive()


def test_wrong_keys_by_the_dozen_are_told_to_wait(server: Server) -> None:
    answers = [httpx.get(server.url + "/v1/plans", headers={"Authorization": f"Bearer dk_guess{n}"}) for n in range(25)]
    statuses = [a.status_code for a in answers]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 5
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["code"] == "rate_limited"
    assert refused.headers["Content-Type"] == "application/problem+json"
    # The address is refused before any lookup, even with a good key, until it waits.
    assert httpx.get(server.url + "/v1/health").status_code == 200  # health needs no key


def test_every_answer_says_its_request_id_and_forbids_sniffing(server: Server) -> None:
    for response in (
        httpx.get(server.url + "/v1/health"),
        httpx.get(server.url + "/v1/nowhere"),
        httpx.post(server.url + "/v1/parties", content=b"[" * 50, headers={"Content-Type": "application/json"}),
    ):
        assert response.headers["Request-Id"].startswith("req_")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    given = httpx.get(server.url + "/v1/health", headers={"Request-Id": "trace-42"})
    assert given.headers["Request-Id"] == "trace-42"


def test_a_request_cut_off_half_way_runs_nothing_and_its_retry_runs_once(server: Server) -> None:
    """A client whose connection drops half-way through an upload retries with the same key: the half it
    sent ran nothing and was kept as nothing, so the whole retry is answered as a first request."""
    key = str(uuid.uuid4())
    address = "0x" + uuid.uuid4().hex[:8] + "00" * 16
    request = httpx.Request(
        "POST",
        server.url + "/v1/parties",
        headers={"Idempotency-Key": key},
        data={"address": address, "legal_name": "Halfway Ltd", "kind": "payee"},
        files=[("files", ("licence.pdf", b"%PDF-1.4\n" + b"x" * 4000, "application/pdf"))],
    )
    body = request.read()
    head = ["POST /v1/parties HTTP/1.1", "Host: daifa", f"Idempotency-Key: {key}"]
    head += [f"Content-Type: {request.headers['content-type']}", f"Content-Length: {len(body)}"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
        time.sleep(0.2)  # the server has read the half before the connection drops
    retried = httpx.Client().send(request)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    again = httpx.Client().send(request)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
