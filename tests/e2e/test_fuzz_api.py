"""schemathesis against the published OpenAPI: every operation, with each role's credentials, over
generated requests. No answer may be a 5xx, and every answer must match the schema (status, content type,
body). The requests are counted, so the run cannot shrink unnoticed. (schemathesis's pytest plugin does not
load under pytest 9, so its strategies are driven with hypothesis directly.)"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from daifa.api.app import create_app
from tests.chain_harness import in_process_chain
from tests.e2e.harness import UNLIMITED, Daifa

EXAMPLES_PER_OPERATION = 10
ROLES = ("operator", "payer", "payee")
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
SENT: Counter[str] = Counter()
MINIMUM_REQUESTS = 1_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daifa, dict[str, str]]]:
    """A platform with records to find: two parties, an open product, a funded plan; its node monitor
    reports meanwhile, as a running worker's does, so health has something to tell."""
    folder: Path = tmp_path_factory.mktemp("fuzz")
    daifa = Daifa(in_process_chain(), f"sqlite:///{folder / 'daifa.db'}", folder)
    payer, payee, _plan = daifa.recorded_plan(instalments=2)
    stop = threading.Event()
    monitor = threading.Thread(target=daifa.platform.monitor, args=(stop,), daemon=True)
    monitor.start()
    yield daifa, {"operator": daifa.operator_key, "payer": payer.key, "payee": payee.key}
    stop.set()
    monitor.join(timeout=10)


def test_no_operation_answers_5xx_or_off_its_schema(world: tuple[Daifa, dict[str, str]]) -> None:
    daifa, keys = world
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(daifa.platform, UNLIMITED))
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"an operation the fuzzer cannot read: {result.err()}")
            continue
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            for role in ROLES:
                headers = {"Authorization": f"Bearer {keys[role]}"}
                if case.method.upper() == "POST":
                    headers["Idempotency-Key"] = str(uuid.uuid4())
                case.call_and_validate(headers=headers, checks=CHECKS)
                SENT[case.operation.label] += 1

        try:
            fuzz()
        except Exception as error:  # every operation is tried; the failures are reported together
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert len(SENT) == len(list(schema.get_all_operations()))
    assert sum(SENT.values()) >= MINIMUM_REQUESTS, f"only {sum(SENT.values())} requests over {len(SENT)} operations"
