"""What every endpoint needs: the platform, a transaction, the caller, list pagination, uploaded files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, UploadFile
from sqlalchemy import ColumnElement, Connection, Engine, Select, select
from sqlalchemy.orm import Session

from daifa import wire
from daifa.api import guards
from daifa.api.idempotency import claim_of
from daifa.bootstrap import Platform
from daifa.domain.limits import MAX_ID
from daifa.errors import Forbidden, InvalidInput, NotFound, Problem, Unauthenticated
from daifa.services import credentials, records
from daifa.services.context import Actor, Ports
from daifa.services.documents import MAX_FILES_PER_REQUEST, Upload
from daifa.store import models as m

T = TypeVar("T", bound=m.Base)
V = TypeVar("V")


def platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def ports(request: Request) -> Ports:
    return platform(request).ports


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """One database transaction: committed when the block ends normally, rolled back on any error, so a
    refused request changes nothing. A GET reads without taking SQLite's write lock. A POST's first
    write transaction also claims its Idempotency-Key, so the claim commits with the request's changes."""
    if request.method == "GET":
        with platform(request).readers.begin() as session:
            yield session
        return
    claim = claim_of(request.scope)
    try:
        with platform(request).sessions.begin() as session:
            if claim is not None:
                claim.take(session)
            yield session
    except BaseException:
        if claim is not None:
            claim.transaction_ended(committed=False)
        raise
    if claim is not None:
        claim.transaction_ended(committed=True)


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """One read-only transaction whatever the method: a check that writes nothing (a payroll file's
    thousands of rows) then holds no write lock while it runs."""
    with platform(request).readers.begin() as session:
        yield session


async def read_connection(request: Request) -> AsyncIterator[Connection]:
    """One read-only database connection per request, shared by authentication and the read it serves
    (on SQLite it never waits for the writer's lock)."""
    engine: Engine = request.app.state.read_engine
    with engine.connect() as connection, connection.begin():
        yield connection


ReadConnection = Annotated[Connection, Depends(read_connection)]


# What a party whose application is under review may do: read its application, add documents to it,
# read its events and documents, and manage the key it uses.
APPLICANT_ROUTES = frozenset(
    {
        ("GET", "/v1/parties"),
        ("GET", "/v1/parties/{party_id}"),
        ("POST", "/v1/parties/{party_id}/documents"),
        ("GET", "/v1/documents/{document_id}"),
        ("GET", "/v1/documents/{document_id}/content"),
        ("GET", "/v1/events"),
        ("GET", "/v1/events/{event_id}"),
        ("GET", "/v1/api_keys"),
        ("POST", "/v1/api_keys/{key_id}/roll"),
        ("POST", "/v1/api_keys/{key_id}/revoke"),
    }
)


def client_address(request: Request) -> str:
    return guards.client_address(request.scope)


async def current_actor(request: Request, connection: ReadConnection) -> Actor:
    """The caller, from its API key. It runs on the event loop, not in a worker thread: one indexed
    lookup costs less than the hand-off to a thread and back, which every request would pay. An address
    that keeps sending wrong keys is refused for a while (429) before any lookup."""
    failures = request.app.state.failed_authentication
    address = client_address(request)
    failures.check(address)
    try:
        actor = credentials.authenticate(connection, credentials.bearer_key(request.headers.get("authorization", "")))
    except Unauthenticated:
        failures.take(address)
        raise
    if actor.applicant:
        route = request.scope.get("route")
        if (request.method, getattr(route, "path", "")) not in APPLICANT_ROUTES:
            raise Forbidden(
                "your application is under review: until your account opens you may read it, add documents "
                "to it and read its events"
            )
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


class Pagination:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=100, description="how many to return, newest first")] = 20,
        starting_after: Annotated[
            str | None, Query(max_length=MAX_ID, description="the last id of the page before")
        ] = None,
    ) -> None:
        self.limit = limit
        self.starting_after = starting_after

    def page(self, session: Session, model: type[T], query: Select[tuple[T]]) -> tuple[list[T], bool]:
        key_column: Any = model.id  # type: ignore[attr-defined]
        if self.starting_after is not None:
            try:
                after = records.parse_id(model, self.starting_after)
            except NotFound as error:
                raise InvalidInput([Problem("starting_after", error.message)]) from None
            query = query.where(key_column < after)
        rows = list(session.scalars(query.order_by(key_column.desc()).limit(self.limit + 1)))
        return rows[: self.limit], len(rows) > self.limit

    def visible(
        self,
        session: Session,
        actor: Actor,
        model: type[T],
        show: Callable[[T], V],
        *narrowed: ColumnElement[bool] | None,
    ) -> wire.Page[V]:
        """One page of the rows of `model` the actor may see, narrowed by the conditions given (a None one
        is a filter the caller left out), each shown by `show`: every list endpoint but the operator's."""
        rows, more = self.visible_rows(session, actor, model, *narrowed)
        return wire.Page(data=[show(r) for r in rows], has_more=more)

    def visible_rows(
        self, session: Session, actor: Actor, model: type[T], *narrowed: ColumnElement[bool] | None
    ) -> tuple[list[T], bool]:
        """`visible`'s rows and whether more follow, for a list that shows them itself."""
        conditions = [records.visible(actor, model), *(c for c in narrowed if c is not None)]
        return self.page(session, model, select(model).where(*conditions))


Paginated = Annotated[Pagination, Depends()]


async def read_uploads(files: Sequence[UploadFile] | None, max_bytes: int) -> list[Upload]:
    """The uploaded files, each read up to one byte past the limit so an oversized file is refused
    without holding all of it."""
    files = files or []
    if len(files) > MAX_FILES_PER_REQUEST:
        raise InvalidInput([Problem("files", f"at most {MAX_FILES_PER_REQUEST} files per request")])
    uploads = []
    for file in files:
        data = await file.read(max_bytes + 1)
        uploads.append(Upload(file.filename or "unnamed", file.content_type or "", data))
    return uploads
