"""Signing in and out: a party with its wallet (Sign-In with Ethereum), the operator with its API key."""

from __future__ import annotations

from typing import Annotated

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daifa.api.deps import client_address, platform, ports, reading
from daifa.console import sessions, siwe
from daifa.console.web import Changing, ConsoleRoute, check_origin, render
from daifa.domain.onboarding import PartyStatus
from daifa.errors import Forbidden, Unauthenticated
from daifa.services import credentials
from daifa.services.context import Role
from daifa.store import models as m
from daifa.store.models import utcnow

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


class MessageIn(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")


class SignInIn(BaseModel):
    message: str = Field(max_length=siwe.MAX_MESSAGE)
    signature: str = Field(max_length=200)


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    demo_parties: list[m.Party] = []
    if request.app.state.demo_signers:  # development only: daifa demo --console
        with reading(request) as session:
            query = select(m.Party).where(m.Party.address.in_(list(request.app.state.demo_signers)))
            demo_parties = list(session.scalars(query.order_by(m.Party.id)))
    return render(request, "sign_in.html", demo_parties=demo_parties)


@router.post("/sign-in/key")
def sign_in_with_key(request: Request, api_key: Annotated[str, Form(max_length=200)]) -> Response:
    """The operator exchanges its API key for a session; the key itself is not kept in the browser."""
    check_origin(request)
    failures = request.app.state.failed_authentication
    address = client_address(request)
    failures.check(address)
    with request.app.state.read_engine.connect() as connection:
        try:
            actor = credentials.authenticate(connection, api_key.strip())
        except Unauthenticated:
            failures.take(address)
            raise
    if not actor.is_operator:
        raise Forbidden("parties sign in with their wallet: use 'Sign in with wallet'")
    with platform(request).sessions.begin() as session:
        token = sessions.open_session(session, Role.OPERATOR, utcnow(), key_id=actor.key_id)
    return set_session_cookie(RedirectResponse("/console", status_code=303), token)


@router.post("/sign-in/wallet/message")
def sign_in_message(request: Request, body: MessageIn) -> Response:
    """The message the wallet at `address` is asked to sign; its nonce goes into this browser's cookie."""
    check_origin(request)
    nonce = siwe.new_nonce()
    message = siwe.write(
        _domain(request), _checksummed(body.address), _uri(request), ports(request).chain.chain_id, nonce, utcnow()
    )
    response = JSONResponse({"message": message.text()})
    response.set_cookie(
        sessions.NONCE_COOKIE, nonce, max_age=int(siwe.VALID_FOR.total_seconds()), path="/console/sign-in",
        httponly=True, samesite="strict", secure=True,
    )  # fmt: skip
    return response


@router.post("/sign-in/wallet")
def sign_in_with_wallet(request: Request, body: SignInIn) -> Response:
    check_origin(request)
    now = utcnow()
    try:
        message = siwe.verify(
            body.message,
            body.signature,
            domain=_domain(request),
            uri=_uri(request),
            chain_id=ports(request).chain.chain_id,
            nonce=request.cookies.get(sessions.NONCE_COOKIE, ""),
            now=now,
            contract_accepts=_contract_accepts(request),
        )
    except siwe.SignInRefused as refused:
        raise Unauthenticated(str(refused)) from None
    try:
        with platform(request).sessions.begin() as session:
            party = session.scalar(select(m.Party).where(m.Party.address == message.address))
            if party is None:
                raise Forbidden(f"no party has the wallet {message.address}: apply to open an account first")
            if party.status in (PartyStatus.REJECTED, PartyStatus.SUSPENDED):
                raise Forbidden(f"this account is {party.status}: ask the operator")
            token = sessions.open_session(session, Role.PARTY, now, party_id=party.id, nonce=message.nonce)
    except IntegrityError:
        raise Unauthenticated("this sign-in message was already used: start the sign-in again") from None
    response = set_session_cookie(JSONResponse({"next": "/console"}), token)
    response.delete_cookie(sessions.NONCE_COOKIE, path="/console/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, signed: Changing) -> Response:
    with platform(request).sessions.begin() as session:
        sessions.end(session, request.cookies.get(sessions.COOKIE, ""), utcnow())
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/console")
    return response


def set_session_cookie(response: Response, token: str) -> Response:
    """Secure always: browsers keep Secure cookies from http://127.0.0.1 and localhost too (a developer's
    machine, the demo), and send them over nothing but HTTPS elsewhere."""
    response.set_cookie(
        sessions.COOKIE, token, max_age=int(sessions.LIFETIME.total_seconds()), path="/console",
        httponly=True, samesite="strict", secure=True,
    )  # fmt: skip
    return response


def _contract_accepts(request: Request) -> siwe.ContractCheck:
    """A contract wallet's own word on a sign-in signature (a Safe's owners signed it), asked of the chain."""
    chain = ports(request).chain

    def accepts(address: str, digest: bytes, signature: bytes) -> bool:
        return chain.has_code(address) and chain.erc1271_refusal(address, digest, signature) is None

    return accepts


def _domain(request: Request) -> str:
    return request.headers.get("host", "")


def _uri(request: Request) -> str:
    return f"{request.url.scheme}://{_domain(request)}/console"


def _checksummed(address: str) -> str:
    return str(to_checksum_address(address))
