"""Products: the payee's application, the operator's review, the payer's credit authorisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, read_uploads, transaction
from daifa.services import products, records
from daifa.store import models as m

router = APIRouter(prefix="/v1/products", tags=["products"])


@router.post("", status_code=201, response_model=s.ProductOut)
async def apply(
    request: Request,
    actor: CurrentActor,
    payer: Annotated[str, Form(max_length=40, description="the payer's party id")],
    business_name: Annotated[str, Form(max_length=400)],
    limit: Annotated[str, Form(max_length=78, description="credit limit in the token's smallest unit")],
    tokens: Annotated[list[str], Form(description="token addresses the plans may use")],
    expiry: Annotated[int, Form(ge=0, le=2**40 - 1, description="unix seconds")],
    files: Annotated[list[UploadFile], File(description="the business contract")],
) -> s.ProductOut:
    """The payee applies to open the disbursement product for a piece of business with a payer."""
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    amount = s.parse_amount(limit, "limit")
    now = await run_in_threadpool(ports(request).chain.now)  # before the write transaction, off the event loop
    with transaction(request) as session:
        product = products.apply(
            session, ports(request), actor, payer, business_name, amount, tokens, expiry, uploads, now
        )
        return views.product(session, product)


@router.post("/authorise_credit", response_model=s.Page[s.ProductOut])
def authorise_credit_many(
    request: Request, actor: CurrentActor, body: s.CreditAuthorisationsIn
) -> s.Page[s.ProductOut]:
    """The payer authorises the credit of up to 100 products at once (an employer opening products with
    many labour firms), each at the limit its payee asked for: all of them, or none with every refusal
    listed. To lower a limit, authorise that product alone."""
    now = ports(request).chain.now()  # before the write transaction: a slow node must not hold the write lock
    with transaction(request) as session:
        authorised = products.authorise_credit_many(session, ports(request), actor, body.products, now)
        return s.Page(data=[views.product(session, product) for product in authorised], has_more=False)


@router.get("", response_model=s.Page[s.ProductOut])
def list_products(request: Request, actor: CurrentActor, page: Paginated) -> s.Page[s.ProductOut]:
    with transaction(request) as session:
        return page.visible(session, actor, m.Product, lambda row: views.product(session, row))


@router.get("/{product_id}", response_model=s.ProductOut)
def get_product(request: Request, actor: CurrentActor, product_id: str) -> s.ProductOut:
    with transaction(request) as session:
        return views.product(session, records.get_product(session, actor, product_id))


@router.post("/{product_id}/documents", response_model=s.ProductOut)
async def add_documents(
    request: Request, actor: CurrentActor, product_id: str, files: Annotated[list[UploadFile], File()]
) -> s.ProductOut:
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        return views.product(session, products.add_documents(session, ports(request), actor, product_id, uploads))


@router.post("/{product_id}/request_documents", response_model=s.ProductOut)
def request_documents(request: Request, actor: CurrentActor, product_id: str, body: s.RejectIn) -> s.ProductOut:
    with transaction(request) as session:
        return views.product(session, products.request_documents(session, actor, product_id, body.reason))


@router.post("/{product_id}/approve", response_model=s.ProductOut)
def approve(request: Request, actor: CurrentActor, product_id: str, body: s.ReviewIn) -> s.ProductOut:
    with transaction(request) as session:
        return views.product(session, products.approve(session, actor, product_id, body.comment))


@router.post("/{product_id}/reject", response_model=s.ProductOut)
def reject(request: Request, actor: CurrentActor, product_id: str, body: s.RejectIn) -> s.ProductOut:
    with transaction(request) as session:
        return views.product(session, products.reject(session, actor, product_id, body.reason))


@router.post("/{product_id}/authorise_credit", response_model=s.ProductOut)
def authorise_credit(
    request: Request, actor: CurrentActor, product_id: str, body: s.CreditAuthorisationIn
) -> s.ProductOut:
    """The payer authorises the credit; the three agreements are generated for both parties to sign."""
    now = ports(request).chain.now()  # before the write transaction: a slow node must not hold the write lock
    with transaction(request) as session:
        product = products.authorise_credit(session, ports(request), actor, product_id, body.limit, now)
        return views.product(session, product)


@router.post("/{product_id}/decline_credit", response_model=s.ProductOut)
def decline_credit(request: Request, actor: CurrentActor, product_id: str, body: s.RejectIn) -> s.ProductOut:
    with transaction(request) as session:
        return views.product(session, products.decline_credit(session, actor, product_id, body.reason))
