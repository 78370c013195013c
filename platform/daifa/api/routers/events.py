"""The events feed and webhook endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, transaction
from daifa.services import records, webhooks
from daifa.store import models as m

router = APIRouter(prefix="/v1", tags=["events"])


@router.get("/events", response_model=s.Page[s.EventOut])
def list_events(request: Request, actor: CurrentActor, page: Paginated, type: str | None = None) -> s.Page[s.EventOut]:
    """Every state change the caller may see, newest first: the same feed the webhooks deliver."""
    with transaction(request) as session:
        return page.visible(session, actor, m.Event, views.event, None if type is None else m.Event.type == type)


@router.get("/events/{event_id}", response_model=s.EventOut)
def get_event(request: Request, actor: CurrentActor, event_id: str) -> s.EventOut:
    with transaction(request) as session:
        return views.event(records.get_event(session, actor, event_id))


@router.post("/webhook_endpoints", status_code=201, response_model=s.WebhookEndpointOut)
def create_endpoint(request: Request, actor: CurrentActor, body: s.WebhookEndpointIn) -> s.WebhookEndpointOut:
    """Register an https URL for the caller's events (an open account, at most 5 enabled). The URL must
    resolve to public addresses only. The secret that signs deliveries is shown once, here."""
    outbound = ports(request).outbound
    outbound.check_url_resolving(body.url)  # before the transaction: a slow name server holds no lock
    with transaction(request) as session:
        endpoint = webhooks.register(session, outbound, actor, body.url)
        return s.WebhookEndpointOut(**webhooks.describe(endpoint, with_secret=True))


@router.get("/webhook_endpoints", response_model=s.Page[s.WebhookEndpointOut])
def list_endpoints(request: Request, actor: CurrentActor, page: Paginated) -> s.Page[s.WebhookEndpointOut]:
    with transaction(request) as session:
        query = select(m.WebhookEndpoint).where(
            m.WebhookEndpoint.party_id.is_(None) if actor.is_operator else m.WebhookEndpoint.party_id == actor.party_id
        )
        rows, more = page.page(session, m.WebhookEndpoint, query)
        return s.Page(data=[s.WebhookEndpointOut(**webhooks.describe(r)) for r in rows], has_more=more)


@router.post("/webhook_endpoints/{endpoint_id}/disable", response_model=s.WebhookEndpointOut)
def disable_endpoint(request: Request, actor: CurrentActor, endpoint_id: str) -> s.WebhookEndpointOut:
    with transaction(request) as session:
        endpoint = webhooks.set_enabled(session, ports(request).outbound, actor, endpoint_id, enabled=False)
        return s.WebhookEndpointOut(**webhooks.describe(endpoint))


@router.post("/webhook_endpoints/{endpoint_id}/enable", response_model=s.WebhookEndpointOut)
def enable_endpoint(request: Request, actor: CurrentActor, endpoint_id: str) -> s.WebhookEndpointOut:
    """Enable an endpoint again (one the platform disabled after repeated failures, once it is fixed)."""
    with transaction(request) as session:
        url = webhooks.owned(session, actor, endpoint_id).url
    ports(request).outbound.check_url_resolving(url)
    with transaction(request) as session:
        endpoint = webhooks.set_enabled(session, ports(request).outbound, actor, endpoint_id, enabled=True)
        return s.WebhookEndpointOut(**webhooks.describe(endpoint))
