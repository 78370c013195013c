"""Plans the platform records: those confirmed since the worker's last turn go to the chain together, in
one recordPlans transaction; a batch that fails is recorded one plan a transaction, so only the plan at
fault fails, and says why."""

from __future__ import annotations

import pytest

from daifa.sdk.plans import instalment, plan_request
from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa, Party


def confirmed_plans(daifa: Daifa, payees: int) -> tuple[Party, list[Party], list[dict[str, object]]]:
    """Plans of one payer with `payees` payees, signed by both sides, not yet seen by the worker."""
    payer = daifa.onboard("employer", "payer")
    others = [daifa.onboard(f"labour-firm-{n}", "payee") for n in range(payees)]
    daifa.fund(payer, 1_000_000 * USD)
    products = [daifa.open_product(payer, payee) for payee in others]
    now = daifa.chain.now()
    body = [instalment(now + 20 * DAY, now + 30 * DAY, 100 * USD), instalment(now + 50 * DAY, now + 60 * DAY, USD)]
    plans = [daifa.post("/v1/plans", payer.key, json=plan_request(p["id"], now + 90 * DAY, body)) for p in products]
    daifa.sign_pending(payer)
    for payee in others:
        daifa.sign_pending(payee)
    assert {daifa.get(f"/v1/plans/{p['id']}", payer.key)["status"] for p in plans} == {"recording"}
    return payer, others, plans


def kinds(daifa: Daifa) -> list[tuple[str, str]]:
    entries = m.OutboxEntry.kind.in_(["record_plan", "record_plans"])
    with daifa.platform.sessions() as session:
        rows = session.query(m.OutboxEntry).filter(entries).order_by(m.OutboxEntry.id).all()
        return [(row.kind, row.status) for row in rows]


@pytest.mark.chains("eth-tester", "anvil")
@pytest.mark.databases("sqlite", "postgresql")
def test_plans_confirmed_together_are_recorded_in_one_transaction(daifa: Daifa) -> None:
    payer, _payees, plans = confirmed_plans(daifa, 3)
    daifa.settle()
    assert kinds(daifa) == [("record_plans", "mined")]
    recorded = [daifa.get(f"/v1/plans/{p['id']}", payer.key) for p in plans]
    assert [p["status"] for p in recorded] == ["recorded"] * 3
    assert len({p["chain_plan_id"] for p in recorded}) == 3
    assert daifa.reconcile()["ok"]


def test_a_batch_that_fails_is_recorded_one_plan_a_transaction_and_the_plan_at_fault_says_why(
    daifa: Daifa,
) -> None:
    payer, payees, plans = confirmed_plans(daifa, 3)
    # Suspended on chain before the batch is sent: the batch cannot record, the plan with the other two can.
    daifa.post(f"/v1/parties/{payees[1].id}/suspend", daifa.operator_key)
    daifa.settle()
    assert kinds(daifa)[0] == ("record_plans", "failed")
    assert sorted(kinds(daifa)[1:]) == [("record_plan", "failed"), ("record_plan", "mined"), ("record_plan", "mined")]
    statuses = [daifa.get(f"/v1/plans/{p['id']}", payer.key)["status"] for p in plans]
    assert statuses == ["recorded", "recording", "recorded"]
    [failure] = daifa.get("/v1/events?type=plan.transaction_failed", payees[1].key)["data"]
    assert failure["subject"] == plans[1]["id"] and "Registry_PartySuspended" in failure["data"]["error"]
    assert daifa.get("/v1/events?type=plan.transaction_failed", payees[0].key)["data"] == []
