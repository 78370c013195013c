"""Idempotency-Key for every POST, as Stripe does it.

The first request with a key runs and its response (any non-5xx) is kept under the key, scoped to the
caller; a retry with the same key and the same request gets the kept response, marked
`Idempotent-Replayed: true`; the same key with another request is refused.

The key is claimed inside the request's own first write transaction (`Claim.take`, called by
`daifa.api.deps.transaction`): the claim commits exactly when the request's changes do, so a claimed
key always means the request took effect, and a refused request (rolled back) leaves no claim. Of two
concurrent requests with one key, the second's claim conflicts and it changes nothing (409, retry in
a moment). The response is kept by one more, small write once the answer is known. A 5xx is not kept:
if it rolled back, the retry runs again; if its changes had committed, the claim stays and the retry
is told the request took effect.

The caller is the API key it authenticated with (its id, not the header's spelling), or, without a
key, its address: one caller never sees another's kept response. A request with a key that does not
authenticate is passed on untouched (it gets its 401) and nothing is kept. Kept responses never hold a
secret: fields shown once (an API key, a webhook secret) are blanked before a response is kept, so a
replay says the secret was already shown. Records are kept 24 hours.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daifa.api.guards import CONSOLE_PREFIX, client_address, replay_body
from daifa.api.problems import MEDIA_TYPE, problem
from daifa.errors import Conflict
from daifa.services import credentials
from daifa.services.housekeeping import IDEMPOTENCY_KEPT_FOR as KEPT_FOR
from daifa.store.models import IdempotencyRecord, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=2)
SHOWN_ONCE = frozenset({"api_key", "secret"})  # response fields a replay must not repeat
STATE_KEY = "idempotency"  # where the request's Claim waits in the ASGI scope's state


class KeyInUse(Conflict):
    code = "request_in_progress"

    def __init__(self) -> None:
        super().__init__("another request with this Idempotency-Key is running: retry in a moment")


@dataclass
class Claim:
    """A POST's key, to be claimed by the request's first write transaction."""

    scope: str
    key: str
    fingerprint: str
    expired: bool = False  # a record of this key older than KEPT_FOR is there: it gives way
    state: str = "open"  # open -> taking -> committed; lost when another request holds the key

    def take(self, session: Session) -> None:
        """Inserts the claim in `session`'s transaction, the first time only; a key another request holds
        raises KeyInUse, which rolls the whole transaction back."""
        if self.state != "open":
            return
        if self.expired:
            session.execute(self.delete_expired())
        try:
            session.execute(
                insert(IdempotencyRecord).values(scope=self.scope, key=self.key, request_hash=self.fingerprint)
            )
        except IntegrityError:
            self.state = "lost"
            raise KeyInUse() from None
        self.state = "taking"

    def transaction_ended(self, committed: bool) -> None:
        if self.state == "taking":
            self.state = "committed" if committed else "open"

    def delete_expired(self) -> Any:
        return delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == self.scope,
            IdempotencyRecord.key == self.key,
            IdempotencyRecord.created_at < utcnow() - KEPT_FOR,
        )


def claim_of(scope: Scope) -> Claim | None:
    """The request's claim, for POSTs the middleware let through."""
    claim = scope.get("state", {}).get(STATE_KEY)
    return claim if isinstance(claim, Claim) else None


def _without_boundary(body: bytes, content_type: str) -> bytes:
    """A multipart body with its boundary replaced by a fixed word: clients pick a new boundary for each
    attempt, and a retry of the same upload must fingerprint the same."""
    _, _, boundary = content_type.partition("boundary=")
    boundary = boundary.split(";", 1)[0].strip().strip('"')
    if not content_type.startswith("multipart/") or not boundary:
        return body
    return body.replace(b"--" + boundary.encode("latin-1"), b"--BOUNDARY")


def blank_secrets(content: bytes) -> bytes:
    """The JSON body with every field shown once set to null (anything else is returned unchanged)."""
    try:
        body = json.loads(content)
    except ValueError:
        return content
    blanked = _blank(body)
    return json.dumps(blanked, separators=(",", ":")).encode() if blanked != body else content


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k in SHOWN_ONCE and v is not None else _blank(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


@dataclass(frozen=True)
class _Kept:
    request_hash: str
    status_code: int | None
    response_body: bytes | None
    expired: bool
    age: timedelta


class IdempotencyMiddleware:
    """Sends POSTs through the idempotency check and everything else straight to the app (a plain ASGI
    middleware: no request or response wrapping beyond reading the body and holding the answer until it
    is kept)."""

    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], read_engine: Engine) -> None:
        self.app = app
        self.sessions = sessions
        self.read_engine = read_engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The console's forms cannot send a header: they carry a CSRF token, and the use cases they call
        # refuse a second go at what the first did (an approval, a signature).
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].startswith(CONSOLE_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        path, headers = scope["path"], Headers(scope=scope)
        key = headers.get(HEADER, "")
        if not key:
            detail = f"send an {HEADER} header (a fresh UUID) with every POST, so a retry cannot act twice"
            await problem(400, "idempotency_key_required", detail, path)(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            detail = f"the key must be 1 to {MAX_KEY_LENGTH} printable characters"
            await problem(400, "idempotency_key_invalid", detail, path)(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:
            return  # half a request runs nothing, and keeps nothing a retry with all of it would trip on
        # Two indexed reads on the event loop, like authentication's: cheaper than a thread hop, and they
        # never wait for a writer.
        with self.read_engine.connect() as connection:
            caller = _caller(connection, headers, scope)
            kept = None if caller is None else _kept(connection, caller, key)
        if caller is None:  # a key that does not authenticate: the app answers 401
            await self.app(scope, replay_body(body, receive), send)
            return
        fingerprint = _fingerprint(scope, body, headers.get("content-type", ""))
        if kept is not None and not kept.expired:
            await self._answer_again(kept, fingerprint, path)(scope, receive, send)
            return
        claim = Claim(caller, key, fingerprint, expired=kept is not None)
        scope.setdefault("state", {})[STATE_KEY] = claim
        answer = _Answer()
        await self.app(scope, replay_body(body, receive), answer.hold)
        if answer.start is None:
            return  # the app sent nothing (the client went away)
        await run_in_threadpool(self._keep, claim, answer.status, answer.content)
        await answer.release(send)

    def _answer_again(self, kept: _Kept, fingerprint: str, path: str) -> Response:
        if kept.request_hash != fingerprint:
            detail = f"this {HEADER} was used for another request: use a new key for a new request"
            return problem(409, "idempotency_key_reused", detail, path)
        if kept.status_code is None:
            if kept.age < ABANDONED_AFTER:
                detail = "the first request with this key is still finishing: retry in a moment"
                return problem(409, "request_in_progress", detail, path)
            detail = (
                "the first request with this key took effect, but its answer was lost: "
                "read (GET) what it changed, and use a new key for a new request"
            )
            return problem(409, "idempotency_key_abandoned", detail, path)
        status = kept.status_code
        replay = Response(kept.response_body, status_code=status, media_type=_media(status))
        replay.headers["Idempotent-Replayed"] = "true"
        return replay

    def _keep(self, claim: Claim, status: int, content: bytes) -> None:
        """Keeps the answer under the claim. A 5xx is not kept; the answer of a request that never took
        the claim (refused, so rolled back, or one that writes nothing) is kept under a new record, unless
        another request took the key meanwhile."""
        if status >= 500 or claim.state == "lost":
            return
        kept = {"status_code": status, "response_body": blank_secrets(content)}
        if claim.state == "committed":
            with self.sessions.begin() as session:
                session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.scope == claim.scope, IdempotencyRecord.key == claim.key)
                    .values(**kept)
                    .execution_options(synchronize_session=False)  # no record is loaded in this session
                )
            return
        try:
            with self.sessions.begin() as session:
                if claim.expired:
                    session.execute(claim.delete_expired())
                session.execute(
                    insert(IdempotencyRecord).values(
                        scope=claim.scope, key=claim.key, request_hash=claim.fingerprint, **kept
                    )
                )
        except IntegrityError:
            pass  # another request with the key ran meanwhile: its answer is the one kept


class _Answer:
    """The app's response, held until it is kept (a retry right after it must find it)."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def hold(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def status(self) -> int:
        assert self.start is not None
        return int(self.start["status"])

    @property
    def content(self) -> bytes:
        return b"".join(self.chunks)

    async def release(self, send: Send) -> None:
        assert self.start is not None
        await send(self.start)
        await send({"type": "http.response.body", "body": self.content, "more_body": False})


def _caller(connection: Connection, headers: Headers, scope: Scope) -> str | None:
    """The idempotency scope of the caller: its key's id, or its address; None for a key that does not
    authenticate."""
    key = credentials.bearer_key(headers.get("authorization", ""))
    if key is not None:
        key_id = credentials.key_id(connection, key)
        return None if key_id is None else hashlib.sha256(f"key:{key_id}".encode()).hexdigest()
    return hashlib.sha256(f"address:{client_address(scope)}".encode()).hexdigest()


async def _body(receive: Receive) -> bytes | None:
    """The whole request body (the request guard outside has already bounded its size); None if the
    client went away before sending all of it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes, content_type: str) -> str:
    return hashlib.sha256(
        b"\n".join(
            [
                scope["method"].encode(),
                scope["path"].encode(),
                scope.get("query_string", b""),
                _without_boundary(body, content_type),
            ]
        )
    ).hexdigest()


def _kept(connection: Connection, caller: str, key: str) -> _Kept | None:
    row = connection.execute(
        select(
            IdempotencyRecord.request_hash,
            IdempotencyRecord.status_code,
            IdempotencyRecord.response_body,
            IdempotencyRecord.created_at,
        ).where(IdempotencyRecord.scope == caller, IdempotencyRecord.key == key)
    ).first()
    if row is None:
        return None
    age = utcnow() - row.created_at
    return _Kept(row.request_hash, row.status_code, row.response_body, age >= KEPT_FOR, age)


def _media(status: int) -> str:
    return "application/json" if status < 400 else MEDIA_TYPE
