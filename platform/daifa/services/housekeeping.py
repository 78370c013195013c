"""What the worker clears away now and then, so that nothing grows without a bound: idempotency records
older than a day (their responses, secrets blanked, are of no use after that) and the reports of
workers that stopped long ago."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from daifa.store.models import IdempotencyRecord, WorkerReport, utcnow

IDEMPOTENCY_KEPT_FOR = timedelta(hours=24)
WORKER_REPORTS_KEPT_FOR = timedelta(days=7)


def purge(sessions: sessionmaker[Session]) -> int:
    """Deletes what is past keeping; how many rows."""
    now = utcnow()
    with sessions.begin() as session:
        records = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_KEPT_FOR)
        )
        reports = session.execute(delete(WorkerReport).where(WorkerReport.updated_at < now - WORKER_REPORTS_KEPT_FOR))
        return int(records.rowcount or 0) + int(reports.rowcount or 0)  # type: ignore[attr-defined]
