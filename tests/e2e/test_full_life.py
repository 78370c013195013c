"""The whole life of a plan through the REST API: onboarding, a product with three agreements, a plan
with one instalment of each release rule, deposits, releases, a dispute resolved, a cancellation refunded;
the database reconciles with the chain after every step. On both chains and both databases."""

from __future__ import annotations

from typing import Any, cast

import pytest
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.types import TxParams

from daifa.sdk.plans import instalment, plan_request
from tests.e2e.harness import DAY, PDF, USD, Daifa


@pytest.mark.databases("sqlite", "postgresql")
def test_the_whole_life_of_a_plan(daifa: Daifa) -> None:
    # Onboarding: both parties apply with their documents; the operator approves; the chain confirms.
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    daifa.fund(payer, 100_000 * USD)
    daifa.reconcile()

    # Product opening: three agreements generated, stored, their hashes on chain in the agreement set.
    product = daifa.open_product(payer, payee, limit=50_000 * USD)
    agreements = [d for d in product["documents"] if d["purpose"] == "agreement"]
    assert len(agreements) == 3
    for agreement in agreements:
        text = daifa.get(f"/v1/documents/{agreement['id']}/content", payee.key)
        assert "0x" + keccak(text).hex() == agreement["hash"]
        check = daifa.get(f"/v1/documents/{agreement['id']}/verification", payer.key)
        assert check["intact"] and check["on_chain"], check
    daifa.reconcile()

    # A plan: one instalment of each release rule; the payer signs, the payee confirms.
    now = daifa.chain.now()
    plan = daifa.agree_plan(
        payer,
        payee,
        plan_request(
            product["id"],
            now + 200 * DAY,
            [
                instalment(now + 10 * DAY, now + 30 * DAY, 1_000 * USD),
                instalment(now + 40 * DAY, now + 60 * DAY, 2_000 * USD, "payer_approval"),
                instalment(
                    now + 70 * DAY,
                    now + 90 * DAY,
                    3_000 * USD,
                    "materials",
                    required_materials=["signed timesheets"],
                    verification="the operator checks the timesheets against the roster",
                ),
            ],
            review_window=3 * DAY,
        ),
    )
    assert plan["chain_plan_id"] is not None and plan["total"] == str(6_000 * USD)
    daifa.reconcile()

    # Deposits: the payer signs a permit and a deposit authorisation; the platform relays.
    deposit = daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0, 1, 2]}, expect=201)
    assert {r["purpose"] for r in deposit["signature_requests"]} == {"permit", "deposit_authorization"}
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{deposit['id']}", payer.key)["status"] == "mined"
    statuses = [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payee.key)["instalments"]]
    assert statuses == ["funded", "funded", "funded"]
    assert daifa.balance(daifa.escrow.address) == 6_000 * USD
    daifa.reconcile()

    # Time: the first instalment is released by the scheduler when its release time comes.
    payee_before = daifa.balance(payee)
    daifa.chain.advance(30 * DAY)
    daifa.settle()
    assert daifa.balance(payee) == payee_before + 1_000 * USD
    daifa.reconcile()

    # Payer approval: the payer approves instalment 1 with its signature; it is released.
    approval = daifa.post(f"/v1/plans/{plan['id']}/instalments/1/approve", payer.key, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{approval['id']}", payee.key)["status"] == "mined"
    assert daifa.balance(payee) == payee_before + 3_000 * USD
    daifa.reconcile()

    # Materials: the payee delivers, the operator attests, the payer disputes within the review window.
    materials = daifa.post(
        f"/v1/plans/{plan['id']}/instalments/2/materials",
        payee.key,
        files=[("files", ("timesheets.pdf", PDF + b"march timesheets", "application/pdf"))],
        expect=201,
    )
    daifa.sign_pending(payee)
    daifa.settle()
    daifa.post(f"/v1/plans/{plan['id']}/instalments/2/attest", daifa.operator_key, expect=201)
    daifa.settle()
    attested = daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][2]
    assert attested["status"] == "releasable" and attested["delivered_hash"] == materials["details"]["delivered_hash"]
    [timesheet] = materials["documents"]
    assert daifa.get(f"/v1/documents/{timesheet['id']}/verification", daifa.operator_key)["on_chain"]

    dispute = daifa.post(
        f"/v1/plans/{plan['id']}/instalments/2/disputes",
        payer.key,
        data={"reason": "two shifts are missing from the timesheets"},
        files=[("files", ("roster.pdf", PDF + b"roster", "application/pdf"))],
        expect=201,
    )
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][2]["status"] == "disputed"
    daifa.chain.advance(10 * DAY)
    daifa.settle()  # the review window has passed, but a disputed instalment is never released
    assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][2]["status"] == "disputed"
    daifa.reconcile()

    # The arbiter (the operator) splits it: 2,500 to the payee, 500 back to the payer.
    payer_before = daifa.balance(payer)
    daifa.post(
        f"/v1/actions/{dispute['id']}/resolve", daifa.operator_key, json={"to_payee": str(2_500 * USD)}, expect=201
    )
    daifa.settle()
    assert daifa.balance(payee) == payee_before + 5_500 * USD
    assert daifa.balance(payer) == payer_before + 500 * USD
    final = daifa.get(f"/v1/plans/{plan['id']}", payer.key)
    assert final["status"] == "completed"
    assert [(i["to_payee"], i["to_payer"]) for i in final["instalments"]] == [
        (str(1_000 * USD), "0"),
        (str(2_000 * USD), "0"),
        (str(2_500 * USD), str(500 * USD)),
    ]
    daifa.reconcile()

    # A second plan, funded from the payer's own wallet, then cancelled by both: refunded to the payer.
    now = daifa.chain.now()
    second = daifa.agree_plan(
        payer,
        payee,
        plan_request(product["id"], now + 100 * DAY, [instalment(now + 5 * DAY, now + 20 * DAY, 700 * USD)]),
    )
    wallet_deposit = daifa.post(
        f"/v1/plans/{second['id']}/deposits", payer.key, json={"indices": [0], "method": "wallet"}, expect=201
    )
    assert wallet_deposit["status"] == "awaiting_wallet"
    for tx in wallet_deposit["details"]["transactions"]:
        daifa.chain.w3.eth.wait_for_transaction_receipt(_send_from_wallet(daifa, payer.wallet, tx))
    daifa.settle()
    assert daifa.get(f"/v1/plans/{second['id']}", payer.key)["instalments"][0]["status"] == "funded"

    payer_before = daifa.balance(payer)
    cancellation = daifa.post(f"/v1/plans/{second['id']}/cancellations", payee.key, json={"indices": [0]}, expect=201)
    daifa.sign_pending(payee)
    daifa.sign_pending(payer)
    daifa.settle()
    assert daifa.get(f"/v1/actions/{cancellation['id']}", payer.key)["status"] == "mined"
    assert daifa.balance(payer) == payer_before + 700 * USD
    refunded = daifa.get(f"/v1/plans/{second['id']}", payee.key)
    assert refunded["status"] == "completed" and refunded["instalments"][0]["to_payer"] == str(700 * USD)
    assert daifa.balance(daifa.escrow.address) == 0
    report = daifa.reconcile()
    assert report["plans"] == 2 and report["instalments"] == 4

    # Every state change reached the parties' feed.
    types = {e["type"] for e in daifa.get("/v1/events?limit=100", payee.key)["data"]}
    assert {"party.activated", "product.opened", "plan.recorded", "instalment.released"} <= types
    assert {"instalment.dispute_resolved", "instalment.refunded", "plan.completed"} <= types


def _send_from_wallet(daifa: Daifa, wallet: object, tx: dict[str, str]) -> HexBytes:
    from eth_account.signers.local import LocalAccount

    assert isinstance(wallet, LocalAccount)
    w3 = daifa.chain.w3
    fields: dict[str, Any] = {
        "from": wallet.address,
        "to": tx["to"],
        "data": tx["data"],
        "nonce": w3.eth.get_transaction_count(wallet.address),
        "chainId": daifa.chain.chain_id,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
    }
    fields["gas"] = w3.eth.estimate_gas(cast(TxParams, fields))
    signed = wallet.sign_transaction(fields)
    return w3.eth.send_raw_transaction(signed.raw_transaction)
