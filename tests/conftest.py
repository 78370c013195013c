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


# The longest files, longest first. Under `make test` (xdist, --dist loadfile) each of their tests is a unit
# of work of its own (their fixtures are per test), scheduled before every other file: the two workers
# share them out, the invariant run's two chains side by side, and the short files fill in at the end.
LONGEST_FILES = [
    "tests/contracts/test_invariants.py",
    "tests/e2e/test_chaos.py",
    "tests/e2e/test_cli.py",
    "tests/e2e/test_worker_faults.py",
    "tests/e2e/test_relayer_faults.py",
    "tests/e2e/test_payroll_runs.py",
]


def _file(nodeid: str) -> str:
    return nodeid.partition("::")[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Those tests first, in that order: with `--no-loadscope-reorder` the work queue keeps it."""
    rank = {path: position for position, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(_file(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under `--dist loadfile`: a file is one unit of work (its module fixtures deploy the contracts once),
    except in LONGEST_FILES, where each test is one. (xdist_group cannot do this: pytest 9 no longer lets
    xdist rename the tests it groups.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrTestScheduling(LoadFileScheduling):  # type: ignore[misc]  # xdist has no type information
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if _file(nodeid) in LONGEST_FILES else str(super()._split_scope(nodeid))

    return FileOrTestScheduling(config, log)


@pytest.fixture(scope="session")
def chain(chain_kind: str) -> Iterator[Chain]:
    if chain_kind == "anvil":
        with anvil_chain() as c:
            yield c
    else:
        yield in_process_chain()
