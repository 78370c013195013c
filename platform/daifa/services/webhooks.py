"""Webhook endpoints: URLs an open account (or the operator) registers for its events.

Only parties whose account is open, and the operator, register endpoints, a few each. A URL is checked
when it is registered and again on every delivery (daifa.services.outbound: https, no credentials, a
public address). Deliveries are daifa.services.webhook_delivery's; each request is signed the way
Stripe signs (daifa.webhook_signatures).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daifa.domain.onboarding import PartyStatus
from daifa.errors import Conflict, NotFound
from daifa.services import records
from daifa.services.context import Actor
from daifa.services.notifications import forget_endpoints
from daifa.services.outbound import Outbound
from daifa.store import models as m

MAX_ENDPOINTS = 5  # enabled endpoints per party (and for the operator)


def register(session: Session, outbound: Outbound, actor: Actor, url: str) -> m.WebhookEndpoint:
    """A new endpoint for the caller's events. Its host should be resolved and checked before the
    database transaction opens (`Outbound.check_url_resolving`): a slow name server must hold no lock.
    Here it is checked again without a lookup."""
    if not actor.is_operator:
        party = session.get(m.Party, actor.require_party())
        if party is None or party.status not in (PartyStatus.ACTIVE, PartyStatus.SUSPENDED):
            raise Conflict("webhook endpoints are for open accounts: wait for party.activated (see GET /v1/events)")
    owned = select(func.count()).select_from(m.WebhookEndpoint).where(m.WebhookEndpoint.enabled.is_(True))
    owned = owned.where(_owner(actor))
    if int(session.scalar(owned) or 0) >= MAX_ENDPOINTS:
        raise Conflict(f"{MAX_ENDPOINTS} endpoints are enabled already, the most: disable one first")
    outbound.check_url(url)
    endpoint = m.WebhookEndpoint(party_id=actor.party_id, url=url, secret="whsec_" + secrets.token_urlsafe(32))
    session.add(endpoint)
    session.flush()
    forget_endpoints(session)
    return endpoint


def set_enabled(
    session: Session, outbound: Outbound, actor: Actor, endpoint_id: str, enabled: bool
) -> m.WebhookEndpoint:
    """Disables an endpoint, or enables it again (its failures forgotten; resolve its URL first, as for
    `register`)."""
    endpoint = owned(session, actor, endpoint_id, for_update=True)
    if enabled and not endpoint.enabled:
        live = select(func.count()).select_from(m.WebhookEndpoint).where(m.WebhookEndpoint.enabled.is_(True))
        if int(session.scalar(live.where(_owner(actor))) or 0) >= MAX_ENDPOINTS:
            raise Conflict(f"{MAX_ENDPOINTS} endpoints are enabled already, the most: disable one first")
        outbound.check_url(endpoint.url)
        endpoint.failures, endpoint.failing_since, endpoint.disabled_reason = 0, None, None
    endpoint.enabled = enabled
    forget_endpoints(session)
    return endpoint


def owned(session: Session, actor: Actor, endpoint_id: str, *, for_update: bool = False) -> m.WebhookEndpoint:
    endpoint = records.get(session, m.WebhookEndpoint, endpoint_id, for_update=for_update)
    if endpoint.party_id != actor.party_id:
        raise NotFound(f"no webhook endpoint {endpoint_id}: check the id")
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


def describe(endpoint: m.WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": records.public_id(m.WebhookEndpoint, endpoint.id),
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "failures": endpoint.failures,
        "disabled_reason": endpoint.disabled_reason,
    }
    if with_secret:
        shown["secret"] = endpoint.secret
    return shown


def _owner(actor: Actor) -> Any:
    return m.WebhookEndpoint.party_id.is_(None) if actor.is_operator else m.WebhookEndpoint.party_id == actor.party_id
