"""Plan amendments through the API: either party proposes the instalments as they should be, both sign,
the chain takes them, and the records follow: changed, added and removed instalments, the words of each
materials list, the plan's total, a plan read kept from before, and a reorg that drops the amendment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from daifa.sdk.plans import instalment
from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa, Party


def as_sent(item: dict[str, Any]) -> dict[str, Any]:
    """An instalment of a plan read, as an amendment sends it back unchanged."""
    return instalment(
        item["deposit_by"],
        item["release_at"],
        int(item["amount"]),
        item["rule"],
        required_materials=item["required_materials"],
        verification=item["verification"],
    )


def amend(daifa: Daifa, proposer: Party, plan: dict[str, Any], instalments: list[dict[str, Any]]) -> dict[str, Any]:
    action: dict[str, Any] = daifa.post(
        f"/v1/plans/{plan['id']}/amendments", proposer.key, json={"instalments": instalments}, expect=201
    )
    return action


def read(daifa: Daifa, party: Party, plan: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = daifa.get(f"/v1/plans/{plan['id']}", party.key)
    return found


def first_one_funded(daifa: Daifa, instalments: int) -> tuple[Party, Party, dict[str, Any]]:
    """A recorded plan of `instalments` of 100 USD whose first the payer funded, as it reads now."""
    payer, payee, plan = daifa.recorded_plan(instalments=instalments, amount=100 * USD, fund=False)
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0]}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    return payer, payee, read(daifa, payer, plan)


@pytest.mark.chains("eth-tester", "anvil")
@pytest.mark.databases("sqlite", "postgresql")
def test_an_amendment_both_sign_changes_adds_and_removes_instalments(daifa: Daifa) -> None:
    payer, payee, plan = first_one_funded(daifa, 3)
    first, second = plan["instalments"][0], plan["instalments"][1]
    assert first["status"] == "funded"

    # The payee asks for more in month two, drops month three and adds a delivery against materials.
    later = second["release_at"] + 30 * DAY
    amended = [
        as_sent(first),
        instalment(second["deposit_by"], second["release_at"], 150 * USD),
        instalment(later - 10 * DAY, later, 40 * USD, "materials", required_materials=["delivery note", "POD"]),
    ]
    action = amend(daifa, payee, plan, amended)
    assert (action["kind"], action["status"]) == ("amendment", "awaiting_signatures")
    assert {r["purpose"] for r in action["signature_requests"]} == {"amendment"}
    assert read(daifa, payer, plan)["total"] == str(300 * USD)  # nothing changes until the chain says so

    daifa.sign_pending(payee)
    daifa.sign_pending(payer)
    daifa.settle()

    after = read(daifa, payer, plan)
    assert [(i["index"], i["amount"], i["rule"], i["status"]) for i in after["instalments"]] == [
        (0, str(100 * USD), "time", "funded"),
        (1, str(150 * USD), "time", "unfunded"),
        (2, str(40 * USD), "materials", "unfunded"),
    ]
    assert after["instalments"][2]["required_materials"] == ["delivery note", "POD"]
    assert after["total"] == str(290 * USD)
    assert daifa.get(f"/v1/actions/{action['id']}", payee.key)["status"] == "mined"
    for party in (payer, payee):
        events = daifa.get("/v1/events?type=plan.amended", party.key)["data"]
        assert [(e["subject"], e["data"]["instalments"]) for e in events] == [(plan["id"], 3)]

    # The amended instalments are funded and paid like any others, and the records agree with the chain.
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [1, 2]}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    before = daifa.balance(payee)
    daifa.chain.advance(second["release_at"] - daifa.chain.now() + 1)
    daifa.settle()
    assert daifa.balance(payee) == before + 250 * USD  # months one and two; the delivery waits for materials
    assert daifa.reconcile()["ok"]


@pytest.mark.databases("sqlite", "postgresql")
def test_a_shortened_plan_is_read_without_its_removed_instalments(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=3, amount=100 * USD, fund=False)
    assert len(read(daifa, payee, plan)["instalments"]) == 3  # a representation is now kept for this version

    amend(daifa, payer, plan, [as_sent(i) for i in plan["instalments"][:2]])
    daifa.sign_pending(payer)
    daifa.sign_pending(payee)
    daifa.settle()

    after = read(daifa, payee, plan)
    assert [i["index"] for i in after["instalments"]] == [0, 1]
    assert after["total"] == str(200 * USD)
    assert daifa.count(m.Instalment) == 2
    assert daifa.reconcile()["ok"]


def test_an_amendment_the_contract_would_refuse_is_refused_first_and_changes_nothing(daifa: Daifa) -> None:
    payer, payee, plan = first_one_funded(daifa, 2)
    first, second = (as_sent(i) for i in plan["instalments"])
    actions, requests = daifa.count(m.PlanAction), daifa.count(m.SignatureRequest)
    path = f"/v1/plans/{plan['id']}/amendments"

    def refused(key: str, instalments: list[dict[str, Any]], status: int) -> list[str]:
        body = daifa.post(path, key, json={"instalments": instalments}, expect=status)
        return [p["field"] for p in body.get("problems", [])] or [body["detail"]]

    funded_changed = {**first, "amount": str(99 * USD)}
    assert refused(payee.key, [funded_changed, second], 422) == ["instalments[0]"]
    assert refused(payee.key, [second], 422) == ["instalments[0]"]  # a funded instalment cannot be removed
    assert refused(payee.key, [first, second], 422) == ["instalments"]  # changes nothing
    too_much = {**second, "amount": str(10_000_000 * USD)}
    assert refused(payer.key, [first, too_much], 422) == ["instalments"]  # beyond the product's limit
    past = {**second, "deposit_by": daifa.chain.now() - DAY}
    assert refused(payer.key, [first, past], 422) == ["instalments[1].deposit_by"]
    [forbidden] = refused(daifa.operator_key, [first, {**second, "amount": str(USD)}], 403)
    assert "party" in forbidden
    assert (daifa.count(m.PlanAction), daifa.count(m.SignatureRequest)) == (actions, requests)

    # One amendment at a time: a second would be signed over instalments the first replaces.
    amend(daifa, payer, plan, [first, {**second, "amount": str(120 * USD)}])
    [message] = refused(payee.key, [first, {**second, "amount": str(130 * USD)}], 409)
    assert "wait until it is mined" in message


@pytest.mark.chains("anvil")
@pytest.mark.full_history
@pytest.mark.databases("sqlite", "postgresql")
def test_a_reorg_that_drops_an_amendment_puts_the_recorded_instalments_back_until_it_is_mined_again(
    daifa: Daifa,
) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=2, amount=100 * USD, fund=False)
    first, second = plan["instalments"]
    words = ["timesheet"]
    changed = instalment(second["deposit_by"], second["release_at"], 70 * USD, "materials", required_materials=words)
    action = amend(daifa, payee, plan, [changed])  # the first instalment becomes a materials one, the second goes
    daifa.sign_pending(payee)
    daifa.sign_pending(payer)
    daifa.settle()
    amended = [(str(70 * USD), "materials", words)]
    shown = [(i["amount"], i["rule"], i["required_materials"]) for i in read(daifa, payer, plan)["instalments"]]
    assert shown == amended

    daifa.chain.rpc("anvil_reorg", [1, []])  # the block with the amendment is replaced by an empty one
    daifa.platform.indexer.run_once()  # the indexer alone: it sees the reorg and rebuilds the records

    back = read(daifa, payer, plan)
    assert [(i["amount"], i["rule"], i["required_materials"]) for i in back["instalments"]] == [
        (first["amount"], "time", []),
        (second["amount"], "time", []),
    ]
    assert back["total"] == str(200 * USD) and back["status"] == "recorded"
    assert daifa.count(m.ChainLog, m.ChainLog.name == "PlanAmended") == 0
    assert daifa.get(f"/v1/actions/{action['id']}", payee.key)["status"] == "queued"
    with daifa.platform.sessions() as session:
        entry = session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.kind == "amend_plan")).one()
        assert (entry.status, entry.mined_block) == ("sent", None)

    # As a node returns a dropped block's transactions to its mempool, the relayer sends it again.
    daifa.settle()
    shown = [(i["amount"], i["rule"], i["required_materials"]) for i in read(daifa, payer, plan)["instalments"]]
    assert shown == amended
    assert daifa.get(f"/v1/actions/{action['id']}", payee.key)["status"] == "mined"
    assert daifa.reconcile()["ok"]
