"""The flows' other branches: webhooks delivered signed and retried, deposit reminders and overdue
marks, refunds of an expired plan, suspension, refusals and withdrawals, damaged documents."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from daifa import webhook_signatures as webhooks
from daifa.sdk.plans import instalment, plan_request
from daifa.store import models as m
from tests.e2e.harness import DAY, PDF, USD, ApiError, Daifa

pytestmark = pytest.mark.chains("eth-tester")


class Receiver:
    """A real HTTP endpoint on localhost that records what it receives and fails the first request."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(500 if len(receiver.received) == 1 else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhooks_are_signed_retried_and_only_for_their_party(daifa: Daifa, receiver: Receiver) -> None:
    payer = daifa.onboard("employer", "payer")
    earlier = {e["id"] for e in daifa.get("/v1/events?limit=100", payer.key)["data"]}  # before the endpoint existed
    endpoint = daifa.post("/v1/webhook_endpoints", payer.key, json={"url": receiver.url}, expect=201)
    assert endpoint["secret"].startswith("whsec_")
    assert (
        "secret" not in daifa.get("/v1/webhook_endpoints", payer.key)["data"][0]
        or not daifa.get("/v1/webhook_endpoints", payer.key)["data"][0]["secret"]
    )
    daifa.platform.webhooks.first_retry = timedelta(0)
    payee = daifa.onboard("labour-firm", "payee")  # payee's events must not reach the payer's endpoint
    daifa.open_product(payer, payee)
    daifa.settle()
    daifa.settle()

    feed = {e["id"] for e in daifa.get("/v1/events?limit=100", payer.key)["data"]} - earlier
    delivered = [json.loads(body) for _, body in receiver.received]
    assert {e["id"] for e in delivered} == feed  # every event of the payer's, and no one else's
    for headers, body in receiver.received:
        assert webhooks.verify(endpoint["secret"], headers[webhooks.SIGNATURE_HEADER], body)
        assert not webhooks.verify("whsec_wrong", headers[webhooks.SIGNATURE_HEADER], body)
    first = json.loads(receiver.received[0][1])["id"]
    assert [json.loads(b)["id"] for _, b in receiver.received].count(first) == 2  # the 500 was retried
    with daifa.platform.sessions() as session:
        deliveries = list(session.scalars(select(m.WebhookDelivery)))
    assert {d.status for d in deliveries} == {"delivered"}
    assert sorted(d.attempts for d in deliveries)[-1] == 2


def test_a_signature_older_than_the_tolerance_is_refused() -> None:
    header = webhooks.sign("whsec_x", 1_000, b"{}")
    assert webhooks.verify("whsec_x", header, b"{}", now=1_100)
    assert not webhooks.verify("whsec_x", header, b"{}", now=1_000 + 301)
    assert not webhooks.verify("whsec_x", header, b"{ }", now=1_100)
    assert not webhooks.verify("whsec_x", "garbage", b"{}", now=1_100)


def test_payer_is_reminded_before_deposit_by_and_both_are_told_when_overdue(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=2, fund=False)  # deposit by day 10 and day 40
    daifa.chain.advance(8 * DAY)
    daifa.settle()
    daifa.settle()
    reminders = daifa.get("/v1/events?type=instalment.deposit_due", payer.key)["data"]
    assert [e["data"]["index"] for e in reminders] == [0]
    assert daifa.get("/v1/events?type=instalment.deposit_due", payee.key)["data"] == []

    daifa.chain.advance(3 * DAY)
    daifa.settle()
    for party in (payer, payee):
        overdue = daifa.get("/v1/events?type=instalment.overdue", party.key)["data"]
        assert [e["data"]["index"] for e in overdue] == [0]
    instalments = daifa.get(f"/v1/plans/{plan['id']}", payee.key)["instalments"]
    assert [i["overdue"] for i in instalments] == [True, False]


def test_a_second_permit_deposit_waits_for_the_first_or_goes_through_the_wallet(daifa: Daifa) -> None:
    """Each EIP-2612 permit signs the token's next permit nonce: two prepared before the first is used
    would carry the same one, and the second would fail on chain."""
    payer, _payee, plan = daifa.recorded_plan(instalments=4, fund=False)
    deposits = f"/v1/plans/{plan['id']}/deposits"
    first = daifa.post(deposits, payer.key, json={"indices": [0], "method": "permit"}, expect=201)
    refused = daifa.post(deposits, payer.key, json={"indices": [1], "method": "permit"}, expect=409)
    assert first["id"] in refused["detail"] and "method wallet" in refused["detail"]
    by_wallet = daifa.post(deposits, payer.key, json={"indices": [1]}, expect=201)  # auto
    assert (by_wallet["status"], by_wallet["details"]["method"]) == ("awaiting_wallet", "wallet")
    assert len(daifa.get("/v1/signature_requests?status=pending", payer.key)["data"]) == 2  # the first's two

    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{first['id']}", payer.key)["status"] == "mined"
    second = daifa.post(deposits, payer.key, json={"indices": [2], "method": "permit"}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{second['id']}", payer.key)["status"] == "mined"

    # One never signed holds the next only until its permit's deadline passes.
    daifa.post(deposits, payer.key, json={"indices": [3], "method": "permit"}, expect=201)
    daifa.post(deposits, payer.key, json={"indices": [3], "method": "permit"}, expect=409)
    daifa.chain.advance(15 * DAY)
    late = daifa.post(deposits, payer.key, json={"indices": [3], "method": "permit"}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{late['id']}", payer.key)["status"] == "mined"
    statuses = [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]]
    assert statuses == ["funded", "unfunded", "funded", "funded"]


def test_an_expired_plan_refunds_what_was_never_approved(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    daifa.fund(payer, 1_000 * USD)
    product = daifa.open_product(payer, payee)
    now = daifa.chain.now()
    plan = daifa.agree_plan(
        payer,
        payee,
        plan_request(
            product["id"], now + 30 * DAY, [instalment(now + DAY, now + 10 * DAY, 400 * USD, "payer_approval")]
        ),
    )
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0]}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    before = daifa.balance(payer)
    daifa.chain.advance(20 * DAY)
    daifa.settle()
    assert daifa.balance(payer) == before  # not expired yet: nothing happens
    daifa.chain.advance(11 * DAY)
    daifa.settle()
    assert daifa.balance(payer) == before + 400 * USD
    refunded = daifa.get(f"/v1/plans/{plan['id']}", payee.key)
    assert refunded["status"] == "completed" and refunded["instalments"][0]["to_payer"] == str(400 * USD)
    daifa.reconcile()


def test_a_suspended_party_cannot_start_new_business_until_reinstated(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=1, fund=False)
    daifa.post(f"/v1/parties/{payee.id}/suspend", daifa.operator_key)
    daifa.settle()
    assert daifa.get(f"/v1/parties/{payee.id}", payee.key)["status"] == "suspended"
    now = daifa.chain.now()
    body = plan_request(plan["product"], now + 60 * DAY, [instalment(now + DAY, now + 2 * DAY, 5)])
    with pytest.raises(ApiError) as refused:
        daifa.post("/v1/plans", payer.key, json=body)
    assert refused.value.status == 409 and "payee" in refused.value.body["detail"]
    daifa.reconcile()

    daifa.post(f"/v1/parties/{payee.id}/reinstate", daifa.operator_key)
    daifa.settle()
    assert daifa.get(f"/v1/parties/{payee.id}", payee.key)["status"] == "active"
    assert daifa.post("/v1/plans", payer.key, json=body, expect=201)["status"] == "awaiting_payer"
    daifa.reconcile()


def test_refusals_and_withdrawals_end_their_flows(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")

    # The operator asks for more documents, the applicant adds them, the operator rejects.
    application = daifa.apply("shell-company", "payee")
    shell = application["party"]["id"]
    daifa.post(f"/v1/parties/{shell}/request_documents", daifa.operator_key, json={"reason": "a clearer licence"})
    daifa.post(
        f"/v1/parties/{shell}/documents",
        application["api_key"],
        files=[("files", ("licence-2.pdf", PDF + b"2", "application/pdf"))],
    )
    rejected = daifa.post(f"/v1/parties/{shell}/reject", daifa.operator_key, json={"reason": "licence expired"})
    assert rejected["status"] == "rejected" and len(rejected["documents"]) == 2
    with pytest.raises(ApiError) as refused:
        daifa.post(f"/v1/parties/{shell}/approve", daifa.operator_key, json={})
    assert refused.value.status == 409 and refused.value.body["code"] == "invalid_transition"

    # The payer declines the credit.
    product = daifa.apply_for_product(payer, payee, 1_000 * USD, business_name="Night shifts", days=100)
    daifa.post(f"/v1/products/{product['id']}/approve", daifa.operator_key, json={})
    declined = daifa.post(f"/v1/products/{product['id']}/decline_credit", payer.key, json={"reason": "budget cut"})
    assert declined["status"] == "credit_declined"

    # A plan the payee rejects, one the payer withdraws, one whose signatures expire.
    opened = daifa.open_product(payer, payee)
    now = daifa.chain.now()
    body = plan_request(opened["id"], now + 60 * DAY, [instalment(now + 20 * DAY, now + 30 * DAY, 5)])
    first = daifa.post("/v1/plans", payer.key, json=body, expect=201)
    daifa.sign_pending(payer)
    assert (
        daifa.post(f"/v1/plans/{first['id']}/reject", payee.key, json={"reason": "wrong dates"})["status"] == "rejected"
    )
    second = daifa.post("/v1/plans", payer.key, json=body, expect=201)
    assert daifa.post(f"/v1/plans/{second['id']}/withdraw", payer.key)["status"] == "withdrawn"
    assert daifa.get("/v1/signature_requests?status=pending", payer.key)["data"] == []
    third = daifa.post("/v1/plans", payer.key, json=body, expect=201)
    daifa.chain.advance(15 * DAY)
    daifa.settle()
    assert daifa.get(f"/v1/plans/{third['id']}", payer.key)["status"] == "expired"
    assert daifa.count(m.OutboxEntry, m.OutboxEntry.kind == "record_plan") == 0


def test_a_damaged_document_is_reported_not_served(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    [document] = daifa.get(f"/v1/parties/{payer.id}", payer.key)["documents"]
    check = daifa.get(f"/v1/documents/{document['id']}/verification", payer.key)
    assert check == {**check, "intact": True, "on_chain": True}
    stored = daifa.settings.documents_dir / document["hash"][2:4] / document["hash"][4:6] / document["hash"][2:]
    stored.write_bytes(PDF + b"tampered")
    assert daifa.get(f"/v1/documents/{document['id']}/verification", payer.key)["intact"] is False
    with pytest.raises(ApiError) as refused:
        daifa.get(f"/v1/documents/{document['id']}/content", payer.key)
    assert refused.value.body["code"] == "document_corrupted"


@pytest.mark.chains("anvil")
def test_the_background_loop_does_the_work_on_its_own_and_stops_when_told(daifa: Daifa) -> None:
    _payer, payee, _plan = daifa.recorded_plan(instalments=2, amount=10 * USD)
    before = daifa.balance(payee)
    daifa.chain.advance(70 * DAY)
    stop = threading.Event()
    worker = threading.Thread(target=daifa.platform.run_forever, args=(stop, 0.05))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while daifa.balance(payee) < before + 20 * USD and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert daifa.balance(payee) == before + 20 * USD


@pytest.mark.chains("eth-tester", "anvil")  # on anvil its reads go in JSON-RPC batches
def test_reconciliation_names_every_record_that_disagrees_with_the_chain(daifa: Daifa) -> None:
    _payer, _payee, plan = daifa.recorded_plan(instalments=2, amount=10 * USD)
    daifa.reconcile()
    with daifa.platform.sessions.begin() as session:
        [first, _second] = session.scalars(select(m.Instalment).order_by(m.Instalment.index)).all()
        first.chain_status = 0  # the database forgets a deposit
        session.scalars(select(m.Plan)).one().fee_bps = 25  # and believes in a fee nobody signed
    report = daifa.get("/v1/reconciliation", daifa.operator_key)
    assert not report["ok"]
    found = {(x["subject"], x["field"]) for x in report["mismatches"]}
    assert found == {
        (f"{plan['id']} instalment 0", "status"),
        (plan["id"], "commitment"),
        (f"token {daifa.token.address}", "escrow balance"),
    }


def test_lists_page_newest_first_until_has_more_is_false(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    for name in ("a", "b", "c", "d"):
        daifa.onboard(f"payee-{name}", "payee")
    seen: list[str] = []
    after = ""
    while True:
        page = daifa.get(f"/v1/parties?limit=2{after}", daifa.operator_key)
        seen += [p["id"] for p in page["data"]]
        if not page["has_more"]:
            break
        after = f"&starting_after={page['data'][-1]['id']}"
    assert seen == [f"pty_{n}" for n in range(5, 0, -1)]
    assert [p["id"] for p in daifa.get("/v1/parties", payer.key)["data"]] == [payer.id]  # a party sees itself only


def test_the_indexer_waits_for_its_confirmations(daifa: Daifa) -> None:
    daifa.restart(confirmations=2)
    application = daifa.apply("late-firm", "payee")
    party = application["party"]["id"]
    daifa.post(f"/v1/parties/{party}/approve", daifa.operator_key, json={})
    daifa.settle()  # approveParty is mined, but not yet two blocks deep
    assert daifa.get(f"/v1/parties/{party}", daifa.operator_key)["status"] == "approved"
    daifa.chain.mine(2)
    daifa.settle()
    assert daifa.get(f"/v1/parties/{party}", daifa.operator_key)["status"] == "active"


def test_a_plan_whose_recording_fails_is_reported_and_expires(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    product = daifa.open_product(payer, payee)
    now = daifa.chain.now()
    plan = daifa.post(
        "/v1/plans",
        payer.key,
        json=plan_request(product["id"], now + 100 * DAY, [instalment(now + 50 * DAY, now + 60 * DAY, 9)]),
        expect=201,
    )
    daifa.sign_pending(payer)
    daifa.sign_pending(payee)
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["status"] == "recording"
    daifa.chain.advance(15 * DAY)  # the signatures' deadline passes before the relayer gets to it
    daifa.settle()
    [failure] = daifa.get("/v1/events?type=plan.transaction_failed", payee.key)["data"]
    assert "Registry_SignatureExpired" in failure["data"]["error"]
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["status"] == "expired"
