"""A reorganisation of the chain, made with anvil's reorg call: the indexer sees a block it read change,
rolls back to the newest block that still stands, rebuilds the records, and the database agrees with
the chain again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa, Party
from tests.e2e.test_full_life import _send_from_wallet


def funded_from_the_wallet(daifa: Daifa) -> tuple[Party, dict[str, Any]]:
    """A plan of two instalments whose first the payer funded from its own wallet (two blocks: the
    approval and the deposit)."""
    payer, _payee, plan = daifa.recorded_plan(instalments=2, amount=100 * USD, fund=False)
    deposit = daifa.post(
        f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0], "method": "wallet"}, expect=201
    )
    for tx in deposit["details"]["transactions"]:
        daifa.chain.w3.eth.wait_for_transaction_receipt(_send_from_wallet(daifa, payer.wallet, tx))
    daifa.settle()
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][0]["status"] == "funded"
    return payer, plan


@pytest.mark.chains("anvil")
@pytest.mark.full_history
@pytest.mark.databases("sqlite", "postgresql")
def test_a_reorg_that_drops_a_deposit_rolls_the_records_back(daifa: Daifa) -> None:
    payer, plan = funded_from_the_wallet(daifa)
    events_before = daifa.count(m.Event, m.Event.type == "instalment.funded")
    head = daifa.chain.w3.eth.block_number

    # The two blocks with the approval and the deposit are replaced by empty ones: the deposit never happened.
    daifa.chain.rpc("anvil_reorg", [2, []])
    assert daifa.chain.w3.eth.block_number == head
    assert daifa.balance(daifa.escrow.address) == 0

    daifa.settle()
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][0]["status"] == "unfunded"
    assert daifa.count(m.ChainLog, m.ChainLog.name == "Deposited") == 0
    with daifa.platform.sessions() as session:
        assert session.scalar(select(m.IndexerCursor.next_block)) == head + 1
    assert daifa.count(m.Event, m.Event.type == "instalment.funded") == events_before  # nothing invented
    daifa.reconcile()

    # Life goes on: the payer deposits again (by permit this time) and the records follow.
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0, 1]}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    daifa.chain.advance(40 * DAY)
    daifa.settle()
    assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]] == ["closed", "funded"]
    daifa.reconcile()


@pytest.mark.chains("anvil")
@pytest.mark.full_history
def test_a_node_behind_the_indexer_is_waited_for_and_only_a_changed_block_rolls_back(daifa: Daifa) -> None:
    payer, plan = funded_from_the_wallet(daifa)
    events = daifa.count(m.Event)
    rpc = daifa.chain.rpc

    # The node goes back two blocks (as one restored from an older snapshot would): the records stay.
    rpc("anvil_rollback", [2])
    daifa.settle()
    assert daifa.platform.indexer.waiting and "below block" in daifa.platform.indexer.waiting
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][0]["status"] == "funded"
    assert any("indexer is waiting" in r for r in daifa.get("/v1/health", None, expect=503)["reasons"])

    # It then builds other blocks in their place: now the chain did change, and the records follow it.
    rpc("anvil_mine", ["0x3"])
    daifa.settle()
    assert daifa.platform.indexer.waiting is None
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][0]["status"] == "unfunded"
    assert daifa.count(m.Event) == events  # nothing invented, nothing repeated
    daifa.reconcile()
