"""Events: every state change a party should hear of, for its webhooks and the events feed.

An event is written in the same transaction as the change it reports, with one pending webhook delivery
per endpoint that should receive it, so a committed change always has its event and its deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from daifa.store import models as m


def emit(session: Session, type_: str, subject: str, data: dict[str, Any], recipients: Iterable[int]) -> m.Event:
    """Records event `type_` about `subject` for the parties `recipients` (the operator sees every event)."""
    event = m.Event(type=type_, subject=subject, data=data)
    session.add(event)
    session.flush()
    parties = sorted(set(recipients))
    session.add_all(m.EventRecipient(event_id=event.id, party_id=p) for p in parties)
    endpoints = session.scalars(
        select(m.WebhookEndpoint.id).where(
            m.WebhookEndpoint.enabled.is_(True),
            or_(m.WebhookEndpoint.party_id.is_(None), m.WebhookEndpoint.party_id.in_(parties)),
        )
    )
    session.add_all(m.WebhookDelivery(endpoint_id=e, event_id=event.id, status="pending") for e in endpoints)
    return event
