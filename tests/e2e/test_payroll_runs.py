"""Payroll runs through the API: a payer's file of plans (CSV or JSON lines), refused whole with every
refused row's line, field and reason, or asked for at once; amounts in the token's units and dates in a
named time zone converted exactly; the run's progress through signing, recording and funding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from daifa.store import models as m
from tests.e2e.harness import DAY, USD, Daifa, Party
from tests.e2e.test_full_life import _send_from_wallet

HEADER = "payee,amounts,first_release,deposit_days,rule,required_materials,verification"


def first_january_31_ahead(daifa: Daifa) -> int:
    """The year of the first 31 January at least 30 days after the chain's now."""
    soon = datetime.fromtimestamp(daifa.chain.now(), UTC).date() + timedelta(days=30)
    return soon.year if soon <= date(soon.year, 1, 31) else soon.year + 1


def submit(daifa: Daifa, payer: Party, name: str, text: str, expect: int, **form: str) -> Any:
    files = [("file", (name, text.encode(), "text/csv"))]
    return daifa.post("/v1/payroll_runs", payer.key, data=form, files=files, expect=expect)


def world(daifa: Daifa, payees: int) -> tuple[Party, list[Party]]:
    payer = daifa.onboard("employer", "payer")
    others = [daifa.onboard(f"labour-firm-{n}", "payee") for n in range(payees)]
    daifa.fund(payer, 1_000_000 * USD)
    for payee in others:
        daifa.open_product(payer, payee)
    return payer, others


@pytest.mark.databases("sqlite", "postgresql")
def test_a_run_of_a_thousand_rows_is_refused_whole_then_asked_for_at_once(daifa: Daifa) -> None:
    payer, payees = world(daifa, 3)
    year = first_january_31_ahead(daifa)
    rows = [f"{payees[n % 3].id},100.00;100.00;100.50,{year}-01-31,10,time,," for n in range(1_000)]
    wrong = list(rows)
    wrong[4] = f"{payees[1].id},100.0000001,{year}-01-31,10,time,,"  # line 6: finer than tUSD's 6 decimals
    wrong[199] = f"pty_999,100.00,{year}-01-31,10,time,,"  # line 201: no such payee
    wrong[699] = f"{payees[0].id},100.00,{year}-02-30,10,time,,"  # line 701: no such date
    wrong[899] = f"{payees[2].id},100.00,{year}-01-31,10,materials,,"  # line 901: what is delivered?
    refused = submit(daifa, payer, "payroll.csv", "\n".join([HEADER, *wrong]), 422)
    found = sorted((p["line"], p["field"]) for p in refused["problems"])
    assert found == [(6, "amounts"), (201, "payee"), (701, "first_release"), (901, "required_materials")]
    assert "line 6: amounts" in refused["detail"] and "see problems" not in refused["detail"]  # four: all named
    assert (
        daifa.count(m.PayrollRun),
        daifa.count(m.Plan),
        daifa.count(m.SignatureRequest, m.SignatureRequest.subject.like("plan:%")),
    ) == (0, 0, 0)

    run = submit(daifa, payer, "payroll.csv", "\n".join([HEADER, *rows]), 201, time_zone="Asia/Shanghai")
    assert (run["status"], run["rows"], run["progress"]["asked"], daifa.count(m.Plan)) == ("creating", 1_000, 0, 0)
    daifa.platform.run_once()  # the worker makes plans of the rows a chunk a transaction
    assert daifa.get(f"/v1/payroll_runs/{run['id']}", payer.key)["progress"]["asked"] == 100
    daifa.settle()
    run = daifa.get(f"/v1/payroll_runs/{run['id']}", payer.key)
    assert (run["status"], run["progress"]["asked"], run["progress"]["plans"]) == (
        "created",
        1_000,
        {"awaiting_payer": 1_000},
    )
    assert daifa.count(m.Plan, m.Plan.payroll_run_id.is_not(None)) == 1_000
    plan = daifa.get("/v1/plans?limit=1", payer.key)["data"][0]
    shanghai_nine = datetime(year, 1, 31, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai (UTC+8, no daylight saving)
    february = 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28
    assert [(i["release_at"], i["amount"]) for i in plan["instalments"]] == [
        (int(shanghai_nine.timestamp()), str(100 * USD)),
        (int(shanghai_nine.replace(day=february, month=2).timestamp()), str(100 * USD)),
        (int(shanghai_nine.replace(month=3).timestamp()), str(100_500_000)),  # 100.50 tUSD, exactly
    ]
    assert all(i["deposit_by"] == i["release_at"] - 10 * DAY for i in plan["instalments"])
    assert daifa.get(f"/v1/payroll_runs/{run['id']}", payer.key)["rows"] == 1_000
    assert daifa.get(f"/v1/payroll_runs/{run['id']}", payees[0].key, expect=404)


@pytest.mark.chains("eth-tester", "anvil")
@pytest.mark.databases("sqlite", "postgresql")
def test_a_run_is_signed_recorded_and_funded_and_says_how_far_it_got(daifa: Daifa) -> None:
    payer, payees = world(daifa, 2)
    year = first_january_31_ahead(daifa)
    lines = [
        {"payee": payees[0].id, "amounts": "250.00;250.00", "first_release": f"{year}-03-15"},
        {"payee": payees[1].id, "amounts": "80.25", "first_release": f"{year}-03-15", "rule": "materials",
         "required_materials": "timesheet;delivery note", "verification": "signed by the site manager"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines)
    run = submit(daifa, payer, "march.jsonl", text, 201, time_zone="Europe/Berlin", release_time="09:00")
    path = f"/v1/payroll_runs/{run['id']}"
    daifa.settle()

    daifa.sign_pending(payer)
    assert daifa.get(path, payer.key)["progress"]["signed_by_payer"] == 2
    for payee in payees:
        daifa.sign_pending(payee)
    daifa.settle()
    progress = daifa.get(path, payer.key)["progress"]
    assert (progress["plans"], progress["recorded"], progress["funded"]) == ({"recorded": 2}, 2, 0)

    plans = {p["payee"]: p for p in daifa.get("/v1/plans", payer.key)["data"]}
    wages = plans[payees[0].id]
    # 09:00 in Berlin: 08:00 UTC in winter time (15 March), 07:00 UTC in summer time (15 April).
    assert [i["release_at"] for i in wages["instalments"]] == [
        int(datetime(year, 3, 15, 8, 0, tzinfo=UTC).timestamp()),
        int(datetime(year, 4, 15, 7, 0, tzinfo=UTC).timestamp()),
    ]
    [delivery] = plans[payees[1].id]["instalments"]
    assert (delivery["amount"], delivery["rule"]) == (str(80_250_000), "materials")
    assert (delivery["required_materials"], delivery["verification"]) == (
        ["timesheet", "delivery note"],
        "signed by the site manager",
    )

    for plan in plans.values():  # one at a time: each permit takes the token's next permit nonce
        indices = list(range(len(plan["instalments"])))
        daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": indices}, expect=201)
        daifa.sign_pending(payer)
        daifa.settle()
    assert daifa.get(path, payer.key)["progress"]["funded"] == 2
    # The run's milestones reach the payer's events feed (and its webhooks), each once.
    for milestone in ("created", "signed", "recorded", "funded"):
        told = daifa.get(f"/v1/events?type=payroll_run.{milestone}", payer.key)["data"]
        assert [e["subject"] for e in told] == [run["id"]], milestone
    assert daifa.get("/v1/events?type=payroll_run.signed", payees[0].key)["data"] == []
    assert daifa.reconcile()["ok"]


def send_all(daifa: Daifa, payer: Party, transactions: list[dict[str, str]]) -> None:
    for tx in transactions:
        receipt = daifa.chain.w3.eth.wait_for_transaction_receipt(_send_from_wallet(daifa, payer.wallet, tx))
        assert receipt["status"] == 1, tx["description"]


@pytest.mark.chains("eth-tester", "anvil")
@pytest.mark.databases("sqlite", "postgresql")
def test_a_run_funded_at_recording_is_recorded_and_funded_by_the_payers_own_transactions(daifa: Daifa) -> None:
    payer, payees = world(daifa, 3)
    year = first_january_31_ahead(daifa)
    rows = [f"{payees[n % 3].id},100.00;200.00,{year}-03-15,10,time,," for n in range(5)]
    run = submit(daifa, payer, "march.csv", "\n".join([HEADER, *rows]), 201, funding="at_recording")
    path = f"/v1/payroll_runs/{run['id']}"
    assert run["funding"] == "at_recording"
    daifa.settle()
    early = daifa.get(f"{path}/funding", payer.key, expect=409)
    assert "a plan waits once the payer and its payee have both signed it" in early["detail"]

    # The payer signs no plan: it consents by sending the transactions that record them. Each payee signs.
    assert daifa.sign_pending(payer) == []
    assert daifa.get(path, payer.key)["progress"]["plans"] == {"awaiting_payee": 5}
    assert [e["subject"] for e in daifa.get("/v1/events?type=payroll_run.signed", payer.key)["data"]] == [run["id"]]
    for payee in payees[:2]:  # the third payee (its one row) has not signed yet
        daifa.sign_pending(payee)
    daifa.settle()
    progress = daifa.get(path, payer.key)["progress"]
    assert (progress["plans"], progress["recorded"]) == ({"awaiting_funding": 4, "awaiting_payee": 1}, 0)
    assert daifa.count(m.OutboxEntry, m.OutboxEntry.kind == "record_plan") == 0  # the platform sends nothing

    funding = daifa.get(f"{path}/funding", payer.key)
    assert (len(funding["plans"]), funding["value"], funding["has_more"]) == (4, str(1_200 * USD), False)
    assert funding["transactions"][-1]["description"].startswith("record and fund 4 plans: ")
    assert daifa.get(f"{path}/funding", payer.key)["plans"] == funding["plans"]  # nothing changes until sent
    payer_before, escrow_before = daifa.balance(payer), daifa.balance(daifa.escrow.address)
    send_all(daifa, payer, funding["transactions"])
    daifa.settle()
    progress = daifa.get(path, payer.key)["progress"]
    assert (progress["plans"], progress["recorded"], progress["funded"]) == (
        {"recorded": 4, "awaiting_payee": 1},
        4,
        4,
    )
    assert daifa.balance(payer) == payer_before - 1_200 * USD
    assert daifa.balance(daifa.escrow.address) == escrow_before + 1_200 * USD
    plan = daifa.get(f"/v1/plans/{funding['plans'][0]}", payees[0].key)
    assert [i["status"] for i in plan["instalments"]] == ["funded", "funded"]

    for payee in payees[2:]:
        daifa.sign_pending(payee)
    daifa.settle()
    rest = daifa.get(f"{path}/funding", payer.key)
    assert len(rest["plans"]) == 1 and rest["plans"][0] not in funding["plans"]
    assert rest["transactions"][-1]["description"] == f"record and fund 1 plan: {rest['plans'][0]}"
    send_all(daifa, payer, rest["transactions"])
    daifa.settle()
    assert daifa.get(path, payer.key)["progress"]["funded"] == 5
    assert [e["subject"] for e in daifa.get("/v1/events?type=payroll_run.funded", payer.key)["data"]] == [run["id"]]
    assert "no plan of" in daifa.get(f"{path}/funding", payer.key, expect=409)["detail"]
    assert daifa.reconcile()["ok"]


def test_funding_at_recording_is_the_runs_payers_and_only_for_such_runs(daifa: Daifa) -> None:
    payer, payees = world(daifa, 1)
    year = first_january_31_ahead(daifa)
    text = "\n".join([HEADER, f"{payees[0].id},100.00,{year}-03-15,10,time,,"])
    run = submit(daifa, payer, "march.csv", text, 201)
    assert run["funding"] == "after_recording"
    refused = daifa.get(f"/v1/payroll_runs/{run['id']}/funding", payer.key, expect=409)
    assert "POST /v1/plans/{id}/deposits" in refused["detail"]
    own = submit(daifa, payer, "april.csv", text, 201, funding="at_recording")
    daifa.get(f"/v1/payroll_runs/{own['id']}/funding", payees[0].key, expect=404)
    assert (
        "only the run's payer"
        in daifa.get(f"/v1/payroll_runs/{own['id']}/funding", daifa.operator_key, expect=409)["detail"]
    )
    wrong = submit(daifa, payer, "may.csv", text, 422, funding="on_payday")
    assert wrong["problems"][0]["field"] == "funding"

    # Signed by both but never sent: the signatures' deadline passes and the plan expires, funding nothing.
    daifa.settle()
    daifa.sign_pending(payer)
    daifa.sign_pending(payees[0])
    daifa.settle()
    assert daifa.get(f"/v1/payroll_runs/{own['id']}", payer.key)["progress"]["plans"]["awaiting_funding"] == 1
    daifa.chain.advance(15 * DAY)
    daifa.settle()
    assert daifa.get(f"/v1/payroll_runs/{own['id']}", payer.key)["progress"]["plans"] == {"expired": 1}
    daifa.get(f"/v1/payroll_runs/{own['id']}/funding", payer.key, expect=409)


def test_a_file_that_cannot_be_read_is_refused_with_what_to_do(daifa: Daifa) -> None:
    payer, [payee] = world(daifa, 1)

    def problems(name: str, text: str, **form: str) -> list[tuple[Any, str]]:
        body = submit(daifa, payer, name, text, 422, **form)
        return [(p.get("line"), p["field"]) for p in body["problems"]]

    assert problems("payroll.csv", "payee,wages\nx,1") == [(None, "header")]
    assert problems("payroll.csv", HEADER) == [(None, "file")]  # no rows
    # A lone CR ends a line, as in files from old Macs: here it splits a row in two, each short of fields.
    assert problems("payroll.csv", f"{HEADER}\n{payee.id},1\r,2030-01-01,,,,")[0] == (2, "first_release")
    endless = f'{HEADER}\n{payee.id},1,2030-01-01,,,,"' + ("x" * 1_000 + "\n") * 140 + '"'  # a 140,000-long field
    assert problems("payroll.csv", endless) == [(2, "file")]
    assert problems("payroll.jsonl", '{"payee": "x"}\n[1, 2]') == [(2, "file")]
    assert problems("payroll.csv", f"{HEADER}\n{payee.id},1e3,2030-01-01,,,,") == [(2, "amounts")]
    assert problems("payroll.csv", f"{HEADER}\n{payee.id},-5,2030-01-01,,,,") == [(2, "amounts")]
    assert problems("payroll.csv", f"{HEADER}\n{payee.id},5,2030-01-01,,,,", time_zone="Mars/Olympus") == [
        (None, "time_zone")
    ]
    too_many = "\n".join([HEADER, *[f"{payee.id},1,2030-01-01,,,," for _ in range(10_001)]])
    assert problems("payroll.csv", too_many) == [(None, "file")]
    assert daifa.count(m.PayrollRun) == 0


def test_a_row_that_no_longer_passes_when_its_turn_comes_stops_the_run_with_the_reason(daifa: Daifa) -> None:
    payer, payees = world(daifa, 2)
    year = first_january_31_ahead(daifa)
    rows = [f"{payees[0].id},100.00,{year}-01-31,10,time,,", f"{payees[1].id},100.00,{year}-01-31,10,time,,"]
    run = submit(daifa, payer, "payroll.csv", "\n".join([HEADER, *rows]), 201)

    # Before the worker gets to it, a plan asked for on its own takes all but 50 USD of the second
    # payee's product (1,000,000 USD).
    product = daifa.get("/v1/products", payees[1].key)["data"][0]["id"]
    due = int(datetime(year, 1, 31, tzinfo=UTC).timestamp())
    body = {"product": product, "expiry": due + 30 * DAY, "instalments": [
        {"deposit_by": due - DAY, "release_at": due, "amount": str(999_950 * USD), "rule": "time"}
    ]}  # fmt: skip
    daifa.post("/v1/plans", payer.key, json=body, expect=201)
    daifa.settle()

    stopped = daifa.get(f"/v1/payroll_runs/{run['id']}", payer.key)
    assert (stopped["status"], stopped["progress"]["asked"]) == ("stopped", 0)  # the chunk is kept whole or not
    assert stopped["error"].startswith("line 3: ") and "left of its limit" in stopped["error"]
    assert daifa.count(m.Plan, m.Plan.payroll_run_id.is_not(None)) == 0
    [told] = daifa.get("/v1/events?type=payroll_run.stopped", payer.key)["data"]
    assert (told["subject"], told["data"]["line"]) == (run["id"], 3)
