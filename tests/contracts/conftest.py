"""A fresh Daifa world for each test: deployed once per chain, then restored from a snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.chain_harness import Chain
from tests.world import World


@pytest.fixture(scope="session")
def _world_snapshot(chain: Chain) -> tuple[World, list[Any]]:
    world = World(chain)
    return world, [chain.snapshot()]


@pytest.fixture
def world(_world_snapshot: tuple[World, list[Any]], chain: Chain) -> Iterator[World]:
    world, snapshot = _world_snapshot
    world.reset_nonces()
    yield world
    chain.revert(snapshot[0])
    snapshot[0] = chain.snapshot()  # anvil consumes a snapshot when it reverts to it
