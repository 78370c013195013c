"""Request telemetry: an access log line per request (with its request id, in JSON where logs are JSON),
and `/metrics` in the Prometheus text format (prometheus-client): request counts and latencies by route,
and the platform's health figures, read from the workers' reports when scraped (no request to the
node). Operator key required (Prometheus sends it with `authorization: {credentials: ...}`).

With several API processes (`daifa serve --workers N`) the request metrics are aggregated across them
through prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by `daifa serve`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access = logging.getLogger("daifa.api.access")  # a line per request, with its request id
REQUESTS = Counter("daifa_http_requests", "API requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "daifa_http_request_duration_seconds",
    "Time to answer an API request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FIGURES = {  # health figure -> (metric name, help)
    "workers": ("daifa_workers_reporting", "Workers whose report is fresh"),
    "node_reachable": ("daifa_node_up", "1 when the chain's node answered the worker's last probe"),
    "head_block": ("daifa_chain_head_block", "The chain's head block, as the worker last saw it"),
    "head_age_seconds": ("daifa_chain_head_age_seconds", "Seconds since the head block last changed"),
    "indexer_lag_blocks": ("daifa_indexer_lag_blocks", "Blocks between the head and the indexer"),
    "outbox_waiting": ("daifa_outbox_waiting", "Transactions not yet mined or failed"),
    "outbox_oldest_age_seconds": ("daifa_outbox_oldest_age_seconds", "Age of the oldest waiting transaction"),
    "nonce_gap": ("daifa_nonce_gap", "The node's pending nonce less the platform's next (above 0: foreign use)"),
    "webhook_backlog": ("daifa_webhook_backlog", "Webhook deliveries waiting"),
}


class HealthCollector(Collector):
    def __init__(self, figures: Any) -> None:
        self.figures = figures  # () -> (ok, figures)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ok, figures = self.figures()
        yield GaugeMetricFamily("daifa_healthy", "1 when /v1/health says ok", value=1 if ok else 0)
        for key, (name, text) in FIGURES.items():
            value = figures.get(key)
            if value is not None:
                yield GaugeMetricFamily(name, text, value=float(value))


def exposition(figures: Any) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Process())
    registry.register(HealthCollector(figures))
    return generate_latest(registry)


class _Process(Collector):
    """This process's request metrics."""

    def collect(self) -> Iterator[Any]:
        yield from REQUESTS.collect()
        yield from LATENCY.collect()


class RequestMetrics:
    """ASGI middleware timing each request under its route's template (`/v1/plans/{plan_id}`), never its
    raw path, so ids do not make a metric per record."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = ""

        async def sending(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                request_id = dict(message.get("headers", [])).get(b"request-id", b"").decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            # the guard inside set the request id on the response
            record(scope["method"], route, status, scope["path"], time.perf_counter() - started, request_id)


def record(method: str, route: str, status: int, path: str, took: float, request_id: str) -> None:
    """A request's metrics and access log line (also for daifa.api.plan_reads, which answers outside this
    middleware)."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(took)
    access.info(
        "%s %s %s %.1f ms",
        method, path, status, took * 1_000,
        extra={
            "method": method, "route": route, "status": status, "ms": round(took * 1_000, 1),
            "request_id": request_id,
        },
    )  # fmt: skip
