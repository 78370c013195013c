"""What the worker clears away now and then, so that nothing grows without a bound: idempotency records
older than a day (their responses, secrets blanked, are of no use after that), the reports of
workers that stopped long ago, and the console's sessions a day after they ended or expired."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from daifa.store.models import ConsoleSession, IdempotencyRecord, WorkerReport, utcnow

IDEMPOTENCY_KEPT_FOR = timedelta(hours=24)
WORKER_REPORTS_KEPT_FOR = timedelta(days=7)
ENDED_SESSIONS_KEPT_FOR = timedelta(days=1)


def purge(sessions: sessionmaker[Session]) -> int:
    """Deletes what is past keeping; how many rows."""
    now = utcnow()
    with sessions.begin() as session:
        records = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_KEPT_FOR)
        )
        reports = session.execute(delete(WorkerReport).where(WorkerReport.updated_at < now - WORKER_REPORTS_KEPT_FOR))
        sessions_gone = session.execute(
            delete(ConsoleSession).where(ConsoleSession.expires_at < now - ENDED_SESSIONS_KEPT_FOR)
        )
        counts = (records.rowcount, reports.rowcount, sessions_gone.rowcount)  # type: ignore[attr-defined]
        return sum(int(c or 0) for c in counts)
