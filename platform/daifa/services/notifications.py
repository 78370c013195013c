"""Events: every state change a party should hear of, for its webhooks and the events feed.

An event is written in the same transaction as the change it reports, with one pending webhook delivery
per endpoint that should receive it, so a committed change always has its event and its deliveries.

An event the chain caused carries a `key` naming the log behind it (what happened, to what, from which
transaction): the same log read again, after a restart or a reorg, finds its key taken and is no second
event, so no party hears of it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from daifa.domain.webhooks import DELIVERY
from daifa.store import models as m

ENDPOINTS = "daifa.webhook_endpoints"
BATCH = "daifa.events_batch"


Pending = tuple[str, str, dict[str, Any], list[int], list[int], str | None]


def emit(
    session: Session,
    type_: str,
    subject: str,
    data: dict[str, Any],
    recipients: Iterable[int],
    *,
    key: str | None = None,
) -> None:
    """Records event `type_` about `subject` for the parties `recipients` (the operator sees every event);
    with a `key`, only if no event has that key yet."""
    parties = sorted(set(recipients))
    endpoints = [e for owner, e in _endpoints(session) if owner is None or owner in parties]
    pending = session.info.get(BATCH)
    if pending is not None:
        pending.append((type_, subject, data, parties, endpoints, key))
        return
    if key is not None and session.scalar(select(m.Event.id).where(m.Event.key == key)) is not None:
        return
    session.add(
        m.Event(
            type=type_,
            subject=subject,
            data=data,
            key=key,
            recipients=[m.EventRecipient(party_id=p) for p in parties],
            deliveries=[m.WebhookDelivery(endpoint_id=e, status=DELIVERY.initial) for e in endpoints],
        )
    )


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Collects what `emit` is given in the block and writes it at the end with three multi-row INSERTs,
    in the order emitted: the indexer emits thousands of events in one transaction, and one ORM object
    per event, recipient and delivery cost more than everything else it does."""
    pending: list[Pending] = []
    session.info[BATCH] = pending
    try:
        yield
    finally:
        del session.info[BATCH]
    pending = _new(session, pending)
    if not pending:
        return
    now = m.utcnow()
    rows = [{"type": t, "subject": s, "data": d, "key": k, "created_at": now} for t, s, d, _, _, k in pending]
    ids = session.scalars(insert(m.Event).returning(m.Event.id, sort_by_parameter_order=True), rows).all()
    recipients = [
        {"event_id": i, "party_id": p}
        for i, (_, _, _, parties, _, _) in zip(ids, pending, strict=True)
        for p in parties
    ]
    deliveries = [
        {"event_id": i, "endpoint_id": e, "status": DELIVERY.initial, "attempts": 0, "next_attempt_at": now}
        for i, (_, _, _, _, endpoints, _) in zip(ids, pending, strict=True)
        for e in endpoints
    ]
    if recipients:
        session.execute(insert(m.EventRecipient), recipients)
    if deliveries:
        session.execute(insert(m.WebhookDelivery), deliveries)


def _new(session: Session, pending: list[Pending]) -> list[Pending]:
    """The pending events whose keys no event has yet (nor an earlier one of the same batch)."""
    keys = [k for *_, k in pending if k is not None]
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        taken.update(session.scalars(select(m.Event.key).where(m.Event.key.in_(chunk))))
    fresh = []
    for item in pending:
        key = item[5]
        if key is not None:
            if key in taken:
                continue
            taken.add(key)
        fresh.append(item)
    return fresh


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
