"""Webhooks: endpoints a party (or the operator) registers, and the worker that delivers events to them.

Deliveries are at least once: each event has one delivery row per endpoint, written with the event;
the worker POSTs it, retries with exponential backoff on anything but a 2xx, and records every attempt's
outcome. Each request is signed the way Stripe signs (daifa.webhook_signatures).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daifa.errors import InvalidInput, Problem
from daifa.services import records
from daifa.services.context import Actor
from daifa.services.notifications import forget_endpoints
from daifa.store import models as m
from daifa.webhook_signatures import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=6)


def register(session: Session, actor: Actor, url: str) -> m.WebhookEndpoint:
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise InvalidInput([Problem("url", "must be an http(s) URL of at most 2000 characters")])
    endpoint = m.WebhookEndpoint(party_id=actor.party_id, url=url, secret="whsec_" + secrets.token_urlsafe(32))
    session.add(endpoint)
    session.flush()
    forget_endpoints(session)
    return endpoint


def body_of(event: m.Event) -> bytes:
    payload = {
        "id": records.public_id(m.Event, event.id),
        "object": "event",
        "type": event.type,
        "subject": event.subject,
        "created": int(event.created_at.timestamp()),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class WebhookSender:
    sessions: sessionmaker[Session]
    client: httpx.Client
    first_retry: timedelta = FIRST_RETRY  # doubled after each failed attempt, up to LONGEST_WAIT

    def run_once(self, limit: int = 100) -> int:
        """Attempts every delivery that is due; returns how many were delivered."""
        with self.sessions() as session:
            due = list(
                session.scalars(
                    select(m.WebhookDelivery.id)
                    .where(m.WebhookDelivery.status == "pending", m.WebhookDelivery.next_attempt_at <= m.utcnow())
                    .order_by(m.WebhookDelivery.id)
                    .limit(limit)
                )
            )
        return sum(self._attempt(delivery_id) for delivery_id in due)

    def _attempt(self, delivery_id: int) -> int:
        # The POST happens outside any database transaction, so a slow receiver holds no lock; two workers
        # may then both deliver an event, which at-least-once delivery allows (receivers dedupe on the id).
        with self.sessions() as session:
            delivery = session.get(m.WebhookDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return 0
            endpoint = session.get(m.WebhookEndpoint, delivery.endpoint_id)
            event = session.get(m.Event, delivery.event_id)
            assert endpoint is not None and event is not None
            url, secret, enabled, body = endpoint.url, endpoint.secret, endpoint.enabled, body_of(event)
            event_id = records.public_id(m.Event, event.id)
        status, error = self._post(url, secret, body, event_id) if enabled else (None, "endpoint disabled")
        with self.sessions.begin() as session:
            delivery = session.get(m.WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending":
                return 0
            delivery.attempts += 1
            delivery.last_response_status = status
            delivery.last_error = error
            if status is not None and 200 <= status < 300:
                delivery.status = "delivered"
                delivery.delivered_at = m.utcnow()
                return 1
            if delivery.attempts >= MAX_ATTEMPTS or not enabled:
                delivery.status = "failed"
            else:
                wait = min(self.first_retry * 2 ** (delivery.attempts - 1), LONGEST_WAIT)
                delivery.next_attempt_at = m.utcnow() + wait
            log.info("webhook %s to %s: attempt %s got %s", event_id, url, delivery.attempts, status or error)
            return 0

    def _post(self, url: str, secret: str, body: bytes, event_id: str) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            "Daifa-Event-Id": event_id,
        }
        try:
            response = self.client.post(url, content=body, headers=headers, timeout=5.0)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None


def describe(endpoint: m.WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": records.public_id(m.WebhookEndpoint, endpoint.id),
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "enabled": endpoint.enabled,
    }
    if with_secret:
        shown["secret"] = endpoint.secret
    return shown
