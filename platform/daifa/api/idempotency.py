"""Idempotency-Key for every POST, as Stripe does it.

The first request with a key runs and its response (any non-5xx) is kept under the key, scoped to the
caller; a retry with the same key and the same request gets the kept response, marked
`Idempotent-Replayed: true`; the same key with another request is refused. A 5xx is not kept, so the
retry runs again (the platform's transactions roll back on a 5xx, so nothing ran twice).

The caller is the API key it authenticated with (its id, not the header's spelling), or, without a
key, its address: one caller never sees another's kept response. A request with a key that does not
authenticate is passed on untouched (it gets its 401) and nothing is kept. Kept responses never hold a
secret: fields shown once (an API key, a webhook secret) are blanked before a response is kept, so a
replay says the secret was already shown. Records are kept 24 hours.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from daifa.api.problems import MEDIA_TYPE, problem
from daifa.services import credentials
from daifa.services.housekeeping import IDEMPOTENCY_KEPT_FOR as KEPT_FOR
from daifa.store.models import IdempotencyRecord, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=2)
SHOWN_ONCE = frozenset({"api_key", "secret"})  # response fields a replay must not repeat


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


class IdempotencyMiddleware:
    """Sends POSTs through the idempotency check and everything else straight to the app (a plain ASGI
    middleware: reads do not pay for BaseHTTPMiddleware's request and response wrapping)."""

    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], read_engine: Engine) -> None:
        self.app = app
        self.posts = _IdempotentPosts(app, sessions, read_engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            await self.posts(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _IdempotentPosts(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session], read_engine: Engine) -> None:
        super().__init__(app)
        self.sessions = sessions
        self.read_engine = read_engine

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        key = request.headers.get(HEADER, "")
        if not key:
            detail = f"send an {HEADER} header (a fresh UUID) with every POST, so a retry cannot act twice"
            return problem(400, "idempotency_key_required", detail, path)
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return problem(
                400, "idempotency_key_invalid", f"the key must be 1 to {MAX_KEY_LENGTH} printable characters", path
            )
        scope = await run_in_threadpool(self._caller, request)
        if scope is None:
            return await call_next(request)  # a key that does not authenticate: the app answers 401
        body = await request.body()
        fingerprint = hashlib.sha256(
            b"\n".join(
                [
                    request.method.encode(),
                    str(request.url.path).encode(),
                    request.url.query.encode(),
                    _without_boundary(body, request.headers.get("content-type", "")),
                ]
            )
        ).hexdigest()
        previous = await run_in_threadpool(self._claim, scope, key, fingerprint)
        if previous is not None:
            if previous.request_hash != fingerprint:
                detail = f"this {HEADER} was used for another request: use a new key for a new request"
                return problem(409, "idempotency_key_reused", detail, path)
            if previous.status_code is None:
                if utcnow() - previous.created_at < ABANDONED_AFTER:
                    return problem(
                        409,
                        "request_in_progress",
                        "the first request with this key is still running: retry in a moment",
                        path,
                    )
                detail = (
                    "the first request with this key never finished: "
                    "check (GET) whether it took effect, then use a new key"
                )
                return problem(409, "idempotency_key_abandoned", detail, path)
            replay = Response(
                previous.response_body, status_code=previous.status_code, media_type=_media(previous.status_code)
            )
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = await call_next(request)
        content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        await run_in_threadpool(self._finish, scope, key, response.status_code, content)
        return Response(content, status_code=response.status_code, headers=dict(response.headers))

    def _caller(self, request: Request) -> str | None:
        """The idempotency scope of the caller: its key's id, or its address; None for a key that does not
        authenticate."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if given.strip() and scheme.lower() == "bearer":
            with self.read_engine.connect() as connection:
                key_id = credentials.key_id(connection, given.strip())
            return None if key_id is None else hashlib.sha256(f"key:{key_id}".encode()).hexdigest()
        address = request.client.host if request.client else "unknown"
        return hashlib.sha256(f"address:{address}".encode()).hexdigest()

    def _claim(self, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Records the key as running; returns the earlier record instead if the key was seen (within
        KEPT_FOR: an older record is dropped and the key starts afresh)."""
        for _attempt in range(2):
            try:
                with self.sessions.begin() as session:
                    session.add(IdempotencyRecord(scope=scope, key=key, request_hash=fingerprint))
                return None
            except IntegrityError:
                with self.sessions.begin() as session:
                    previous = session.get(IdempotencyRecord, (scope, key))
                    if previous is None or utcnow() - previous.created_at < KEPT_FOR:
                        return previous
                    session.delete(previous)
        return None

    def _finish(self, scope: str, key: str, status: int, content: bytes) -> None:
        with self.sessions.begin() as session:
            record = session.get(IdempotencyRecord, (scope, key))
            if record is None:
                return
            if status >= 500:
                session.delete(record)
            else:
                record.status_code, record.response_body = status, blank_secrets(content)


def _media(status: int) -> str:
    return "application/json" if status < 400 else MEDIA_TYPE
