"""The console's sessions: a random token in an httpOnly, SameSite=Strict cookie, its SHA-256 in the
database, an idle expiry and an absolute one, and a CSRF token every form and script sends back.

The CSRF token is an HMAC of the session's token, so it is never stored and dies with the session; a
page of another site can neither read it nor (SameSite=Strict) send the cookie along.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from daifa.domain.onboarding import PartyStatus
from daifa.services.context import Actor, Role
from daifa.services.credentials import UNDER_REVIEW
from daifa.store import models as m

COOKIE = "daifa_console"
NONCE_COOKIE = "daifa_sign_in"  # the Sign-In with Ethereum nonce this browser was given
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class Signed:
    """A live session: who it acts as, and the token its forms must carry."""

    id: int
    actor: Actor
    csrf: str
    stale: bool  # last_seen_at is older than TOUCH_EVERY: the request should write it


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), b"daifa console csrf", hashlib.sha256).hexdigest()


def open_session(
    session: Session, role: Role, now: datetime, *, party_id: int | None = None, key_id: int | None = None,
    nonce: str | None = None,
) -> str:  # fmt: skip
    """A new session; the token for the cookie (shown once, only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    session.add(
        m.ConsoleSession(
            token_hash=token_hash(token),
            role=role.value,
            party_id=party_id,
            key_id=key_id,
            sign_in_nonce=nonce,
            created_at=now,
            last_seen_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return token


_LIVE = (
    select(
        m.ConsoleSession.id,
        m.ConsoleSession.role,
        m.ConsoleSession.party_id,
        m.ConsoleSession.key_id,
        m.ConsoleSession.last_seen_at,
        m.ConsoleSession.expires_at,
        m.ConsoleSession.ended_at,
        m.Party.status.label("party_status"),
        m.ApiKey.revoked_at,
        m.ApiKey.expires_at.label("key_expires_at"),
    )
    .outerjoin(m.Party, m.Party.id == m.ConsoleSession.party_id)
    .outerjoin(m.ApiKey, m.ApiKey.id == m.ConsoleSession.key_id)
)


def find(connection: Connection, token: str | None, now: datetime) -> Signed | None:
    """The live session of this cookie, or None: unknown, signed out, idle too long, past its lifetime,
    its operator key revoked or expired, or its party rejected or suspended."""
    if not token or len(token) > 100:
        return None
    row = connection.execute(_LIVE.where(m.ConsoleSession.token_hash == token_hash(token))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    if row.role == Role.OPERATOR:
        if row.key_id is None or row.revoked_at is not None or (row.key_expires_at and row.key_expires_at <= now):
            return None
        actor = Actor(Role.OPERATOR, key_id=row.key_id)
    else:
        if row.party_status in (PartyStatus.REJECTED, PartyStatus.SUSPENDED, None):
            return None
        actor = Actor(Role.PARTY, row.party_id, applicant=row.party_status in UNDER_REVIEW)
    return Signed(row.id, actor, csrf_token(token), stale=row.last_seen_at + TOUCH_EVERY <= now)


def touch(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(m.ConsoleSession).where(m.ConsoleSession.id == session_id).values(last_seen_at=now))


def end(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(m.ConsoleSession)
        .where(m.ConsoleSession.token_hash == token_hash(token), m.ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, expires_at=now)
    )
