"""The console's forms that change something: the operator's reviews, attestations and dispute splits,
the payer's credit authorisation and deposits, approvals, materials and disputes, the parties'
signatures and documents. Each checks the session's CSRF token, calls the use case the API calls, and
sends the browser to the page to see next."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.api.deps import ports, read_uploads, reading, transaction
from daifa.console.web import Changing, ConsoleRoute, back_to
from daifa.domain.payroll import units_of
from daifa.domain.signature_requests import SignatureStatus
from daifa.services import actions, onboarding, products, records, signatures
from daifa.services.context import Actor
from daifa.services.subjects import Subject
from daifa.store import models as m

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
Comment = Annotated[str, Form(max_length=2_000)]
Review = Literal["approve", "reject", "request_documents"]
Files = Annotated[list[UploadFile], File()]


# Registered before the decisions below, whose `{decision}` would otherwise take "documents" for one.
@router.post("/parties/{party_id}/documents")
async def add_party_documents(request: Request, signed: Changing, party_id: str, files: Files) -> Response:
    """An applicant adds the documents the operator asked for (or more, while under review)."""
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        onboarding.add_documents(session, ports(request), signed.actor, party_id, uploads)
    return back_to(f"/console/parties/{party_id}")


@router.post("/products/{product_id}/documents")
async def add_product_documents(request: Request, signed: Changing, product_id: str, files: Files) -> Response:
    """The payee adds the documents the operator asked for; the payer may add its copy of the contract."""
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        products.add_documents(session, ports(request), signed.actor, product_id, uploads)
    return back_to(f"/console/products/{product_id}")


@router.post("/parties/{party_id}/{decision}")
def review_party(
    request: Request, signed: Changing, party_id: str, decision: Review, comment: Comment = ""
) -> Response:
    with transaction(request) as session:
        if decision == "approve":
            onboarding.approve(session, ports(request), signed.actor, party_id, comment)
        elif decision == "reject":
            onboarding.reject(session, signed.actor, party_id, comment)
        else:
            onboarding.request_documents(session, signed.actor, party_id, comment)
    return back_to(f"/console/parties/{party_id}")


@router.post("/products/{product_id}/{decision}")
def decide_product(
    request: Request,
    signed: Changing,
    product_id: str,
    decision: Literal["approve", "reject", "request_documents", "authorise_credit", "decline_credit"],
    comment: Comment = "",
) -> Response:
    with transaction(request) as session:
        if decision == "approve":
            products.approve(session, signed.actor, product_id, comment)
        elif decision == "reject":
            products.reject(session, signed.actor, product_id, comment)
        elif decision == "request_documents":
            products.request_documents(session, signed.actor, product_id, comment)
        elif decision == "authorise_credit":
            products.authorise_credit(
                session, ports(request), signed.actor, product_id, None, ports(request).chain.now()
            )
        else:
            products.decline_credit(session, signed.actor, product_id, comment)
    return back_to(f"/console/products/{product_id}")


@router.post("/plans/{plan_id}/deposits")
def deposit(request: Request, signed: Changing, plan_id: str, indices: Annotated[list[int], Form()]) -> Response:
    """The payer funds instalments: the platform prepares what its wallet signs (a permit and the
    deposit, or a wallet transaction), and the browser goes to the first thing to sign."""
    with transaction(request) as session:
        action = actions.deposit(session, ports(request), signed.actor, plan_id, indices, "auto")
        to_sign = _next_to_sign(session, signed.actor, str(Subject.of(action)))
    # A token without permit: nothing to sign; the action lists the transactions the payer's wallet sends.
    return back_to(to_sign or f"/console/actions/{records.public_id(m.PlanAction, action.id)}")


def _next_to_sign(session: Session, actor: Actor, subject: str) -> str | None:
    """The page of the oldest request about `subject` the actor has yet to sign (a deposit's permit, then
    the deposit itself), or None."""
    first = session.scalar(
        select(m.SignatureRequest.id)
        .where(
            m.SignatureRequest.party_id == actor.party_id,
            m.SignatureRequest.subject == subject,
            m.SignatureRequest.status == SignatureStatus.PENDING,
        )
        .order_by(m.SignatureRequest.id)
        .limit(1)
    )
    return None if first is None else f"/console/signature_requests/{records.public_id(m.SignatureRequest, first)}"


@router.post("/plans/{plan_id}/instalments/{index}/{step}")
async def instalment_step(
    request: Request,
    signed: Changing,
    plan_id: str,
    index: int,
    step: Literal["approve", "attest", "materials", "disputes"],
    reason: Annotated[str, Form(max_length=2_000)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    uploads = await read_uploads(files, ports(request).documents.max_bytes) if step in ("materials", "disputes") else []
    with transaction(request) as session:
        if step == "approve":
            action = actions.approve_release(session, ports(request), signed.actor, plan_id, index)
        elif step == "attest":
            action = actions.attest_materials(session, ports(request), signed.actor, plan_id, index)
        elif step == "materials":
            action = actions.submit_materials(session, ports(request), signed.actor, plan_id, index, uploads)
        else:
            action = actions.dispute(session, ports(request), signed.actor, plan_id, index, reason, uploads)
        to_sign = _next_to_sign(session, signed.actor, str(Subject.of(action)))
    return back_to(to_sign or f"/console/plans/{plan_id}")


@router.post("/actions/{action_id}/resolve")
def resolve(
    request: Request,
    signed: Changing,
    action_id: str,
    to_payee: Annotated[str, Form(max_length=80)],
    note: Comment = "",
) -> Response:
    """The arbiter's split, typed in the token's units (1,250.50), not in base units."""
    signed.actor.require_operator()  # before the dispute is looked up, as the API refuses a party
    with transaction(request) as session:
        disputed = records.get_action(session, signed.actor, action_id)
        plan = session.get(m.Plan, disputed.plan_id)
        assert plan is not None
        token = ports(request).chain.token_facts(plan.token)
        amount = units_of(to_payee.replace(",", "").strip(), token.decimals, "to_payee")
        actions.resolve(session, ports(request), signed.actor, action_id, amount, note)
    return back_to(f"/console/actions/{action_id}")


class SignatureIn(BaseModel):
    signature: str = Field(max_length=20_000)


@router.post("/signature_requests/{request_id}/sign")
def sign(request: Request, signed: Changing, request_id: str, body: SignatureIn) -> Response:
    """What the page's "Sign with wallet" posts (JSON, the CSRF token in a header): the wallet's
    eth_signTypedData_v4 answer. The script goes next to what is left to sign of the same subject, else home."""
    with reading(request) as session:
        signature = signatures.check(session, ports(request), signed.actor, request_id, body.signature)
    with transaction(request) as session:
        done = signatures.submit(session, ports(request), signed.actor, request_id, signature)
        to_sign = _next_to_sign(session, signed.actor, done.subject)
    return JSONResponse({"next": to_sign or "/console"})
