"""What the operator watches: `/metrics` for Prometheus (operator only), JSON log lines that carry the
request id the caller saw, and health figures in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from daifa.logs import JsonFormatter
from tests.e2e.harness import Daifa

pytestmark = pytest.mark.chains("eth-tester")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("daifa")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_metrics_are_for_the_operator_and_tell_the_health_figures(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    assert daifa.api.get("/metrics").status_code == 401
    assert daifa.api.get("/metrics", headers={"Authorization": f"Bearer {payer.key}"}).status_code == 403
    response = daifa.api.get("/metrics", headers={"Authorization": f"Bearer {daifa.operator_key}"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert 'daifa_http_requests_total{method="GET",route="/v1/parties/{party_id}",status="200"}' in text
    assert "daifa_http_request_duration_seconds_bucket" in text
    for figure in ("daifa_healthy 1.0", "daifa_node_up 1.0", "daifa_outbox_waiting 0.0", "daifa_webhook_backlog 0.0"):
        assert figure in text, figure


def test_log_lines_are_json_and_carry_the_request_id(daifa: Daifa, json_log: io.StringIO) -> None:
    response = daifa.api.get("/v1/health", headers={"Request-Id": "trace-7"})
    assert response.headers["Request-Id"] == "trace-7"
    refused = daifa.api.get("/v1/plans", headers={"Authorization": "Bearer dk_wrong"})
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [health] = [line for line in lines if line.get("route") == "/v1/health"]
    assert health["request_id"] == "trace-7" and health["status"] == response.status_code and health["level"] == "info"
    [plans] = [line for line in lines if line.get("route") == "/v1/plans"]
    assert plans["request_id"] == refused.headers["Request-Id"] and plans["status"] == 401
    assert "dk_wrong" not in json_log.getvalue()  # keys are never logged
