"""Statements: a plan's and a party's month, as CSV and PDF, read from the escrow's own logs: each line
names a transaction the chain holds, a month opens with the balance the month before closed with, and a
payment the token would not deliver is a credit held in escrow until the payee withdraws it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_typing import HexStr

from daifa.console import overview
from daifa.sdk.plans import monthly_plan
from daifa.services.context import Actor, Role
from tests.e2e.console_client import as_operator, as_party
from tests.e2e.harness import DAY, USD, Daifa
from tests.e2e.test_stablecoins import send_all

pytestmark = [pytest.mark.chains("eth-tester"), pytest.mark.databases("sqlite", "postgresql")]


def rows_of(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def balance(rows: list[dict[str, str]], kind: str) -> str:
    [row] = [r for r in rows if r["kind"] == kind]
    return row["amount"]


def month_of(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m")


def test_a_plans_months_chain_their_balances_and_each_line_names_its_transaction(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=3, amount=100 * USD)
    first_month = month_of(daifa.chain.now())
    for instalment in plan["instalments"][:2]:  # two releases, a month apart
        daifa.chain.advance(instalment["release_at"] - daifa.chain.now() + 60)
        daifa.settle()
    client = as_party(daifa, payee)

    whole = rows_of(client.get(f"/console/statements/{plan['id']}.csv"))
    movements = [(r["kind"], r["amount"]) for r in whole[1:-1]]
    assert movements == [("deposit", "100.000000")] * 3 + [("release", "100.000000")] * 2
    assert (balance(whole, "opening_balance"), balance(whole, "closing_balance")) == ("0.000000", "100.000000")
    for row in whole[1:-1]:
        receipt = daifa.chain.w3.eth.get_transaction_receipt(HexStr(row["transaction"]))
        assert receipt["status"] == 1 and receipt["to"] == daifa.escrow.address

    # Month by month, from the deposits' to the second release's: each opens where the last closed.
    months = sorted({first_month, *(month_of(i["release_at"]) for i in plan["instalments"][:2])})
    assert len(months) >= 2
    carried = "0.000000"
    for month in months:
        rows = rows_of(client.get(f"/console/statements/{month}.csv"))
        assert balance(rows, "opening_balance") == carried
        carried = balance(rows, "closing_balance")
    assert carried == "100.000000"

    pdf = client.get(f"/console/statements/{months[-1]}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    operator = as_operator(daifa)
    assert rows_of(operator.get(f"/console/statements/{months[-1]}.csv?party={payer.id}"))[-1]["amount"] == carried
    assert client.get(f"/console/statements/{months[-1]}.csv?party={payer.id}").status_code == 404
    assert client.get("/console/statements/2027-13.csv").status_code == 422


def test_a_payment_the_token_refused_is_a_credit_until_it_is_withdrawn(daifa: Daifa) -> None:
    minter = daifa.chain.account("minter")
    token = daifa.chain.deploy("BlockingToken", sender=minter)
    payer, payee = daifa.onboard("employer", "payer"), daifa.onboard("labour-firm", "payee")
    unit = 10**18  # the blocking token's decimals
    daifa.chain.send(token.functions.mint(payer.address, 10_000 * unit), minter)
    product = daifa.open_product(payer, payee, limit=10**6 * unit, token=token.address)
    body = {**monthly_plan(product["id"], daifa.chain.now(), 1_000 * unit, 1), "token": token.address}
    plan = daifa.agree_plan(payer, payee, body)
    deposit = daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0]}, expect=201)
    send_all(daifa, payer, deposit["details"]["transactions"])
    daifa.settle()

    daifa.chain.send(token.functions.setBlocked(payee.address, True), minter)  # the token refuses the payee
    daifa.chain.advance(plan["instalments"][0]["release_at"] - daifa.chain.now() + 60)
    daifa.settle()
    daifa.chain.send(token.functions.setBlocked(payee.address, False), minter)
    daifa.chain.send(daifa.escrow.functions.withdraw(token.address, payee.address), payee.wallet)
    daifa.settle()

    rows = rows_of(as_party(daifa, payee).get(f"/console/statements/{month_of(daifa.chain.now())}.csv"))
    lines = [(r["kind"], r["amount"], r["escrow_change"]) for r in rows[1:-1] if r["kind"] != "deposit"]
    thousand = "1000." + "0" * 18
    assert ("release", thousand, "-" + thousand) in lines
    assert ("credit", thousand, thousand) in lines
    assert ("withdrawal", thousand, "-" + thousand) in lines
    assert balance(rows, "closing_balance") == "0." + "0" * 18
    assert int(token.functions.balanceOf(payee.address).call()) == 1_000 * unit


def test_what_falls_due_and_what_the_escrow_holds_are_read_from_the_instalments(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=3, amount=100 * USD)
    daifa.chain.advance(plan["instalments"][0]["release_at"] - daifa.chain.now() + 60)
    daifa.settle()
    now = daifa.chain.now()
    with daifa.platform.readers() as session:
        for party in (payer, payee):
            actor = Actor(Role.PARTY, int(party.id.removeprefix("pty_")))
            due = overview.due_between(session, actor, now, now + 365 * DAY)
            assert [(d.what, d.index, d.amount, d.plan) for d in due] == [
                ("release", 1, 100 * USD, plan["id"]),
                ("release", 2, 100 * USD, plan["id"]),
            ]
            assert overview.escrow_by_token(session, actor) == {daifa.token.address: 200 * USD}
        outsider = Actor(Role.PARTY, 999)
        assert (
            overview.due_between(session, outsider, 0, 2**40) == []
            and overview.escrow_by_token(session, outsider) == {}
        )
