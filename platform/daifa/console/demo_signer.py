"""Development only (`daifa demo --console`): the console signs for the demo's parties with their demo
keys, so a newcomer can try every page on the embedded chain without a browser wallet. Mounted only when
the app is built with demo signers; a real deployment has none, and these routes do not exist there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from daifa.api.deps import platform, ports, reading, transaction
from daifa.console import sessions
from daifa.console.signin import set_session_cookie
from daifa.console.web import Changing, ConsoleRoute, back_to, check_origin
from daifa.errors import NotFound
from daifa.services import records, signatures
from daifa.services.context import Role
from daifa.store import models as m
from daifa.store.models import utcnow
from daifa.wallet import Wallet

router = APIRouter(prefix="/console/demo", route_class=ConsoleRoute, include_in_schema=False)


def _signer(request: Request, address: str) -> Wallet:
    wallet: Wallet | None = request.app.state.demo_signers.get(address)
    if wallet is None:
        raise NotFound(f"{address} is not one of the demo's parties")
    return wallet


@router.post("/sign-in")
def sign_in_as(request: Request, address: Annotated[str, Form(max_length=42)]) -> Response:
    check_origin(request)
    _signer(request, address)
    with platform(request).sessions.begin() as session:
        party = session.scalar(select(m.Party).where(m.Party.address == address))
        if party is None:
            raise NotFound(f"no party has the wallet {address}")
        token = sessions.open_session(session, Role.PARTY, utcnow(), party_id=party.id)
    return set_session_cookie(back_to("/console"), token)


@router.post("/signature_requests/{request_id}/sign")
def sign_with_demo_key(request: Request, signed: Changing, request_id: str) -> Response:
    with reading(request) as session:
        asked = signatures.get(session, signed.actor, request_id)
        party = session.get(m.Party, asked.party_id)
        assert party is not None
        signature = _signer(request, party.address).sign_typed_data(asked.typed_data)
        checked = signatures.check(session, ports(request), signed.actor, request_id, signature)
    with transaction(request) as session:
        signatures.submit(session, ports(request), signed.actor, request_id, checked)
    return back_to(f"/console/signature_requests/{records.public_id(m.SignatureRequest, asked.id)}")
