"""Plans and what is done on them: deposits, approvals, materials, attestations, disputes, cancellations."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from sqlalchemy.orm import Session

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ReadConnection, ports, read_uploads, transaction
from daifa.api.representations import RepresentationCache
from daifa.services import actions, plans, records
from daifa.services.plans import InstalmentRequest, PlanRequest
from daifa.store import models as m

router = APIRouter(prefix="/v1/plans", tags=["plans"])

Index = Annotated[int, s.Field(ge=0, le=251)]


@router.post("", status_code=201, response_model=s.PlanOut)
def request_plan(request: Request, actor: CurrentActor, body: s.PlanIn) -> s.PlanOut:
    """The payer asks for a plan under an open product. It is checked against the product, then the
    payer signs it (a signature request), then the payee confirms or rejects."""
    plan_request = PlanRequest(
        product_id=body.product,
        instalments=_instalments(body.instalments),
        expiry=body.expiry,
        token=body.token,
        fee_bps=body.fee_bps,
        fee_cap=body.fee_cap,
        fee_recipient=body.fee_recipient,
        review_window=body.review_window,
        arbiter=body.arbiter,
    )
    now = ports(request).chain.now()  # before the write transaction: a slow node must not hold the write lock
    with transaction(request) as session:
        return views.plan(session, plans.request_plan(session, ports(request), actor, plan_request, now))


def _instalments(body: list[s.InstalmentIn]) -> list[InstalmentRequest]:
    return [
        InstalmentRequest(i.deposit_by, i.release_at, i.amount, i.rule, list(i.required_materials), i.verification)
        for i in body
    ]


@router.get("", response_model=s.Page[s.PlanOut])
def list_plans(request: Request, actor: CurrentActor, page: Paginated, product: str | None = None) -> Response:
    """A page of plans, newest first, each as its own read shows it (its kept JSON while unchanged)."""
    cache: RepresentationCache = request.app.state.plans
    of_product = None if product is None else m.Plan.product_id == records.parse_id(m.Product, product)
    with transaction(request) as session:
        rows, more = page.visible_rows(session, actor, m.Plan, of_product)
        # Each row's version was read with it, so JSON built from it now is as new as that version or newer.
        bodies = [cache.get_or_put(row.id, row.version, partial(views.plan_json, session, row)) for row in rows]
    body = b'{"object":"list","data":[' + b",".join(bodies) + b'],"has_more":' + (b"true" if more else b"false") + b"}"
    return Response(body, media_type="application/json")


@router.get("/{plan_id}", response_model=s.PlanOut)
async def get_plan(request: Request, actor: CurrentActor, plan_id: str, connection: ReadConnection) -> Response:
    """A plan with its instalments. Most reads never reach this route: daifa.api.plan_reads answers them
    first, the same way. Served on the event loop like authentication, on the same read connection: an
    unchanged plan is one indexed read and its kept JSON (daifa.api.representations)."""
    cache: RepresentationCache = request.app.state.plans
    key, version = records.plan_version(connection, actor, plan_id)
    with Session(bind=connection) as session:
        body = cache.get_or_put(key, version, lambda: views.plan_json(session, records.get_plan(session, actor, key)))
    return Response(body, media_type="application/json")


@router.post("/{plan_id}/reject", response_model=s.PlanOut)
def reject(request: Request, actor: CurrentActor, plan_id: str, body: s.RejectIn) -> s.PlanOut:
    with transaction(request) as session:
        return views.plan(session, plans.reject(session, actor, plan_id, body.reason))


@router.post("/{plan_id}/withdraw", response_model=s.PlanOut)
def withdraw(request: Request, actor: CurrentActor, plan_id: str) -> s.PlanOut:
    with transaction(request) as session:
        return views.plan(session, plans.withdraw(session, actor, plan_id))


@router.post("/{plan_id}/deposits", status_code=201, response_model=s.ActionOut)
def deposit(request: Request, actor: CurrentActor, plan_id: str, body: s.DepositIn) -> s.ActionOut:
    """The payer funds instalments: `permit` (sign a permit and an authorisation; the platform relays) or
    `wallet` (send the returned transactions from your wallet)."""
    with transaction(request) as session:
        action = actions.deposit(session, ports(request), actor, plan_id, body.indices, body.method)
        return views.action(session, action)


@router.post("/{plan_id}/instalments/{index}/approve", status_code=201, response_model=s.ActionOut)
def approve_release(request: Request, actor: CurrentActor, plan_id: str, index: Index) -> s.ActionOut:
    with transaction(request) as session:
        return views.action(session, actions.approve_release(session, ports(request), actor, plan_id, index))


@router.post("/{plan_id}/instalments/{index}/materials", status_code=201, response_model=s.ActionOut)
async def submit_materials(
    request: Request,
    actor: CurrentActor,
    plan_id: str,
    index: Index,
    files: Annotated[list[UploadFile], File(description="the delivered materials")],
) -> s.ActionOut:
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        action = actions.submit_materials(session, ports(request), actor, plan_id, index, uploads)
        return views.action(session, action)


@router.post("/{plan_id}/instalments/{index}/attest", status_code=201, response_model=s.ActionOut)
def attest_materials(request: Request, actor: CurrentActor, plan_id: str, index: Index) -> s.ActionOut:
    """The operator attests the materials it reviewed; the review window starts on chain."""
    with transaction(request) as session:
        return views.action(session, actions.attest_materials(session, ports(request), actor, plan_id, index))


@router.post("/{plan_id}/instalments/{index}/disputes", status_code=201, response_model=s.ActionOut)
async def dispute(
    request: Request,
    actor: CurrentActor,
    plan_id: str,
    index: Index,
    reason: Annotated[str, Form(max_length=2_000)],
    files: Annotated[list[UploadFile] | None, File(description="evidence")] = None,
) -> s.ActionOut:
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        action = actions.dispute(session, ports(request), actor, plan_id, index, reason, uploads)
        return views.action(session, action)


@router.post("/{plan_id}/cancellations", status_code=201, response_model=s.ActionOut)
def cancel(request: Request, actor: CurrentActor, plan_id: str, body: s.CancellationIn) -> s.ActionOut:
    """Either party proposes to cancel instalments; both sign; funded ones are refunded to the payer."""
    with transaction(request) as session:
        return views.action(session, actions.cancel(session, ports(request), actor, plan_id, body.indices))


@router.post("/{plan_id}/amendments", status_code=201, response_model=s.ActionOut)
def amend(request: Request, actor: CurrentActor, plan_id: str, body: s.AmendmentIn) -> s.ActionOut:
    """Either party proposes the plan's instalments as they should be from now on; both sign; the chain
    takes them (`plan.amended`). Funded, approved, delivered, disputed and closed instalments stay as they are."""
    with transaction(request) as session:
        action = actions.amend(session, ports(request), actor, plan_id, _instalments(body.instalments))
        return views.action(session, action)
