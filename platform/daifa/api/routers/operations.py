"""The operator's view of the machinery: health, the relayer's transactions, reconciliation."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from daifa.api import schemas as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, platform, transaction
from daifa.chain.relayer import FAILED, MINED
from daifa.services import records
from daifa.services.reconciliation import reconcile
from daifa.store import models as m

router = APIRouter(prefix="/v1", tags=["operations"])


@router.get("/health", response_model=s.HealthOut)
def health(request: Request) -> s.HealthOut:
    """Liveness and how far behind the background work is. No API key needed."""
    p = platform(request)
    with transaction(request) as session:
        waiting = session.scalar(
            select(func.count()).select_from(m.OutboxEntry).where(m.OutboxEntry.status.not_in([MINED, FAILED]))
        )
    return s.HealthOut(
        chain_id=p.ports.chain.chain_id,
        escrow=p.ports.chain.escrow_address,
        head_block=p.ports.chain.head(),
        chain_time=p.ports.chain.now(),
        indexer_lag_blocks=p.indexer.lag(),
        outbox_waiting=int(waiting or 0),
    )


@router.get("/transactions", response_model=s.Page[s.TransactionOut])
def list_transactions(request: Request, actor: CurrentActor, page: Paginated) -> s.Page[s.TransactionOut]:
    actor.require_operator()
    with transaction(request) as session:
        rows, more = page.page(session, m.OutboxEntry, select(m.OutboxEntry))
        return s.Page(data=[views.transaction(r) for r in rows], has_more=more)


@router.get("/transactions/{transaction_id}", response_model=s.TransactionOut)
def get_transaction(request: Request, actor: CurrentActor, transaction_id: str) -> s.TransactionOut:
    actor.require_operator()
    with transaction(request) as session:
        return views.transaction(records.get(session, m.OutboxEntry, transaction_id))


@router.get("/reconciliation", response_model=s.ReconciliationOut)
def reconciliation(request: Request, actor: CurrentActor) -> s.ReconciliationOut:
    """Compares the database with the chain, as of the last block the indexer read."""
    actor.require_operator()
    with transaction(request) as session:
        report = reconcile(session, platform(request).ports)
        return s.ReconciliationOut(
            ok=report.ok,
            block=report.block,
            parties=report.parties,
            products=report.products,
            plans=report.plans,
            instalments=report.instalments,
            tokens=report.tokens,
            mismatches=[s.MismatchOut(**asdict(x)) for x in report.mismatches],
        )
