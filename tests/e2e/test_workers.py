"""Two workers against one database at once: each instalment is claimed by one of them, the platform's
signer never uses a nonce twice, and every instalment is paid exactly once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from daifa.bootstrap import Platform, build
from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa


@pytest.mark.chains("anvil")
@pytest.mark.databases("sqlite", "postgresql")
def test_two_workers_release_every_instalment_exactly_once(daifa: Daifa) -> None:
    _payer, payee, _plan = daifa.recorded_plan(instalments=6, amount=50 * USD)
    before = daifa.balance(payee)
    daifa.chain.advance(250 * DAY)
    workers = [daifa.platform, build(daifa.settings, daifa.chain.w3, daifa.operator_wallet)]
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def work(worker: Platform) -> None:
        try:
            start.wait()
            for _ in range(4):
                worker.indexer.run_once()
                worker.scheduler.run_once()
                worker.relayer.run_once()
        except BaseException as error:  # surfaced by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    daifa.settle()
    workers[1].close()

    assert daifa.balance(payee) == before + 300 * USD
    assert daifa.count(m.ChainLog, m.ChainLog.name == "Released") == 6
    assert daifa.count(m.ChainLog, m.ChainLog.name == "ReleaseSkipped") == 0  # no instalment was tried twice
    with daifa.platform.sessions() as session:
        entries = list(session.scalars(select(m.OutboxEntry)))
        claims = list(session.scalars(select(m.Instalment.claimed_by)))
    nonces = [e.nonce for e in entries]
    assert len(nonces) == len(set(nonces)) and {e.status for e in entries} == {"mined"}
    assert None not in claims
    daifa.reconcile()
