"""What every console page shares: the templates, the signed-in party or operator, the CSRF check, and
errors shown as pages (a form's mistake says what to do; a missing session goes to the sign-in page)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine

from daifa.api.deps import platform
from daifa.console import formatting, sessions
from daifa.errors import DaifaError, Forbidden, InvalidInput
from daifa.services import records
from daifa.store.models import utcnow

HERE = Path(__file__).parent
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(),
    auto_reload=False,
    undefined=StrictUndefined,  # a name a page does not pass is an error, not an empty string
)
formatting.install(templates)
templates.filters["pid"] = lambda row: records.public_id(type(row), row.id)  # a row's public id: pln_3


class NotSignedIn(Exception):
    """No live session: pages send the browser to the sign-in page, scripts get 401."""


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    signed: sessions.Signed | None = getattr(request.state, "signed", None)
    page = templates.get_template(name).render(
        request=request, signed=signed, csrf=signed.csrf if signed else "", demo=_demo_parties(request), **context
    )
    return HTMLResponse(page, status_code=status)


def _demo_parties(request: Request) -> list[str]:
    """The addresses the development-only demo signer signs for (none outside `daifa demo --console`)."""
    return list(getattr(request.app.state, "demo_signers", {}))


def signed_in(request: Request) -> sessions.Signed:
    """The session of the browser's cookie; NotSignedIn when it has none that is live. A session seen
    more than a minute ago has its idle clock reset."""
    now = utcnow()
    engine: Engine = request.app.state.read_engine
    with engine.connect() as connection:
        signed = sessions.find(connection, request.cookies.get(sessions.COOKIE), now)
    if signed is None:
        raise NotSignedIn
    if signed.stale:
        with platform(request).sessions.begin() as session:
            sessions.touch(session, signed.id, now)
    request.state.signed = signed
    return signed


SignedIn = Annotated[sessions.Signed, Depends(signed_in)]


async def csrf_checked(request: Request, signed: SignedIn) -> sessions.Signed:
    """A state-changing request of the signed-in browser: it must come from the console's own pages (its
    Origin, when sent, is this host) and carry the session's CSRF token, in the form or in a header."""
    check_origin(request)
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = str((await request.form()).get(CSRF_FIELD, ""))
    if not given or not hmac.compare_digest(given, signed.csrf):
        raise Forbidden("this form is out of date or did not come from the console: reload the page and send it again")
    return signed


Changing = Annotated[sessions.Signed, Depends(csrf_checked)]


def check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("this request came from another site's page: the console takes its own forms only")


def back_to(path: str) -> RedirectResponse:
    """After a form that changed something: the page to show next (303, so a reload does not resend)."""
    return RedirectResponse(path, status_code=303)


class ConsoleRoute(APIRoute):
    """A console route: a missing session sends a page to the sign-in page (a form's post gets 401), and the
    platform's errors are shown as a page that says what to do, with their HTTP status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except NotSignedIn:
                if request.method == "GET":
                    return RedirectResponse("/console/sign-in", status_code=303)
                return _error(request, 401, "Signed out", "your session ended: sign in again")
            except InvalidInput as error:
                details = [f"{p.where()}: {p.message}" for p in error.problems]
                return _error(request, error.http_status, "Please check the form", error.message, details)
            except RequestValidationError as error:  # a form field missing or malformed, a path that is not one
                details = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors()]
                return _error(request, 422, "Please check the form", "fix these and send it again", details)
            except DaifaError as error:
                return _error(request, error.http_status, error.code.replace("_", " ").capitalize(), error.message)

        return handle


def _error(request: Request, status: int, title: str, message: str, details: list[str] | None = None) -> Response:
    return render(request, "error.html", status=status, title=title, message=message, details=details or [])
