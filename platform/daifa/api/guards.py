"""The API's outer layer: what every request passes through before any work, and every response on its
way out.

- A `Request-Id` on every response: the caller's, when it sent a sane one, else a new one. Log lines
  written while the request runs carry it (daifa.logs).
- Security headers on every response: `X-Content-Type-Options: nosniff`, a Content-Security-Policy
  that lets a browser run and load nothing (the API serves data, not pages; the interactive docs get
  the little they need; the web console its own scripts, styles and frames), `Referrer-Policy:
  no-referrer` (the console: same-origin) and `Cache-Control: no-store` (some answers carry a secret
  shown once).
- Request bodies bounded before they are read: a Content-Length over the route's limit is refused at
  once; a body that grows past it while it streams in is cut off. Both get 413.
- Bodies a JSON parser may see are read whole (they are small) and refused when nested deeper than
  MAX_JSON_DEPTH, checked without recursion before any parser runs: Python's JSON parser recurses once
  per level, and a body nested 100,000 deep would otherwise overflow the C stack and kill the process.
- Uploads (multipart) are bounded in number at once per process: each may hold up to UPLOAD_BODY
  bytes, so that is what bounds their memory.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from itertools import accumulate

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daifa.api.problems import problem
from daifa.logs import REQUEST_ID

REQUEST_ID_HEADER = "Request-Id"
MAX_JSON_DEPTH = 32  # the deepest body the API takes is a plan: object > list > object > list
JSON_BODY = 256 * 1024  # bytes: every JSON request but a plan's
PLAN_BODY = 4 * 1024 * 1024  # a plan of 252 instalments, each with its verification text and materials
SIGNATURES_BODY = 1024 * 1024  # 100 signatures of contract wallets, each up to 4,096 bytes in hex
UPLOAD_BODY = 64 * 1024 * 1024  # a multipart request: several documents of up to 20 MiB each
UPLOADS_AT_ONCE = 4  # multipart requests read at once per process
UPLOAD_WAIT = 10.0  # seconds an upload waits for its turn before it is told to retry

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's interactive docs: Swagger UI's script and style from its CDN, and the inline script that
# starts it. They show the published OpenAPI document and no record.
DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The web console (daifa.console): its own scripts, styles and pictures, nothing from another host, no
# inline script; forms post to itself only; framed by no one but itself (a document in its review page).
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)
CONSOLE_PREFIX = "/console"
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON parser reading `body` would nest deeper than `limit` arrays and objects. Strings are
    dropped first, so brackets inside them do not count; then each pass removes the innermost pairs,
    which takes at most one level off, at C speed. Text that stops shrinking is unbalanced (a parser
    refuses it, after nesting as deep as its open brackets reach): its depth is counted the slow way."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for peeled in range(limit + 1):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            return peeled + max(accumulate(1 if b in b"[{" else -1 for b in brackets)) > limit
        brackets = shorter
    return True


@dataclass(frozen=True)
class BodyLimits:
    """How many bytes a request body may have: uploads, the plan request, and every other JSON body."""

    json: int = JSON_BODY
    upload: int = UPLOAD_BODY
    by_route: dict[tuple[str, str], int] = field(
        default_factory=lambda: {
            ("POST", "/v1/plans"): PLAN_BODY,
            ("POST", "/v1/signature_requests/signatures"): SIGNATURES_BODY,
        }
    )

    def of(self, method: str, path: str, content_type: str) -> int:
        if content_type.startswith("multipart/form-data"):
            return self.upload
        return self.by_route.get((method, path.rstrip("/")), self.json)


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    """The outermost middleware of the app (see the module's docstring)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits | None = None, uploads_at_once: int = UPLOADS_AT_ONCE) -> None:
        self.app = app
        self.limits = limits or BodyLimits()
        self.uploads = asyncio.Semaphore(uploads_at_once)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = request_id_for(headers.get("request-id", ""))
        token = REQUEST_ID.set(request_id)
        try:
            await self._guarded(scope, receive, _with_headers(send, scope["path"], request_id), headers)
        finally:
            REQUEST_ID.reset(token)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        path = scope["path"]
        content_type = headers.get("content-type", "").lower()
        limit = self.limits.of(scope["method"], path, content_type)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or len(length) > 18):
            await _refuse(scope, receive, send, 400, "invalid_content_length", "Content-Length must be a number")
            return
        if length is not None and int(length) > limit:
            await _refuse(scope, receive, send, 413, "body_too_large", _too_large(limit))
            return
        if content_type.startswith("multipart/form-data"):
            await self._upload(scope, receive, send, limit)
            return
        if content_type.startswith("application/x-www-form-urlencoded"):
            await self._streamed(scope, receive, send, limit)
            return
        # Anything else may reach a JSON parser: read it whole (it is small) and check its depth first.
        try:
            body = await _read_body(receive, limit)
        except BodyTooLarge:
            await _refuse(scope, receive, send, 413, "body_too_large", _too_large(limit))
            return
        if body and too_deep(body):
            detail = f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels: send the documented shape"
            await _refuse(scope, receive, send, 400, "json_too_deep", detail)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        try:
            await asyncio.wait_for(self.uploads.acquire(), UPLOAD_WAIT)
        except TimeoutError:
            detail = "the platform is taking as many uploads as it can: send this one again in a few seconds"
            await _refuse(scope, receive, send, 503, "uploads_busy", detail, retry_after=5)
            return
        try:
            await self._streamed(scope, receive, send, limit)
        finally:
            self.uploads.release()

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Passes the body through as it arrives, counting; past `limit` the app is told the client left,
        whatever it answers is dropped, and the client gets 413."""
        received = 0
        cut_off = False
        started = False

        async def counting() -> Message:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def unless_cut_off(message: Message) -> None:
            nonlocal started
            if cut_off:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, unless_cut_off)
        except Exception:
            if not cut_off or started:
                raise
        if cut_off and not started:
            await _refuse(scope, receive, send, 413, "body_too_large", _too_large(limit))


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the connection says next (a disconnect, when it comes)."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying


def client_address(scope: Scope) -> str:
    """The address a request came from, as the per-address limits and idempotency scopes key it."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def request_id_for(given: str) -> str:
    """The caller's request id when it is sane, else a new one."""
    return given if _SANE_REQUEST_ID.fullmatch(given) else "req_" + secrets.token_hex(12)


def response_headers(path: str, request_id: str) -> dict[str, str]:
    """What every answer carries (see the module's docstring); a route may set its own Cache-Control."""
    return {
        REQUEST_ID_HEADER: request_id,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _policy(path),
        # The console's forms: with no-referrer a browser sends `Origin: null`, and the console's
        # check that a form came from its own pages (daifa.console.web.check_origin) needs the origin.
        "Referrer-Policy": "same-origin" if _console(path) else "no-referrer",
        "Cache-Control": "no-store",
    }


def _policy(path: str) -> str:
    if path in DOCS_PATHS:
        return DOCS_CSP
    return CONSOLE_CSP if _console(path) else API_CSP


def _console(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _with_headers(send: Send, path: str, request_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in response_headers(path, request_id).items():
                if name in ("Cache-Control", "Content-Security-Policy"):
                    headers.setdefault(name, value)
                else:
                    headers[name] = value
        await send(message)

    return sending


def _too_large(limit: int) -> str:
    return f"the request body is over {limit:,} bytes, the most this request takes: send less (documents one by one)"


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str, retry_after: int | None = None
) -> None:
    response = problem(status, code, detail, scope["path"])
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if status == 413:
        response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)
