"""Idempotency-Key for every POST, as Stripe does it.

The first request with a key runs and its response (any non-5xx) is kept under the key, scoped to the
caller's credentials; a retry with the same key and the same request gets the kept response, marked
`Idempotent-Replayed: true`; the same key with another request is refused. A 5xx is not kept, so the
retry runs again (the platform's transactions roll back on a 5xx, so nothing ran twice).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from daifa.api.problems import MEDIA_TYPE, problem
from daifa.store.models import IdempotencyRecord, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=2)


class IdempotencyMiddleware:
    """Sends POSTs through the idempotency check and everything else straight to the app (a plain ASGI
    middleware: reads do not pay for BaseHTTPMiddleware's request and response wrapping)."""

    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session]) -> None:
        self.app = app
        self.posts = _IdempotentPosts(app, sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            await self.posts(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _IdempotentPosts(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session]) -> None:
        super().__init__(app)
        self.sessions = sessions

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
        body = await request.body()
        scope = hashlib.sha256(request.headers.get("authorization", "anonymous").encode()).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), str(request.url.path).encode(), request.url.query.encode(), body])
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

    def _claim(self, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Records the key as running; returns the earlier record instead if the key was seen."""
        try:
            with self.sessions.begin() as session:
                session.add(IdempotencyRecord(scope=scope, key=key, request_hash=fingerprint))
            return None
        except IntegrityError:
            with self.sessions() as session:
                return session.get(IdempotencyRecord, (scope, key))

    def _finish(self, scope: str, key: str, status: int, content: bytes) -> None:
        with self.sessions.begin() as session:
            record = session.get(IdempotencyRecord, (scope, key))
            if record is None:
                return
            if status >= 500:
                session.delete(record)
            else:
                record.status_code, record.response_body = status, content


def _media(status: int) -> str:
    return "application/json" if status < 400 else MEDIA_TYPE
