"""Fixtures for the platform's tests: a fresh chain per test (eth-tester in process, or anvil), and a
fresh database per test (a SQLite file, or a new database on the PostgreSQL server CI starts)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chain_harness import Chain, anvil_chain, in_process_chain
from tests.e2e.harness import Daifa
from tests.e2e.payroll_world import Worker
from tests.needs import missing
from tests.postgres import URL_ENV as POSTGRES_ENV
from tests.postgres import fresh_database


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("databases")
        kinds = marker.args if marker else ("sqlite",)
        metafunc.parametrize("db_kind", kinds)


@pytest.fixture
def fresh_chain(chain_kind: str, request: pytest.FixtureRequest) -> Iterator[Chain]:
    if chain_kind == "anvil":
        full_history = request.node.get_closest_marker("full_history") is not None
        with anvil_chain(prune_history=not full_history) as chain:
            yield chain
    else:
        yield in_process_chain()


@pytest.fixture
def database_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'daifa.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        missing("PostgreSQL", f"set {POSTGRES_ENV} (make test does, through scripts/postgres.sh)")
    with fresh_database(server) as url:
        yield url


@pytest.fixture
def daifa(fresh_chain: Chain, database_url: str, tmp_path: Path) -> Iterator[Daifa]:
    platform = Daifa(fresh_chain, database_url, tmp_path)
    yield platform
    platform.close()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Callable[[Daifa, str], Worker]]:
    """`daifa worker` processes on a test's platform, stopped when the test ends."""
    made: list[Worker] = []

    def make(daifa: Daifa, rpc_url: str) -> Worker:
        made.append(Worker(daifa, rpc_url, tmp_path))
        return made[-1]

    yield make
    for w in made:
        w.stop()
