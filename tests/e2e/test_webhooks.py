"""Webhooks against hostile receivers and hostile URLs: a receiver that trickles its answer a byte at a
time, one that sends gigabytes, a compression bomb, a redirect; URLs aimed at the platform's own machine
and network, in every spelling, and a name that resolves elsewhere once registered (DNS rebinding).
Deliveries take their deadline at most and a few kilobytes of memory, run on their own thread while the
money moves, never reach a forbidden address, and an endpoint that keeps failing is disabled and its owner
told."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from daifa.services.notifications import emit
from daifa.services.outbound import Outbound
from daifa.store import models as m
from tests.e2e.harness import Daifa, Party

pytestmark = pytest.mark.chains("eth-tester")


class Receiver:
    """A real TCP server on 127.0.0.1 that answers every request with `respond(connection)` and counts the
    requests it got."""

    def __init__(self, respond: Callable[[socket.socket], None]) -> None:
        self.respond = respond
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            with contextlib.suppress(OSError):  # the platform hung up: as it should, past its deadline or cap
                self.respond(connection)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def trickle(connection: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        connection.sendall(bytes([byte]))
        time.sleep(1.0)


def gigabytes(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n")
    block = b"\0" * 65536
    for _ in range(32_768):
        connection.sendall(block)


BOMB = gzip.compress(b"\0" * (64 * 2**20), compresslevel=9)  # 64 MiB of zeros in ~64 KB


def bomb(connection: socket.socket) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(BOMB)}\r\n\r\n"
    connection.sendall(head.encode() + BOMB)


def fails(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")


def ok(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")


@pytest.fixture
def receivers() -> Iterator[Callable[[Callable[[socket.socket], None]], Receiver]]:
    made: list[Receiver] = []

    def make(respond: Callable[[socket.socket], None]) -> Receiver:
        made.append(Receiver(respond))
        return made[-1]

    yield make
    for r in made:
        r.close()


def events_for(daifa: Daifa, party: Party, count: int) -> None:
    with daifa.platform.sessions.begin() as session:
        for n in range(count):
            emit(session, "test.ping", f"party:{party.id[4:]}", {"n": n}, [int(party.id[4:])])


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def deliveries(daifa: Daifa) -> list[m.WebhookDelivery]:
    with daifa.platform.sessions() as session:
        return list(session.scalars(select(m.WebhookDelivery).order_by(m.WebhookDelivery.id)))


def test_a_trickling_receiver_costs_its_deadline_and_never_holds_the_money(daifa: Daifa, receivers: Any) -> None:
    payer = daifa.onboard("employer", "payer")
    slow = receivers(trickle)
    daifa.post("/v1/webhook_endpoints", payer.key, json={"url": slow.url}, expect=201)
    dispatcher = daifa.platform.webhooks
    dispatcher.deadline = 2.0
    events_for(daifa, payer, 6)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.1))
    thread.start()
    try:
        time.sleep(0.5)  # the receiver is now trickling to the platform's two connections
        started = time.monotonic()
        daifa.onboard("labour-firm", "payee")  # an approval relayed, mined and read back meanwhile
        assert time.monotonic() - started < 5
        time.sleep(3.0)
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    tried = [d for d in deliveries(daifa) if d.attempts]
    assert tried and all("within 2 s" in (d.last_error or "") for d in tried)
    assert slow.requests <= 2 * 4  # two at a time to one endpoint, each cut at the deadline


def test_a_flood_or_a_compression_bomb_costs_a_few_kilobytes(daifa: Daifa, receivers: Any) -> None:
    payer = daifa.onboard("employer", "payer")
    for respond in (gigabytes, bomb):
        daifa.post("/v1/webhook_endpoints", payer.key, json={"url": receivers(respond).url}, expect=201)
    events_for(daifa, payer, 2)
    before = rss()
    started = time.monotonic()
    delivered = daifa.platform.webhooks.run_once()
    assert time.monotonic() - started < 8
    assert rss() - before < 30 * 2**20
    assert delivered == 4  # a 2xx delivers, whatever follows it: the body is not read past a few KB
    assert all(d.status == "delivered" for d in deliveries(daifa) if d.attempts)


def test_a_redirect_is_not_followed(daifa: Daifa, receivers: Any) -> None:
    payer = daifa.onboard("employer", "payer")
    target = receivers(ok)

    def redirect(connection: socket.socket) -> None:
        connection.sendall(
            f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target.url}\r\nContent-Length: 0\r\n\r\n".encode()
        )

    daifa.post("/v1/webhook_endpoints", payer.key, json={"url": receivers(redirect).url}, expect=201)
    events_for(daifa, payer, 1)
    assert daifa.platform.webhooks.run_once() == 0
    assert target.requests == 0
    [delivery] = [d for d in deliveries(daifa) if d.attempts]
    assert delivery.status == "pending" and delivery.last_response_status == 307


FORBIDDEN_URLS = [
    "https://127.0.0.1/hooks",
    "https://localhost/hooks",
    "https://[::1]/hooks",
    "https://0.0.0.0/hooks",
    "https://2130706433/hooks",
    "https://0x7f000001/hooks",
    "https://127.1/hooks",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.5/hooks",
    "https://192.168.1.1/hooks",
    "https://172.16.0.1/hooks",
    "https://100.64.0.1/hooks",
    "https://[::ffff:10.0.0.5]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fc00::1]/hooks",
    "https://224.0.0.1/hooks",
    "https://user:secret@hooks.example.test/hooks",
    "http://hooks.example.test/hooks",
    "ftp://hooks.example.test/hooks",
    "https:///hooks",
    "https://hooks.example.test:99999/hooks",
]


def test_urls_aimed_at_the_platforms_own_network_are_refused(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    outbound: Outbound = daifa.platform.ports.outbound
    outbound.allow_local = False  # as in production
    outbound.resolver = lambda host, port: {"hooks.example.test": ["93.184.215.14"]}.get(host, ["127.0.0.1"])
    for url in FORBIDDEN_URLS:
        refused = daifa.post("/v1/webhook_endpoints", payer.key, json={"url": url}, expect=422)
        assert refused["problems"][0]["field"] == "url", url
    assert daifa.count(m.WebhookEndpoint) == 0
    # A public name is taken; five at most per party.
    for n in range(5):
        daifa.post("/v1/webhook_endpoints", payer.key, json={"url": f"https://hooks.example.test/{n}"}, expect=201)
    daifa.post("/v1/webhook_endpoints", payer.key, json={"url": "https://hooks.example.test/6"}, expect=409)


def test_a_name_that_resolves_to_loopback_after_registration_is_refused_at_delivery(
    daifa: Daifa, receivers: Any
) -> None:
    payer = daifa.onboard("employer", "payer")
    local = receivers(ok)
    outbound: Outbound = daifa.platform.ports.outbound
    outbound.allow_local = False
    answers = iter([["93.184.215.14"]])  # public when registered, loopback ever after
    outbound.resolver = lambda host, port: next(answers, ["127.0.0.1"])
    daifa.post(
        "/v1/webhook_endpoints", payer.key, json={"url": f"https://rebind.example.test:{local.port}/"}, expect=201
    )
    events_for(daifa, payer, 1)
    assert daifa.platform.webhooks.run_once() == 0
    assert local.requests == 0
    [delivery] = [d for d in deliveries(daifa) if d.attempts]
    assert "refused" in (delivery.last_error or "") and "loopback" in (delivery.last_error or "")


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told(daifa: Daifa, receivers: Any) -> None:
    payer = daifa.onboard("employer", "payer")
    failing = receivers(fails)
    endpoint = daifa.post("/v1/webhook_endpoints", payer.key, json={"url": failing.url}, expect=201)
    dispatcher = daifa.platform.webhooks
    dispatcher.first_retry = timedelta(0)
    dispatcher.disable_after_failures, dispatcher.disable_after = 3, timedelta(0)
    events_for(daifa, payer, 1)
    for _ in range(4):
        dispatcher.run_once()
    assert failing.requests == 3
    shown = daifa.get("/v1/webhook_endpoints", payer.key)["data"][0]
    assert not shown["enabled"] and shown["failures"] == 3 and "500" in shown["disabled_reason"]
    told = daifa.get("/v1/events?type=webhook_endpoint.disabled", payer.key)["data"]
    assert [e["subject"] for e in told] == [endpoint["id"]]
    events_for(daifa, payer, 1)
    dispatcher.run_once()
    assert failing.requests == 3  # nothing more is sent to it
    enabled = daifa.post(f"/v1/webhook_endpoints/{endpoint['id']}/enable", payer.key, expect=200)
    assert enabled["enabled"] and enabled["failures"] == 0 and enabled["disabled_reason"] is None


def test_retries_wait_longer_each_time_with_jitter(daifa: Daifa) -> None:
    dispatcher = daifa.platform.webhooks
    dispatcher.first_retry = timedelta(seconds=10)
    for attempts, base in ((1, 10), (2, 20), (3, 40), (12, 20_480)):
        waits = {dispatcher._pause(attempts).total_seconds() for _ in range(50)}
        assert all(base / 2 <= w <= base for w in waits) and len(waits) > 40, (attempts, sorted(waits)[:3])
    assert dispatcher._pause(40).total_seconds() <= 6 * 3_600


def test_only_open_accounts_register_endpoints(daifa: Daifa) -> None:
    application = daifa.apply("applicant", "payee")
    key = application["api_key"]
    refused = daifa.post("/v1/webhook_endpoints", key, json={"url": "https://hooks.example.test/"}, expect=403)
    assert "under review" in refused["detail"]
