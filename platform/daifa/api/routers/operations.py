"""The operator's view of the machinery: health, metrics, the relayer's transactions, reconciliation."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, platform, transaction
from daifa.api.metrics import exposition
from daifa.services import records
from daifa.services.health import Assessment, assess
from daifa.services.reconciliation import reconcile
from daifa.store import models as m

router = APIRouter(prefix="/v1", tags=["operations"])
metrics_router = APIRouter(tags=["operations"])  # /metrics, where Prometheus looks


def _assessment(request: Request) -> Assessment:
    with platform(request).readers() as session:
        return assess(session, request.app.state.settings.health, platform(request).settings.confirmations)


@router.get("/health", response_model=s.HealthOut, responses={503: {"model": s.HealthOut}})
def health(request: Request) -> JSONResponse:
    """Whether the platform works, and if not why: answered from the workers' last reports and the
    database, never by asking the node, so it answers at once. 200 when ok, 503 with `reasons` when
    degraded. No API key needed."""
    result = _assessment(request)
    p = platform(request)
    body = s.HealthOut(
        status="ok" if result.ok else "degraded",
        reasons=result.reasons,
        chain_id=p.ports.chain.chain_id,
        escrow=p.ports.chain.escrow_address,
        **result.figures,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if result.ok else 503)


@metrics_router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request, actor: CurrentActor) -> Response:
    """Prometheus metrics (operator key required)."""
    actor.require_operator()

    def figures() -> tuple[bool, dict[str, Any]]:
        result = _assessment(request)
        return result.ok, result.figures

    return Response(exposition(figures), media_type="text/plain; version=0.0.4; charset=utf-8")


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
            transactions=report.transactions,
            mismatches=[s.MismatchOut(**asdict(x)) for x in report.mismatches],
        )
