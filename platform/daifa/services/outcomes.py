"""What the platform does when one of its transactions settles (the relayer's listener).

An action's status follows its transaction. A transaction that failed is reported to the parties of
its record with the decoded reason, so nobody waits for something that will not happen; what a mined
transaction changed is left to the indexer, which reads it from the chain.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daifa.chain.relayer import FAILED, MINED
from daifa.services import records
from daifa.services.documents import subject_parties
from daifa.services.notifications import emit
from daifa.store import models as m

SUBJECTS: dict[str, type[m.Base]] = {"party": m.Party, "product": m.Product, "plan": m.Plan, "action": m.PlanAction}


def on_transaction_settled(session: Session, entry: m.OutboxEntry) -> None:
    kind, _, key = entry.subject.partition(":")
    model = SUBJECTS.get(kind)
    if model is None or not key.isdigit():
        return  # the scheduler's batches: the instalments' claims are let go by the scheduler itself
    if model is m.PlanAction:
        _settle_action(session, int(key), entry)
    elif entry.status == FAILED:
        emit(
            session,
            f"{kind}.transaction_failed",
            records.public_id(model, int(key)),
            {"transaction": records.public_id(m.OutboxEntry, entry.id), "kind": entry.kind, "error": entry.error},
            subject_parties(session, entry.subject),
        )


def _settle_action(session: Session, action_id: int, entry: m.OutboxEntry) -> None:
    action = session.get(m.PlanAction, action_id)
    if action is None:
        return
    action.status = MINED if entry.status == MINED else FAILED
    if entry.status == FAILED:
        action.details = {**action.details, "error": entry.error}
    emit(
        session,
        f"action.{action.status}",
        records.public_id(m.PlanAction, action.id),
        {"kind": action.kind, "indices": action.indices, "error": entry.error},
        subject_parties(session, entry.subject),
    )
