"""The platform's worker under real faults, as a separate process (`daifa worker`): killed with SIGKILL at
random moments while wages fall due, and the node itself stopped and restarted from its saved state.
After each restart the worker resumes; at the end every instalment is paid exactly once, nothing is lost,
and the database reconciles with the chain."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daifa.devnet import Devnet, free_port
from tests.chain_harness import Chain
from tests.e2e.harness import DAY, Daifa
from tests.e2e.payroll_world import MONTHS, WAGE, Worker, all_paid, assert_paid_exactly_once, payroll, wait_until

pytestmark = [pytest.mark.chains("anvil"), pytest.mark.databases("sqlite", "postgresql")]


def test_a_worker_killed_at_random_moments_pays_every_wage_once(
    daifa: Daifa, fresh_chain: Chain, worker: Callable[[Daifa, str], Worker]
) -> None:
    payees, _plans = payroll(daifa)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    process = worker(daifa, str(fresh_chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    for _month in range(MONTHS):
        fresh_chain.advance(30 * DAY)
        process.start()
        time.sleep(rng.uniform(0.05, 1.5))  # somewhere in reading the chain, claiming, signing, sending
        process.kill()
    process.start()
    wait_until(lambda: all_paid(daifa))
    process.stop()
    assert process.kills == MONTHS >= 5, f"seed {seed}"
    assert_paid_exactly_once(daifa, payees)


@pytest.fixture
def restartable_chain(tmp_path: Path) -> Iterator[tuple[Chain, Devnet, Path]]:
    """anvil that saves its state when stopped and loads it when started again (--state)."""
    devnet = Devnet(state_dir=tmp_path / "anvil", port=free_port())
    state = tmp_path / "anvil-state.json"
    devnet.up(extra_args=("--silent", "--state", str(state)))
    yield Chain(devnet.web3(), "anvil"), devnet, state
    devnet.down()


def test_the_node_stopped_and_restarted_mid_run(
    restartable_chain: tuple[Chain, Devnet, Path],
    database_url: str,
    tmp_path: Path,
    worker: Callable[[Daifa, str], Worker],
) -> None:
    chain, devnet, state = restartable_chain
    daifa = Daifa(chain, database_url, tmp_path)
    try:
        payees, _plans = payroll(daifa)
        process = worker(daifa, devnet.url)
        process.start()
        chain.advance(3 * 30 * DAY)
        wait_until(lambda: daifa.balance(payees[0]) >= WAGE)  # work is under way

        assert devnet.stop()  # anvil writes its state and stops; the worker meets refused connections
        time.sleep(1.0)
        devnet.up(extra_args=("--silent", "--state", str(state)))  # the same port, the saved chain
        chain.advance(3 * 30 * DAY)

        wait_until(lambda: all_paid(daifa))
        process.stop()
        assert_paid_exactly_once(daifa, payees)
    finally:
        daifa.close()
