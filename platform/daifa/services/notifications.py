"""Events: every state change a party should hear of, for its webhooks and the events feed.

An event is written in the same transaction as the change it reports, with one pending webhook delivery
per endpoint that should receive it, so a committed change always has its event and its deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.store import models as m

ENDPOINTS = "daifa.webhook_endpoints"


def emit(session: Session, type_: str, subject: str, data: dict[str, Any], recipients: Iterable[int]) -> m.Event:
    """Records event `type_` about `subject` for the parties `recipients` (the operator sees every event)."""
    event = m.Event(type=type_, subject=subject, data=data)
    session.add(event)
    session.flush()
    parties = sorted(set(recipients))
    session.add_all(m.EventRecipient(event_id=event.id, party_id=p) for p in parties)
    endpoints = [e for owner, e in _endpoints(session) if owner is None or owner in parties]
    session.add_all(m.WebhookDelivery(endpoint_id=e, event_id=event.id, status="pending") for e in endpoints)
    return event


def _endpoints(session: Session) -> list[tuple[int | None, int]]:
    """(owner, endpoint id) of every enabled endpoint, read once per session: the indexer emits thousands
    of events in one transaction. Registering or disabling an endpoint forgets the list (forget_endpoints)."""
    cached = session.info.get(ENDPOINTS)
    if cached is None:
        rows = session.execute(
            select(m.WebhookEndpoint.party_id, m.WebhookEndpoint.id).where(m.WebhookEndpoint.enabled.is_(True))
        )
        cached = session.info[ENDPOINTS] = [(owner, endpoint) for owner, endpoint in rows]
    return list(cached)


def forget_endpoints(session: Session) -> None:
    session.info.pop(ENDPOINTS, None)
