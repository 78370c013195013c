"""The relayer under faults: a worker that dies between committing a transaction and sending it, or
between sending it and seeing its receipt, resumes after a restart and pays every instalment once; a
transaction stuck in the mempool is replaced at the same nonce, so only one version is ever mined."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from daifa.chain.relayer import enqueue
from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa


class SimulatedCrash(BaseException):
    """The worker process dying at a named point: nothing in the platform catches it."""


def crash_at(point: str):  # type: ignore[no-untyped-def]
    def hook(reached: str, entry: m.OutboxEntry) -> None:
        if reached == point and entry.kind == "release_batch":
            raise SimulatedCrash(point)

    return hook


def release_batches(daifa: Daifa) -> list[m.OutboxEntry]:
    with daifa.platform.sessions() as session:
        return list(session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.kind == "release_batch")))


@pytest.mark.databases("sqlite", "postgresql")
@pytest.mark.parametrize(("point", "left_as"), [("signed", "signed"), ("sent", "sent")])
def test_a_release_cut_off_by_a_crash_pays_each_instalment_once_after_restart(
    daifa: Daifa, point: str, left_as: str
) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=3, amount=100 * USD)
    before = daifa.balance(payee)
    daifa.chain.advance(100 * DAY)
    daifa.restart(fault=crash_at(point))

    with pytest.raises(SimulatedCrash):
        daifa.settle()
    [entry] = release_batches(daifa)
    assert entry.status == left_as and entry.nonce is not None and len(entry.tx_hashes) == 1

    daifa.restart()
    daifa.settle()
    [entry] = release_batches(daifa)
    assert entry.status == "mined" and len(entry.tx_hashes) == 1
    assert daifa.balance(payee) == before + 300 * USD
    assert daifa.count(m.ChainLog, m.ChainLog.name == "Released") == 3
    assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]] == ["closed"] * 3
    daifa.reconcile()


@pytest.mark.chains("anvil")
def test_a_stuck_transaction_is_replaced_at_its_nonce_and_mined_once(daifa: Daifa) -> None:
    _payer, payee, _plan = daifa.recorded_plan(instalments=2, amount=100 * USD)
    before = daifa.balance(payee)
    daifa.chain.advance(70 * DAY)
    rpc = daifa.chain.rpc
    rpc("evm_setAutomine", [False])
    daifa.restart(replace_after=timedelta(0))

    relayer = daifa.platform.relayer
    daifa.platform.scheduler.run_once()
    [entry] = release_batches(daifa)
    relayer.sign([entry.id])
    relayer.broadcast([entry.id])  # the node takes it but, automine off, does not mine it
    [entry] = release_batches(daifa)
    assert entry.status == "sent" and len(entry.tx_hashes) == 1
    first_fee = entry.max_fee_per_gas
    relayer.follow([entry.id])  # no receipt after `replace_after`: the same call, a higher fee, the same nonce
    [replaced] = release_batches(daifa)
    assert replaced.nonce == entry.nonce and len(replaced.tx_hashes) == 2
    assert replaced.max_fee_per_gas is not None and first_fee is not None and replaced.max_fee_per_gas > first_fee

    rpc("evm_mine", [])
    rpc("evm_setAutomine", [True])
    daifa.settle()
    [entry] = release_batches(daifa)
    assert entry.status == "mined" and entry.mined_tx_hash == entry.tx_hashes[-1]
    assert daifa.balance(payee) == before + 200 * USD
    assert daifa.count(m.ChainLog, m.ChainLog.name == "Released") == 2
    daifa.reconcile()


def test_a_call_that_would_revert_fails_with_its_reason_and_spends_no_nonce(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")  # the relayer has sent one transaction: the approval
    with daifa.platform.sessions.begin() as session:
        doomed = enqueue(
            session,
            "suspend_party",
            "test",
            daifa.escrow.address,
            daifa.platform.ports.chain.encode("suspendParty", daifa.chain.account("stranger").address),
        )
    daifa.settle()
    with daifa.platform.sessions() as session:
        entry = session.get(m.OutboxEntry, doomed.id)
        next_nonce = session.scalar(select(m.SignerNonce.next_nonce))
    assert entry is not None and entry.status == "failed" and entry.nonce is None
    assert "Registry_" in (entry.error or "")
    assert next_nonce == daifa.chain.w3.eth.get_transaction_count(daifa.operator_wallet.address)
    assert daifa.get(f"/v1/parties/{payer.id}", payer.key)["status"] == "active"
