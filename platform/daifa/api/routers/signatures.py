"""Signature requests: typed data for the party's wallet, and the signatures coming back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, transaction
from daifa.domain.signature_requests import SignatureStatus
from daifa.services import records, signatures
from daifa.store import models as m

router = APIRouter(prefix="/v1/signature_requests", tags=["signatures"])


@router.get("", response_model=s.Page[s.SignatureRequestOut])
def list_requests(
    request: Request,
    actor: CurrentActor,
    page: Paginated,
    status: SignatureStatus | None = None,
) -> s.Page[s.SignatureRequestOut]:
    with transaction(request) as session:
        query = select(m.SignatureRequest).where(records.visible(actor, m.SignatureRequest))
        if status is not None:
            query = query.where(m.SignatureRequest.status == status)
        rows, more = page.page(session, m.SignatureRequest, query)
        return s.Page(data=[views.signature_request(r) for r in rows], has_more=more)


@router.get("/{request_id}", response_model=s.SignatureRequestOut)
def get_request(request: Request, actor: CurrentActor, request_id: str) -> s.SignatureRequestOut:
    with transaction(request) as session:
        return views.signature_request(signatures.get(session, actor, request_id))


@router.post("/{request_id}/sign", response_model=s.SignatureRequestOut)
def sign(request: Request, actor: CurrentActor, request_id: str, body: s.SignatureIn) -> s.SignatureRequestOut:
    """Post the signature your wallet made over this request's `typed_data` (eth_signTypedData_v4)."""
    with transaction(request) as session:
        return views.signature_request(signatures.submit(session, ports(request), actor, request_id, body.signature))
