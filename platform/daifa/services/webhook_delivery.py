"""Webhook deliveries, on their own event loop and thread, never on the path that relays money.

Deliveries are at least once: each event has one delivery row per endpoint, written with the event. The
dispatcher takes due deliveries with a lease (so two workers do not both post the same one), posts each
with a deadline for the whole attempt (connecting, sending, the answer's status and headers, and the
first RESPONSE_CAP bytes of its body, read raw: never decompressed, never more), and records what
happened. A 2xx delivers; anything else is retried after a pause that doubles each time, with jitter,
up to MAX_ATTEMPTS. An endpoint that failed DISABLE_AFTER_FAILURES times in a row over at least
DISABLE_AFTER is disabled, and its owner told through the events feed (`webhook_endpoint.disabled`).

A slow receiver holds at most PER_ENDPOINT of the CONCURRENCY connections, and each for at most the
deadline: one that answers a byte every few seconds, sends gigabytes or a compression bomb costs the
platform a few kilobytes and `deadline` seconds, and other endpoints' deliveries go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpcore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daifa.domain.webhooks import DELIVERY, DeliveryEvent, DeliveryStatus
from daifa.services import records
from daifa.services.notifications import emit, forget_endpoints
from daifa.services.outbound import Outbound
from daifa.services.webhooks import body_of
from daifa.store import models as m
from daifa.webhook_signatures import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=6)
CONCURRENCY = 16  # attempts at once
PER_ENDPOINT = 2  # attempts at once to one endpoint
DEADLINE = 10.0  # seconds for a whole attempt
RESPONSE_CAP = 4 * 1024  # bytes of a response body read, at most
DISABLE_AFTER_FAILURES = 20
DISABLE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    endpoint_id: int
    url: str
    secret: str
    body: bytes
    event_id: str


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class WebhookDispatcher:
    sessions: sessionmaker[Session]
    outbound: Outbound
    first_retry: timedelta = FIRST_RETRY  # doubled after each failed attempt, up to LONGEST_WAIT
    deadline: float = DEADLINE
    concurrency: int = CONCURRENCY
    per_endpoint: int = PER_ENDPOINT
    response_cap: int = RESPONSE_CAP
    disable_after_failures: int = DISABLE_AFTER_FAILURES
    disable_after: timedelta = DISABLE_AFTER
    in_flight: Counter[int] = field(default_factory=Counter)  # endpoint id -> attempts under way

    # ------------------------------------------------------------------------------ running

    def run_once(self, limit: int = 100) -> int:
        """Attempts every due delivery (up to `limit`) and waits for them; returns how many delivered."""
        return asyncio.run(self._drain(limit))

    def run_forever(self, stop: threading.Event, idle: float = 0.5) -> None:
        """Delivers until `stop` is set, keeping up to `concurrency` attempts under way."""
        asyncio.run(self._forever(stop, idle))

    async def _drain(self, limit: int) -> int:
        pool = self._pool()
        async with pool:
            attempts = await asyncio.to_thread(self._claim, limit, ignore_busy=True)
            gate = asyncio.Semaphore(self.concurrency)
            outcomes = await asyncio.gather(*(self._attempt_gated(pool, gate, a) for a in attempts))
        await asyncio.to_thread(self._record, list(outcomes))
        return sum(o.delivered for o in outcomes)

    async def _forever(self, stop: threading.Event, idle: float) -> None:
        running: set[asyncio.Task[Outcome]] = set()
        async with self._pool() as pool:
            while not stop.is_set() or running:
                free = 0 if stop.is_set() else self.concurrency - len(running)
                if free > 0:
                    try:
                        attempts = await asyncio.to_thread(self._claim, free)
                    except Exception:
                        log.exception("webhooks: could not take due deliveries; trying again")
                        attempts = []
                    for attempt in attempts:
                        self.in_flight[attempt.endpoint_id] += 1
                        running.add(asyncio.create_task(self._attempt(pool, attempt)))
                if not running:
                    await asyncio.sleep(idle)
                    continue
                done, running = await asyncio.wait(running, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                outcomes = [task.result() for task in done]
                for outcome in outcomes:
                    self.in_flight[outcome.attempt.endpoint_id] -= 1
                if outcomes:
                    try:
                        await asyncio.to_thread(self._record, outcomes)
                    except Exception:  # the lease runs out and the deliveries are tried again
                        log.exception("webhooks: could not record %s outcomes", len(outcomes))

    def _pool(self) -> httpcore.AsyncConnectionPool:
        return httpcore.AsyncConnectionPool(
            max_connections=self.concurrency,
            max_keepalive_connections=0,  # each attempt connects afresh: its address is checked again
            network_backend=self.outbound.backend(),
        )

    # ------------------------------------------------------------------------------ one attempt

    async def _attempt_gated(
        self, pool: httpcore.AsyncConnectionPool, gate: asyncio.Semaphore, attempt: Attempt
    ) -> Outcome:
        async with gate:
            return await self._attempt(pool, attempt)

    async def _attempt(self, pool: httpcore.AsyncConnectionPool, attempt: Attempt) -> Outcome:
        try:
            self.outbound.check_url(attempt.url)
        except Exception as refused:
            return Outcome(attempt, None, f"refused: {refused}")
        headers = [
            (b"Content-Type", b"application/json"),
            (b"User-Agent", b"Daifa-Webhooks/1"),
            (b"Accept-Encoding", b"identity"),
            (SIGNATURE_HEADER.encode(), sign(attempt.secret, int(time.time()), attempt.body).encode()),
            (b"Daifa-Event-Id", attempt.event_id.encode()),
        ]
        timeouts = {"connect": self.deadline, "read": self.deadline, "write": self.deadline, "pool": self.deadline}
        try:
            async with asyncio.timeout(self.deadline):
                async with pool.stream(
                    "POST", attempt.url, headers=headers, content=attempt.body, extensions={"timeout": timeouts}
                ) as response:
                    read = 0
                    async for chunk in response.aiter_stream():  # raw bytes: never decompressed
                        read += len(chunk)
                        if read >= self.response_cap:
                            break
                    return Outcome(attempt, response.status, None)
        except TimeoutError:
            return Outcome(attempt, None, f"no complete answer within {self.deadline:g} s")
        except Exception as error:  # refused addresses, TLS, protocol errors: the receiver's problem to fix
            return Outcome(attempt, None, f"{type(error).__name__}: {error}"[:500])

    # ------------------------------------------------------------------------------ the database

    def _claim(self, limit: int, ignore_busy: bool = False) -> list[Attempt]:
        """Due deliveries, leased for the length of an attempt and a margin. Deliveries of a disabled
        endpoint fail here without a request; endpoints already at PER_ENDPOINT attempts wait."""
        now = m.utcnow()
        lease = now + timedelta(seconds=self.deadline + 30)
        busy = Counter() if ignore_busy else Counter(self.in_flight)
        taken: list[Attempt] = []
        with self.sessions.begin() as session:
            due = session.scalars(
                select(m.WebhookDelivery)
                .where(m.WebhookDelivery.status == DeliveryStatus.PENDING, m.WebhookDelivery.next_attempt_at <= now)
                .order_by(m.WebhookDelivery.id)
                .limit(max(limit * 4, 100))
                .with_for_update(skip_locked=True)
            ).all()
            endpoints = {e.id: e for e in session.scalars(
                select(m.WebhookEndpoint).where(m.WebhookEndpoint.id.in_({d.endpoint_id for d in due}))
            )}  # fmt: skip
            for delivery in due:
                endpoint = endpoints[delivery.endpoint_id]
                if not endpoint.enabled:
                    delivery.status = DELIVERY.next(DeliveryStatus(delivery.status), DeliveryEvent.GIVEN_UP)
                    delivery.last_error = "endpoint disabled"
                    continue
                if len(taken) >= limit or (not ignore_busy and busy[endpoint.id] >= self.per_endpoint):
                    continue
                event = session.get(m.Event, delivery.event_id)
                assert event is not None
                delivery.next_attempt_at = lease
                busy[endpoint.id] += 1
                event_id = records.public_id(m.Event, event.id)
                taken.append(Attempt(delivery.id, endpoint.id, endpoint.url, endpoint.secret, body_of(event), event_id))
        return taken

    def _record(self, outcomes: list[Outcome]) -> None:
        now = m.utcnow()
        with self.sessions.begin() as session:
            for outcome in outcomes:
                delivery = session.get(m.WebhookDelivery, outcome.attempt.delivery_id, with_for_update=True)
                endpoint = session.get(m.WebhookEndpoint, outcome.attempt.endpoint_id, with_for_update=True)
                if delivery is None or endpoint is None or delivery.status != DeliveryStatus.PENDING:
                    continue
                delivery.attempts += 1
                delivery.last_response_status = outcome.status
                delivery.last_error = outcome.error
                if outcome.delivered:
                    delivery.status = DELIVERY.next(DeliveryStatus(delivery.status), DeliveryEvent.DELIVERED)
                    delivery.delivered_at = now
                    endpoint.failures, endpoint.failing_since = 0, None
                    continue
                log.info(
                    "webhook %s to endpoint %s: attempt %s got %s",
                    outcome.attempt.event_id, endpoint.id, delivery.attempts, outcome.status or outcome.error,
                )  # fmt: skip
                if delivery.attempts >= MAX_ATTEMPTS:
                    delivery.status = DELIVERY.next(DeliveryStatus(delivery.status), DeliveryEvent.GIVEN_UP)
                else:
                    delivery.next_attempt_at = now + self._pause(delivery.attempts)
                endpoint.failures += 1
                endpoint.failing_since = endpoint.failing_since or now
                if endpoint.enabled and self._given_up_on(endpoint, now):
                    self._disable(session, endpoint, outcome)

    def _pause(self, attempts: int) -> timedelta:
        """Doubling from `first_retry`, at most LONGEST_WAIT, and between half and all of that (jitter, so
        a receiver back from an outage is not hit by every retry at once)."""
        wait: timedelta = min(self.first_retry * (1 << min(attempts - 1, 30)), LONGEST_WAIT)
        return wait * random.uniform(0.5, 1.0)

    def _given_up_on(self, endpoint: m.WebhookEndpoint, now: datetime) -> bool:
        assert endpoint.failing_since is not None
        failing_for = now - endpoint.failing_since
        return endpoint.failures >= self.disable_after_failures and failing_for >= self.disable_after

    def _disable(self, session: Session, endpoint: m.WebhookEndpoint, outcome: Outcome) -> None:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"{endpoint.failures} deliveries failed in a row since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC; "
            f"the last: {outcome.status or outcome.error}. Fix the receiver, then enable the endpoint again"
        )
        forget_endpoints(session)
        subject = records.public_id(m.WebhookEndpoint, endpoint.id)
        data = {"url": endpoint.url, "reason": endpoint.disabled_reason}
        emit(
            session,
            "webhook_endpoint.disabled",
            subject,
            data,
            [] if endpoint.party_id is None else [endpoint.party_id],
        )
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)
