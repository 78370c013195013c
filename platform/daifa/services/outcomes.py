"""What the platform does when one of its transactions settles (the relayer's listener).

An action's status follows its transaction. A transaction that failed is reported to the parties of
its record with the decoded reason, so nobody waits for something that will not happen; what a mined
transaction changed is left to the indexer, which reads it from the chain.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daifa.domain.actions import ACTION_LIFECYCLE, ActionEvent, ActionStatus
from daifa.domain.outbox import OutboxStatus
from daifa.services import records
from daifa.services.notifications import emit
from daifa.services.subjects import Kind, Subject
from daifa.store import models as m


def on_transaction_settled(session: Session, entry: m.OutboxEntry) -> None:
    subject = Subject.parse(entry.subject)
    if subject is None:
        return  # the scheduler's batches: the instalments' claims are let go by the scheduler itself
    if subject.kind == Kind.ACTION:
        _settle_action(session, subject, entry)
    elif entry.status == OutboxStatus.FAILED:
        emit(
            session,
            f"{subject.kind}.transaction_failed",
            subject.public_id,
            {"transaction": records.public_id(m.OutboxEntry, entry.id), "kind": entry.kind, "error": entry.error},
            subject.parties(session),
        )


def on_transactions_dropped(session: Session, entries: list[m.OutboxEntry]) -> None:
    """A reorg dropped the blocks these transactions were mined in; the relayer sends them again, and the
    actions they carry wait for them again (queued)."""
    for entry in entries:
        subject = Subject.parse(entry.subject)
        action = session.get(m.PlanAction, subject.id) if subject is not None and subject.kind == Kind.ACTION else None
        if action is not None and action.status in (ActionStatus.MINED, ActionStatus.FAILED):
            action.status = ACTION_LIFECYCLE.next(ActionStatus(action.status), ActionEvent.TRANSACTION_DROPPED)
            action.details = {k: v for k, v in action.details.items() if k != "error"}


def _settle_action(session: Session, subject: Subject, entry: m.OutboxEntry) -> None:
    action = session.get(m.PlanAction, subject.id)
    if action is None:
        return
    mined = entry.status == OutboxStatus.MINED
    event = ActionEvent.TRANSACTION_MINED if mined else ActionEvent.TRANSACTION_FAILED
    action.status = ACTION_LIFECYCLE.next(ActionStatus(action.status), event)
    if not mined:
        action.details = {**action.details, "error": entry.error}
    emit(
        session,
        f"action.{action.status}",
        records.public_id(m.PlanAction, action.id),
        {"kind": action.kind, "indices": action.indices, "error": entry.error},
        subject.parties(session),
    )
