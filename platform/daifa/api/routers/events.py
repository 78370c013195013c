"""The events feed and webhook endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from daifa.api import schemas as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, transaction
from daifa.errors import NotFound
from daifa.services import records, webhooks
from daifa.services.notifications import forget_endpoints
from daifa.store import models as m

router = APIRouter(prefix="/v1", tags=["events"])


@router.get("/events", response_model=s.Page[s.EventOut])
def list_events(request: Request, actor: CurrentActor, page: Paginated, type: str | None = None) -> s.Page[s.EventOut]:
    """Every state change the caller may see, newest first: the same feed the webhooks deliver."""
    with transaction(request) as session:
        query = select(m.Event)
        if not actor.is_operator:
            mine = select(m.EventRecipient.event_id).where(m.EventRecipient.party_id == actor.party_id)
            query = query.where(m.Event.id.in_(mine))
        if type is not None:
            query = query.where(m.Event.type == type)
        rows, more = page.page(session, m.Event, query)
        return s.Page(data=[views.event(r) for r in rows], has_more=more)


@router.get("/events/{event_id}", response_model=s.EventOut)
def get_event(request: Request, actor: CurrentActor, event_id: str) -> s.EventOut:
    with transaction(request) as session:
        event = records.get(session, m.Event, event_id)
        if not actor.is_operator:
            seen = session.get(m.EventRecipient, (event.id, actor.party_id))
            if seen is None:
                raise NotFound(f"no event {event_id}: check the id")
        return views.event(event)


@router.post("/webhook_endpoints", status_code=201, response_model=s.WebhookEndpointOut)
def create_endpoint(request: Request, actor: CurrentActor, body: s.WebhookEndpointIn) -> s.WebhookEndpointOut:
    """Register a URL for the caller's events. The secret that signs them is shown once, here."""
    with transaction(request) as session:
        endpoint = webhooks.register(session, actor, body.url)
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
        endpoint = records.get(session, m.WebhookEndpoint, endpoint_id, for_update=True)
        if endpoint.party_id != actor.party_id:
            raise NotFound(f"no webhook endpoint {endpoint_id}: check the id")
        endpoint.enabled = False
        forget_endpoints(session)
        return s.WebhookEndpointOut(**webhooks.describe(endpoint))
