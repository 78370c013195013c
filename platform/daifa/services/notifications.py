"""Events: every state change a party should hear of, for its webhooks and the events feed.

An event is written in the same transaction as the change it reports, with one pending webhook delivery
per endpoint that should receive it, so a committed change always has its event and its deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from daifa.store import models as m

ENDPOINTS = "daifa.webhook_endpoints"
BATCH = "daifa.events_batch"


def emit(session: Session, type_: str, subject: str, data: dict[str, Any], recipients: Iterable[int]) -> None:
    """Records event `type_` about `subject` for the parties `recipients` (the operator sees every event)."""
    parties = sorted(set(recipients))
    endpoints = [e for owner, e in _endpoints(session) if owner is None or owner in parties]
    pending = session.info.get(BATCH)
    if pending is not None:
        pending.append((type_, subject, data, parties, endpoints))
        return
    session.add(
        m.Event(
            type=type_,
            subject=subject,
            data=data,
            recipients=[m.EventRecipient(party_id=p) for p in parties],
            deliveries=[m.WebhookDelivery(endpoint_id=e, status="pending") for e in endpoints],
        )
    )


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Collects what `emit` is given in the block and writes it at the end with three multi-row INSERTs,
    in the order emitted: the indexer emits thousands of events in one transaction, and one ORM object
    per event, recipient and delivery cost more than everything else it does."""
    pending: list[tuple[str, str, dict[str, Any], list[int], list[int]]] = []
    session.info[BATCH] = pending
    try:
        yield
    finally:
        del session.info[BATCH]
    if not pending:
        return
    now = m.utcnow()
    rows = [{"type": t, "subject": s, "data": d, "created_at": now} for t, s, d, _, _ in pending]
    ids = session.scalars(insert(m.Event).returning(m.Event.id, sort_by_parameter_order=True), rows).all()
    recipients = [
        {"event_id": i, "party_id": p} for i, (*_, parties, _) in zip(ids, pending, strict=True) for p in parties
    ]
    deliveries = [
        {"event_id": i, "endpoint_id": e, "status": "pending", "attempts": 0, "next_attempt_at": now}
        for i, (*_, endpoints) in zip(ids, pending, strict=True)
        for e in endpoints
    ]
    if recipients:
        session.execute(insert(m.EventRecipient), recipients)
    if deliveries:
        session.execute(insert(m.WebhookDelivery), deliveries)


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
