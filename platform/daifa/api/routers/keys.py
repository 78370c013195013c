"""API keys: listed, created, rolled and revoked; the operator for anyone, a party for its own."""

from __future__ import annotations

from fastapi import APIRouter, Request

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, transaction
from daifa.services import credentials

router = APIRouter(prefix="/v1/api_keys", tags=["api keys"])


@router.get("", response_model=s.Page[s.ApiKeyOut])
def list_keys(request: Request, actor: CurrentActor, party: str | None = None) -> s.Page[s.ApiKeyOut]:
    """The caller's keys (a party), or every key or one party's (the operator); newest first, at most 1,000."""
    with transaction(request) as session:
        return s.Page(data=[views.api_key(row) for row in credentials.list_keys(session, actor, party)], has_more=False)


@router.post("", status_code=201, response_model=s.ApiKeyOut)
def create_key(request: Request, actor: CurrentActor, body: s.ApiKeyIn) -> s.ApiKeyOut:
    """A new key. Its `secret` is shown here, once; the platform keeps only its hash."""
    with transaction(request) as session:
        row, secret = credentials.create(session, actor, body.party, body.label)
        return views.api_key(row, secret)


@router.post("/{key_id}/roll", status_code=201, response_model=s.ApiKeyOut)
def roll_key(request: Request, actor: CurrentActor, key_id: str, body: s.ApiKeyRollIn) -> s.ApiKeyOut:
    """Replace a key: the new one (its `secret` shown once) works now, the old one for `expires_in` more seconds."""
    with transaction(request) as session:
        row, secret = credentials.roll(session, actor, key_id, body.expires_in)
        return views.api_key(row, secret)


@router.post("/{key_id}/revoke", response_model=s.ApiKeyOut)
def revoke_key(request: Request, actor: CurrentActor, key_id: str) -> s.ApiKeyOut:
    """Stop a key now. The last operator key cannot be revoked (issue another first)."""
    with transaction(request) as session:
        return views.api_key(credentials.revoke(session, actor, key_id))
