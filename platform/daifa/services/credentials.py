"""API keys. A key is shown once, when issued; the database keeps only its SHA-256, so a stolen
database opens no account. Keys are 32 random bytes, which makes a plain hash as safe as a slow one.

Keys are listed, issued, rolled and revoked through the API: the operator for anyone, a party for its
own. Rolling issues a new key and lets the old one work for a grace period (at most a week) so the
caller can swap it without a gap. A key stops working when it is revoked, when it expires, and when
its party's application is rejected. A party whose account is not open yet (its application under
review) authenticates as an applicant, who may only read its application and add documents to it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from daifa.domain.onboarding import PartyStatus
from daifa.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, Unauthenticated
from daifa.services import records
from daifa.services.context import Actor, Role
from daifa.store import models as m

KEY_PREFIX = "dk_"
LONGEST_GRACE = timedelta(days=7)
MAX_KEYS_PER_PARTY = 10  # live keys at once: enough to roll, few enough to audit
UNDER_REVIEW = frozenset({PartyStatus.SUBMITTED, PartyStatus.DOCUMENTS_REQUESTED, PartyStatus.APPROVED})


def bearer_key(authorization: str) -> str | None:
    """The API key an `Authorization: Bearer <key>` header carries, else None."""
    scheme, _, key = authorization.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, role: Role, party_id: int | None = None, label: str | None = None) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(m.ApiKey(key_hash=hash_key(key), prefix=key[:10], role=role.value, party_id=party_id, label=label))
    session.flush()
    return key


# Built once: every request authenticates, and building the statement costs more than running it.
KEY = (
    select(m.ApiKey.id, m.ApiKey.role, m.ApiKey.party_id, m.ApiKey.revoked_at, m.ApiKey.expires_at, m.Party.status)
    .outerjoin(m.Party, m.Party.id == m.ApiKey.party_id)
    .where(m.ApiKey.key_hash == bindparam("key_hash"))
)


def authenticate(session: Session | Connection, key: str | None) -> Actor:
    if not key:
        raise Unauthenticated("send your API key as 'Authorization: Bearer dk_...'")
    return actor_from(session.execute(KEY, {"key_hash": hash_key(key)}).first())


def actor_from(row: Any) -> Actor:
    """The actor a key's row (`KEY`'s columns) authenticates, or Unauthenticated saying why not."""
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= m.utcnow()):
        raise Unauthenticated(
            "this API key is unknown, revoked or expired: check it, or ask the operator for a new one"
        )
    if row.status == PartyStatus.REJECTED:
        raise Unauthenticated("this key's application was rejected, so the key no longer works: apply again")
    return Actor(Role(row.role), row.party_id, key_id=row.id, applicant=row.status in UNDER_REVIEW)


def key_id(session: Session | Connection, key: str) -> int | None:
    """The id of a key that would authenticate now, else None (what idempotency scopes by)."""
    try:
        return authenticate(session, key).key_id
    except Unauthenticated:
        return None


# ------------------------------------------------------------------------------------------ management


def list_keys(session: Session, actor: Actor, party: str | None = None) -> list[m.ApiKey]:
    query = select(m.ApiKey).order_by(m.ApiKey.id.desc())
    if not actor.is_operator:
        query = query.where(m.ApiKey.party_id == actor.party_id)
    elif party is not None:
        query = query.where(m.ApiKey.party_id == records.parse_id(m.Party, party))
    return list(session.scalars(query.limit(1_000)))


def create(session: Session, actor: Actor, party: str | None, label: str | None) -> tuple[m.ApiKey, str]:
    """A new key: a party's own, or (the operator) any party's or another operator key."""
    if actor.is_operator:
        party_id = records.get_party(session, actor, party).id if party is not None else None
    else:
        party_id = actor.require_party()
        if party is not None and records.parse_id(m.Party, party) != party_id:
            raise NotFound(f"no party {party}: a party issues keys for itself only")
    if party_id is not None:
        _check_room(session, party_id)
    secret = issue(session, Role.PARTY if party_id is not None else Role.OPERATOR, party_id, label)
    row = session.scalars(select(m.ApiKey).where(m.ApiKey.key_hash == hash_key(secret))).one()
    return row, secret


def revoke(session: Session, actor: Actor, key: str) -> m.ApiKey:
    row = _own(session, actor, key)
    if row.revoked_at is None:
        if row.role == Role.OPERATOR and _live_operator_keys(session) <= 1:
            raise Conflict("this is the last operator key: issue another before revoking it")
        row.revoked_at = m.utcnow()
    return row


def roll(session: Session, actor: Actor, key: str, grace_seconds: int) -> tuple[m.ApiKey, str]:
    """A new key for the same holder; the old one works `grace_seconds` longer (0: stops at once)."""
    grace = timedelta(seconds=grace_seconds)
    if not timedelta(0) <= grace <= LONGEST_GRACE:
        raise InvalidInput([Problem("expires_in", f"from 0 to {int(LONGEST_GRACE.total_seconds())} seconds")])
    old = _own(session, actor, key)
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= m.utcnow()):
        raise Conflict(f"{records.public_id(m.ApiKey, old.id)} no longer works: create a new key instead")
    if old.party_id is not None:
        _check_room(session, old.party_id, rolling=True)
    secret = issue(session, Role(old.role), old.party_id, old.label)
    new = session.scalars(select(m.ApiKey).where(m.ApiKey.key_hash == hash_key(secret))).one()
    if grace:
        old.expires_at = m.utcnow() + grace
    else:
        old.revoked_at = m.utcnow()
    return new, secret


def status(row: m.ApiKey) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= m.utcnow():
        return "expired"
    return "active"


def _own(session: Session, actor: Actor, key: str) -> m.ApiKey:
    row = records.get(session, m.ApiKey, key, for_update=True)
    if not actor.is_operator and (row.party_id is None or row.party_id != actor.party_id):
        raise NotFound(f"no API key {key}: check the id")
    if actor.applicant and row.id != actor.key_id:
        raise Forbidden("while the application is under review, a party manages only the key it uses")
    return row


def _live(query: Select[Any]) -> Select[Any]:
    unexpired = m.ApiKey.expires_at.is_(None) | (m.ApiKey.expires_at > m.utcnow())
    return query.where(m.ApiKey.revoked_at.is_(None), unexpired)


def _live_operator_keys(session: Session) -> int:
    query = _live(select(func.count()).select_from(m.ApiKey).where(m.ApiKey.role == Role.OPERATOR.value))
    return int(session.scalar(query) or 0)


def _check_room(session: Session, party_id: int, rolling: bool = False) -> None:
    query = _live(select(func.count()).select_from(m.ApiKey).where(m.ApiKey.party_id == party_id))
    live = int(session.scalar(query) or 0)
    if live >= MAX_KEYS_PER_PARTY + (1 if rolling else 0):
        raise Conflict(f"the party has {live} live keys, the most it may hold: revoke one first")
