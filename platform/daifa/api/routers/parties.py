"""Parties: applications (onboarding) and the operator's review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, client_address, ports, read_uploads, transaction
from daifa.services import onboarding, records
from daifa.store import models as m

router = APIRouter(prefix="/v1/parties", tags=["parties"])


@router.post("", status_code=201, response_model=s.ApplicationOut)
async def apply(
    request: Request,
    address: Annotated[str, Form(max_length=42)],
    legal_name: Annotated[str, Form(max_length=400)],
    kind: Annotated[str, Form(max_length=10, description="payer, payee or both")],
    files: Annotated[list[UploadFile], File(description="qualification documents: PDF, PNG, JPEG or text")],
) -> s.ApplicationOut:
    """Apply for an account (no API key needed). The key in the answer is shown once: a retry with the same
    Idempotency-Key gets the application without it. Applications from one address are rate limited."""
    request.app.state.applications.take(client_address(request))
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        party, key = onboarding.apply(session, ports(request), address, legal_name, kind, uploads)
        return s.ApplicationOut(party=views.party(session, party), api_key=key)


@router.get("", response_model=s.Page[s.PartyOut])
def list_parties(request: Request, actor: CurrentActor, page: Paginated) -> s.Page[s.PartyOut]:
    with transaction(request) as session:
        return page.visible(session, actor, m.Party, lambda row: views.party(session, row))


@router.get("/{party_id}", response_model=s.PartyOut)
def get_party(request: Request, actor: CurrentActor, party_id: str) -> s.PartyOut:
    with transaction(request) as session:
        return views.party(session, records.get_party(session, actor, party_id))


@router.post("/{party_id}/documents", response_model=s.PartyOut)
async def add_documents(
    request: Request, actor: CurrentActor, party_id: str, files: Annotated[list[UploadFile], File()]
) -> s.PartyOut:
    uploads = await read_uploads(files, ports(request).documents.max_bytes)
    with transaction(request) as session:
        return views.party(session, onboarding.add_documents(session, ports(request), actor, party_id, uploads))


@router.post("/{party_id}/request_documents", response_model=s.PartyOut)
def request_documents(request: Request, actor: CurrentActor, party_id: str, body: s.RejectIn) -> s.PartyOut:
    with transaction(request) as session:
        return views.party(session, onboarding.request_documents(session, actor, party_id, body.reason))


@router.post("/{party_id}/approve", response_model=s.PartyOut)
def approve(request: Request, actor: CurrentActor, party_id: str, body: s.ReviewIn) -> s.PartyOut:
    """Approve the application: the party is approved on chain; its account opens when the chain confirms."""
    with transaction(request) as session:
        return views.party(session, onboarding.approve(session, ports(request), actor, party_id, body.comment))


@router.post("/{party_id}/reject", response_model=s.PartyOut)
def reject(request: Request, actor: CurrentActor, party_id: str, body: s.RejectIn) -> s.PartyOut:
    with transaction(request) as session:
        return views.party(session, onboarding.reject(session, actor, party_id, body.reason))


@router.post("/{party_id}/suspend", response_model=s.PartyOut)
def suspend(request: Request, actor: CurrentActor, party_id: str) -> s.PartyOut:
    with transaction(request) as session:
        return views.party(session, onboarding.suspend(session, ports(request), actor, party_id))


@router.post("/{party_id}/reinstate", response_model=s.PartyOut)
def reinstate(request: Request, actor: CurrentActor, party_id: str) -> s.PartyOut:
    with transaction(request) as session:
        return views.party(session, onboarding.reinstate(session, ports(request), actor, party_id))
