"""Signature requests: typed data for the party's wallet, and the signatures coming back."""

from __future__ import annotations

from fastapi import APIRouter, Request

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, reading, transaction
from daifa.domain.signature_requests import SignatureStatus
from daifa.services import signatures
from daifa.store import models as m

router = APIRouter(prefix="/v1/signature_requests", tags=["signatures"])


@router.get("", response_model=s.Page[s.SignatureRequestOut])
def list_requests(
    request: Request,
    actor: CurrentActor,
    page: Paginated,
    status: SignatureStatus | None = None,
) -> s.Page[s.SignatureRequestOut]:
    wanted = None if status is None else m.SignatureRequest.status == status
    with transaction(request) as session:
        return page.visible(session, actor, m.SignatureRequest, views.signature_request, wanted)


@router.post("/signatures", response_model=s.Page[s.SignatureRequestOut])
def sign_many(request: Request, actor: CurrentActor, body: s.SignaturesIn) -> s.Page[s.SignatureRequestOut]:
    """Post up to 100 signatures at once (a payer signing a month's agreement sets): each is checked as
    one posted alone would be, and the batch is stored whole or, with every refusal listed, not at all."""
    signed = [(item.request, item.signature) for item in body.signatures]
    with reading(request) as session:
        checked = signatures.check_many(session, ports(request), actor, signed)
    with transaction(request) as session:
        rows = [
            signatures.submit(session, ports(request), actor, request_id, signature)
            for (request_id, _), signature in zip(signed, checked, strict=True)
        ]
    # Shown after the commit: a signature request's view is its own columns, read with the write lock free.
    return s.Page(data=[views.signature_request(row) for row in rows], has_more=False)


@router.get("/{request_id}", response_model=s.SignatureRequestOut)
def get_request(request: Request, actor: CurrentActor, request_id: str) -> s.SignatureRequestOut:
    with transaction(request) as session:
        return views.signature_request(signatures.get(session, actor, request_id))


@router.post("/{request_id}/sign", response_model=s.SignatureRequestOut)
def sign(request: Request, actor: CurrentActor, request_id: str, body: s.SignatureIn) -> s.SignatureRequestOut:
    """Post the signature your wallet made over this request's `typed_data` (eth_signTypedData_v4)."""
    with reading(request) as session:
        signature = signatures.check(session, ports(request), actor, request_id, body.signature)
    with transaction(request) as session:
        signed = signatures.submit(session, ports(request), actor, request_id, signature)
    return views.signature_request(signed)  # after the commit: the write lock is not held while it is shown
