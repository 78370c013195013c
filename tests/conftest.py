"""Shared fixtures: a real chain (eth-tester in process, or anvil started by the tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chain_harness import Chain, anvil_chain, in_process_chain


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chains",
        default="eth-tester,anvil",
        help="comma-separated chains to run the contract tests on: eth-tester, anvil",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chain_kind" in metafunc.fixturenames:
        kinds = [k.strip() for k in metafunc.config.getoption("--chains").split(",") if k.strip()]
        only = metafunc.definition.get_closest_marker("chains")
        if only is not None:
            kinds = [k for k in kinds if k in only.args]
        metafunc.parametrize("chain_kind", kinds, scope="session")


@pytest.fixture(scope="session")
def chain(chain_kind: str) -> Iterator[Chain]:
    if chain_kind == "anvil":
        with anvil_chain() as c:
            yield c
    else:
        yield in_process_chain()
