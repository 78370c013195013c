"""brownie-style fixtures: run with `scripts/brownie.sh test` (brownie's own pytest plugin), never by the
platform's pytest, which ignores this folder."""

import pytest


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the same chain: brownie snapshots and reverts around it."""


@pytest.fixture
def operator(accounts):
    return accounts[0]


@pytest.fixture
def escrow(DaifaEscrow, operator):
    return DaifaEscrow.deploy(operator, {"from": operator})


@pytest.fixture
def dollar(DaifaTestDollar, operator):
    return DaifaTestDollar.deploy({"from": operator})
