"""The plan read's short path: `GET /v1/plans/{plan_id}` answered from a kept representation in one
database statement, before the framework's routing, dependency injection and middleware run.

A plan is what payers, payees and their systems poll (is the wage funded, released?), so it is the
request the API answers most. Through FastAPI a read costs about ten times a bare ASGI answer, and the
framework's share is most of that: routing, dependency solving, five middleware layers each wrapping
`send`. This path does what those layers do for this one request, and nothing else:

- the caller's key and the plan's access check in one indexed statement (`_READ`, built once), on a
  connection the process keeps for it, outside any transaction (each statement reads the last commit):
  one round trip to PostgreSQL, where a pooled connection in a transaction costs four (the pool's
  liveness ping, BEGIN, the statement, ROLLBACK);
- the kept JSON when the plan's version still matches (daifa.api.representations); built, in a read
  transaction after the version was read, when it does not;
- the response headers every API answer carries (daifa.api.guards.response_headers), and the request's
  metrics and access log line (daifa.api.metrics.record).

It answers only a read it can serve with 200. Anything else (no or a bad key, an address refused for
wrong keys, an applicant, a plan that is not there or not the caller's, a query string, a body, an
error such as a database that does not answer) goes on to the application, which answers it as it
answers every request; so the problems, rate limits and status codes are the application's own, and
this path cannot drift from them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam
from sqlalchemy.orm import Session
from starlette.types import Scope, Send

from daifa.api import metrics, views
from daifa.api.guards import client_address, request_id_for, response_headers
from daifa.api.ratelimit import Buckets
from daifa.api.representations import RepresentationCache
from daifa.errors import RateLimited, Unauthenticated
from daifa.services import credentials, records
from daifa.services.context import Actor
from daifa.store import models as m

log = logging.getLogger(__name__)
ROUTE = "/v1/plans/{plan_id}"
_PATH = re.compile(rf"/v1/plans/{records.PREFIXES[m.Plan]}_([0-9]{{1,18}})")  # as records.parse_id takes it

# The key (as daifa.services.credentials.authenticate reads it) and the plan (as records.plan_version
# does), in one round trip: this path's whole database work on a kept representation.
_READ = credentials.KEY.add_columns(m.Plan.payer_id, m.Plan.payee_id, m.Plan.version).outerjoin(
    m.Plan, m.Plan.id == bindparam("plan_id")
)


class PlanReads:
    """The short path above; daifa.api.app.DaifaAPI asks it first."""

    def __init__(self, read_engine: Engine, cache: RepresentationCache, failed_authentication: Buckets) -> None:
        self.engine = read_engine
        self.cache = cache
        self.failures = failed_authentication
        self._connection: Connection | None = None  # see _key_and_plan
        self._connection_lock = threading.Lock()

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Answers the request and says True, or says False having sent nothing."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return False
        matched = _PATH.fullmatch(scope["path"])
        if matched is None:
            return False
        started = time.perf_counter()
        key = request_id = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                key = value
            elif name == b"request-id":
                request_id = value
            elif name in (b"content-length", b"transfer-encoding"):
                return False  # a GET with a body: the application's guard decides
        bearer = credentials.bearer_key(key.decode("latin-1")) if key is not None else None
        if bearer is None or not self._address_allowed(scope):
            return False
        try:
            body = self._body(credentials.hash_key(bearer), int(matched[1]))
        except Exception:  # the application meets the same error and answers its problem
            log.warning("the plan read's short path failed; the application answers", exc_info=True)
            return False
        if body is None:
            return False
        answer_id = request_id_for(request_id.decode("latin-1") if request_id is not None else "")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in response_headers(scope["path"], answer_id).items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        metrics.record("GET", ROUTE, 200, scope["path"], time.perf_counter() - started, answer_id)
        return True

    def _address_allowed(self, scope: Scope) -> bool:
        try:
            self.failures.check(client_address(scope))
        except RateLimited:
            return False
        return True

    def _body(self, key_hash: str, plan_id: int) -> bytes | None:
        row = self._key_and_plan({"key_hash": key_hash, "plan_id": plan_id})
        if row is None:
            return None
        try:
            actor = credentials.actor_from(row)
        except Unauthenticated:
            return None
        if actor.applicant or row.version is None or not records.visible_to(actor, row.payer_id, row.payee_id):
            return None
        # Built, when not kept, after the version was read: as new as that version or newer.
        return self.cache.get_or_put(plan_id, row.version, lambda: self._built(actor, plan_id))

    def _built(self, actor: Actor, plan_id: int) -> bytes:
        with self.engine.connect() as connection, Session(bind=connection) as session:
            return views.plan_json(session, records.get_plan(session, actor, plan_id))

    def _key_and_plan(self, parameters: dict[str, Any]) -> Row[Any] | None:
        """`_READ` on the kept connection. Served on the event loop, the path is used by one thread at a
        time; should another come meanwhile (a test's client on its own thread), it takes a pooled one."""
        if not self._connection_lock.acquire(blocking=False):
            with self.engine.connect() as connection:
                return connection.execute(_READ, parameters).first()
        try:
            if self._connection is None:
                self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                return self._connection.execute(_READ, parameters).first()
            except Exception:
                self._connection.invalidate()  # a broken connection is not kept: the next read opens another
                self._connection.close()
                self._connection = None
                raise
        finally:
            self._connection_lock.release()
