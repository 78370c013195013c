"""API keys. A key is shown once, when issued; the database keeps only its SHA-256, so a stolen
database opens no account. Keys are 32 random bytes, which makes a plain hash as safe as a slow one."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from daifa.errors import Unauthenticated
from daifa.services.context import Actor, Role
from daifa.store import models as m

KEY_PREFIX = "dk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, role: Role, party_id: int | None = None) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(m.ApiKey(key_hash=hash_key(key), prefix=key[:10], role=role.value, party_id=party_id))
    session.flush()
    return key


def authenticate(session: Session | Connection, key: str | None) -> Actor:
    if not key:
        raise Unauthenticated("send your API key as 'Authorization: Bearer dk_...'")
    row = session.execute(
        select(m.ApiKey.role, m.ApiKey.party_id, m.ApiKey.revoked_at).where(m.ApiKey.key_hash == hash_key(key))
    ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("this API key is unknown or revoked: check it, or ask the operator for a new one")
    return Actor(Role(row.role), row.party_id)
