"""Reading a plan: the API keeps each plan's JSON while the database says it is unchanged. The plan's
version (kept by triggers) moves with every change, whoever makes it: the API, the projection of the
chain's events, the scheduler's claims; a read after a change shows the change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from daifa.store import models as m
from tests.e2e.harness import DAY, Daifa

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def version(daifa: Daifa, plan: dict[str, Any]) -> int:
    with daifa.platform.sessions() as session:
        return int(session.scalar(select(m.Plan.version).where(m.Plan.chain_plan_id == plan["chain_plan_id"])) or 0)


def test_a_plan_read_shows_every_change_whoever_made_it(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=3)
    path = f"/v1/plans/{plan['id']}"
    first = daifa.get(path, payer.key)
    assert daifa.get(path, payee.key) == first  # the kept JSON, for either party
    [listed] = daifa.get(f"/v1/plans?product={plan['product']}", payer.key)["data"]
    assert listed == first, "the kept JSON is what the API's own serialisation gives"
    before = version(daifa, plan)

    daifa.chain.advance(35 * DAY)
    daifa.settle()  # the scheduler claims the first wage, the relayer releases it, the projection folds it
    after = daifa.get(path, payer.key)
    assert version(daifa, plan) > before
    assert [i["status"] for i in after["instalments"]] == ["closed", "funded", "funded"]
    assert after["instalments"][0]["to_payee"] != "0"

    settled = version(daifa, plan)
    with daifa.platform.sessions.begin() as session:  # bulk UPDATEs the ORM does not track
        session.execute(update(m.Instalment).where(m.Instalment.index == 2).values(overdue=True))
    assert version(daifa, plan) > settled
    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.Plan).values(reject_reason="a note"))
    assert version(daifa, plan) > settled + 1
    assert daifa.get(path, payer.key)["reject_reason"] == "a note"


def test_a_cached_plan_is_still_hidden_from_other_parties(daifa: Daifa) -> None:
    payer, _payee, plan = daifa.recorded_plan(instalments=2)
    stranger = daifa.onboard("someone else", "payee")
    daifa.get(f"/v1/plans/{plan['id']}", payer.key)
    daifa.request("GET", f"/v1/plans/{plan['id']}", stranger.key, expect=404)
