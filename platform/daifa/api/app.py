"""The FastAPI application over a built Platform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from daifa import __version__, console
from daifa.api import openapi, problems
from daifa.api.guards import BodyLimits, RequestGuard
from daifa.api.idempotency import IdempotencyMiddleware
from daifa.api.metrics import RequestMetrics
from daifa.api.plan_reads import PlanReads
from daifa.api.ratelimit import Buckets, RateLimits
from daifa.api.representations import RepresentationCache
from daifa.api.routers import (
    actions,
    documents,
    events,
    keys,
    operations,
    parties,
    payroll_runs,
    plans,
    products,
    signatures,
)
from daifa.bootstrap import Platform
from daifa.services.health import HealthLimits
from daifa.store.db import bookkeeping_session_factory
from daifa.wallet import Wallet

DESCRIPTION = """Escrowed pay-on-behalf disbursement. Authenticate with `Authorization: Bearer <API key>`;
send an `Idempotency-Key` with every POST; errors are RFC 9457 problem details; token amounts are
decimal strings in the token's smallest unit; times are unix seconds (UTC)."""


@dataclass(frozen=True)
class ApiSettings:
    """What the API allows a request: body sizes, rates from one address, and when health says degraded."""

    bodies: BodyLimits = field(default_factory=BodyLimits)
    rates: RateLimits = field(default_factory=RateLimits)
    health: HealthLimits = field(default_factory=HealthLimits)
    # Development only (`daifa demo --console`): the demo parties' wallets, which the console signs with.
    demo_signers: Mapping[str, Wallet] = field(default_factory=dict)


class DaifaAPI(FastAPI):
    """FastAPI with the plan read's short path in front of it (daifa.api.plan_reads)."""

    plan_reads: PlanReads | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.plan_reads is not None and await self.plan_reads.answer(scope, send):
            return
        await super().__call__(scope, receive, send)


def create_app(platform: Platform, settings: ApiSettings | None = None) -> FastAPI:
    """The ASGI application serving `platform` (see daifa.api.server for the server around it).

    Args:
        platform: what `daifa.bootstrap.build` made; the app reads and writes through its sessions and
            ports, and never signs (the worker does).
        settings: rate limits and other API-only settings; the defaults otherwise.

    Raises nothing itself; the requests it serves answer RFC 9457 problems (daifa.api.problems).
    """
    settings = settings or ApiSettings()
    app = DaifaAPI(title="Daifa", version=__version__, description=DESCRIPTION)
    app.state.platform = platform
    app.state.settings = settings
    app.state.plans = RepresentationCache()
    app.state.read_engine = platform.engine.execution_options(readonly=True)
    app.state.failed_authentication = Buckets(settings.rates.failed_authentication, "requests with a wrong API key")
    app.state.applications = Buckets(settings.rates.applications, "applications")
    problems.install(app)
    openapi.install(app)
    app.add_middleware(
        IdempotencyMiddleware, sessions=bookkeeping_session_factory(platform.engine), read_engine=app.state.read_engine
    )
    app.add_middleware(RequestGuard, limits=settings.bodies)  # limits before any work
    app.add_middleware(RequestMetrics)  # the outermost: refused requests are counted too
    app.plan_reads = PlanReads(app.state.read_engine, app.state.plans, app.state.failed_authentication)
    for module in (parties, products, plans, payroll_runs, actions, signatures, documents, events, keys, operations):
        app.include_router(module.router)
    app.include_router(operations.metrics_router)
    console.install(app, settings.demo_signers)
    return app
