"""Recording the plans both parties signed: each worker turn puts the plans confirmed since the last one
into the relayer's outbox, several a transaction (the escrow's recordPlans) when several wait, so a
payroll run's thousand plans take a few dozen of the operator's nonces instead of a thousand.

A batch is all or none on chain. One that fails (a payee suspended meanwhile, a deadline passed) is not
retried as a batch: its plans are then recorded one a transaction, so the plan at fault fails alone, and
says why (`plan.transaction_failed`), while the others are recorded.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from daifa.chain.relayer import enqueue
from daifa.domain.outbox import OutboxStatus
from daifa.domain.plan_requests import PlanStatus
from daifa.services import plans
from daifa.services.calls import in_batches
from daifa.services.context import Ports
from daifa.services.subjects import Subject
from daifa.store import models as m

RECORD_ONE, RECORD_BATCH = "record_plan", "record_plans"  # the outbox entries' kinds
MAX_PLANS = 200  # plans a turn queues: the rest wait for the next turn
# A batch's calldata (about 12 plans of twelve instalments): the raw transaction, twice that in hex, stays
# well inside what nodes and proxies take in one request.
MAX_CALLDATA = 32 * 1024


def queue(sessions: sessionmaker[Session], readers: sessionmaker[Session], ports: Ports) -> int:
    """Queues the plans waiting to be recorded, in one transaction; how many it queued. It runs every
    worker turn, so it asks a read-only session first and takes the write lock only when a plan waits."""
    failed_batches = select(m.OutboxEntry.id).where(
        m.OutboxEntry.kind == RECORD_BATCH, m.OutboxEntry.status == OutboxStatus.FAILED
    )
    unqueued = (
        m.Plan.status == PlanStatus.RECORDING,
        or_(m.Plan.record_entry_id.is_(None), m.Plan.record_entry_id.in_(failed_batches)),
    )
    with readers() as session:
        if session.execute(select(m.Plan.id).where(*unqueued).limit(1)).first() is None:
            return 0
    with sessions.begin() as session:
        query = select(m.Plan).where(*unqueued).order_by(m.Plan.id).limit(MAX_PLANS)
        waiting = list(session.scalars(query.with_for_update(skip_locked=True)))
        items = [(plan, plans.record_arguments(session, plan)) for plan in waiting]
        for plan, args in items:
            if plan.record_entry_id is not None:  # its batch failed: alone now
                _record(session, ports, [(plan, args)], alone=True)

        def encode(arguments: list[tuple[object, ...]]) -> bytes:
            return ports.chain.encode("recordPlans", arguments)

        fresh = [(plan, args) for plan, args in items if plan.record_entry_id is None]
        for batch in in_batches(encode, fresh, MAX_CALLDATA):
            _record(session, ports, batch, alone=len(batch) == 1)
        return len(waiting)


def _record(session: Session, ports: Ports, batch: list[tuple[m.Plan, tuple[object, ...]]], alone: bool) -> None:
    escrow = ports.chain.escrow_address
    if alone:
        [(plan, args)] = batch
        entry = enqueue(session, RECORD_ONE, str(Subject.of(plan)), escrow, ports.chain.encode("recordPlan", *args))
    else:
        data = ports.chain.encode("recordPlans", [args for _, args in batch])
        entry = enqueue(session, RECORD_BATCH, f"plans ({len(batch)})", escrow, data)
    for plan, _ in batch:
        plan.record_entry_id = entry.id
