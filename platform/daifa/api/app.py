"""The FastAPI application over a built Platform."""

from __future__ import annotations

from fastapi import FastAPI

from daifa import __version__
from daifa.api import openapi, problems
from daifa.api.idempotency import IdempotencyMiddleware
from daifa.api.representations import RepresentationCache
from daifa.api.routers import actions, documents, events, operations, parties, plans, products, signatures
from daifa.bootstrap import Platform
from daifa.store.db import bookkeeping_session_factory

DESCRIPTION = """Escrowed pay-on-behalf disbursement. Authenticate with `Authorization: Bearer <API key>`;
send an `Idempotency-Key` with every POST; errors are RFC 9457 problem details; token amounts are
decimal strings in the token's smallest unit; times are unix seconds (UTC)."""


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="Daifa", version=__version__, description=DESCRIPTION)
    app.state.platform = platform
    app.state.plans = RepresentationCache()
    app.state.read_engine = platform.engine.execution_options(readonly=True)
    problems.install(app)
    openapi.install(app)
    app.add_middleware(IdempotencyMiddleware, sessions=bookkeeping_session_factory(platform.engine))
    for module in (parties, products, plans, actions, signatures, documents, events, operations):
        app.include_router(module.router)
    return app
