"""What an employer opening products with many labour firms does in batches: it authorises their credit
and signs their agreement sets a hundred to a request, each checked as one sent alone; a batch with any
refusal is refused whole, every refusal named by its place in the batch."""

from __future__ import annotations

from typing import Any

import pytest

from daifa.domain.limits import MAX_BATCH
from daifa.store import models as m
from tests.e2e.harness import Daifa, Party

pytestmark = [pytest.mark.chains("eth-tester"), pytest.mark.databases("sqlite", "postgresql")]
BATCH = "/v1/signature_requests/signatures"
AUTHORISE = "/v1/products/authorise_credit"


def approved_products(daifa: Daifa, payees: int) -> tuple[Party, list[Party], list[str]]:
    """A payer and `payees` labour firms whose products the operator approved: the products' ids."""
    payer = daifa.onboard("employer", "payer")
    firms = [daifa.onboard(f"firm-{i}", "payee") for i in range(payees)]
    products = []
    for firm in firms:
        product = daifa.apply_for_product(payer, firm)
        daifa.post(f"/v1/products/{product['id']}/approve", daifa.operator_key, json={"comment": "in order"})
        products.append(product["id"])
    return payer, firms, products


def awaiting_agreements(daifa: Daifa, payees: int) -> tuple[Party, list[Party], list[dict[str, Any]]]:
    """A payer whose credit is authorised for `payees` products: the payer's pending requests, oldest first."""
    payer, firms, products = approved_products(daifa, payees)
    for product in products:
        daifa.post(f"/v1/products/{product}/authorise_credit", payer.key, json={})
    pending = daifa.get("/v1/signature_requests?status=pending", payer.key)["data"]
    return payer, firms, list(reversed(pending))


def signature(party: Party, request: dict[str, Any]) -> str:
    return "0x" + party.wallet.sign_typed_data(full_message=request["typed_data"]).signature.hex()


def test_a_payer_signs_several_agreement_sets_in_one_request(daifa: Daifa) -> None:
    payer, firms, pending = awaiting_agreements(daifa, 3)
    body = {"signatures": [{"request": r["id"], "signature": signature(payer, r)} for r in pending]}
    signed = daifa.post(BATCH, payer.key, json=body)
    assert [r["id"] for r in signed["data"]] == [r["id"] for r in pending]
    assert {r["status"] for r in signed["data"]} == {"signed"}

    for firm in firms:
        daifa.sign_pending(firm)
    daifa.settle()
    products = daifa.get("/v1/products", payer.key)["data"]
    assert [p["status"] for p in products] == ["open"] * 3


def test_a_batch_with_any_wrong_signature_is_refused_whole(daifa: Daifa) -> None:
    payer, firms, pending = awaiting_agreements(daifa, 2)
    firms_request = daifa.get("/v1/signature_requests?status=pending", firms[0].key)["data"][0]
    good = {"request": pending[0]["id"], "signature": signature(payer, pending[0])}
    by_the_firm = {"request": pending[1]["id"], "signature": signature(firms[1], pending[1])}
    not_the_payers = {"request": firms_request["id"], "signature": signature(payer, firms_request)}
    body = {"signatures": [good, by_the_firm, not_the_payers, good]}
    refused = daifa.request("POST", BATCH, payer.key, json=body, expect=422)
    assert {p["field"] for p in refused["problems"]} == {
        "signatures[1].signature",
        "signatures[2].request",
        "signatures[3].request",
    }
    assert daifa.count(m.SignatureRequest, m.SignatureRequest.status == "signed") == 0

    too_many = {"signatures": [good] * (MAX_BATCH + 1)}
    daifa.request("POST", BATCH, payer.key, json=too_many, expect=422)
    daifa.request("POST", BATCH, payer.key, json={"signatures": []}, expect=422)
    assert daifa.count(m.SignatureRequest, m.SignatureRequest.status == "signed") == 0


def test_a_payer_authorises_the_credit_of_several_products_in_one_request(daifa: Daifa) -> None:
    payer, firms, products = approved_products(daifa, 3)
    authorised = daifa.post(AUTHORISE, payer.key, json={"products": products})
    assert [p["id"] for p in authorised["data"]] == products
    assert {p["status"] for p in authorised["data"]} == {"awaiting_signatures"}
    assert len(daifa.get("/v1/signature_requests?status=pending", payer.key)["data"]) == 3
    for firm in firms:
        assert len(daifa.get("/v1/signature_requests?status=pending", firm.key)["data"]) == 1


def test_a_batch_of_authorisations_with_any_refusal_authorises_none(daifa: Daifa) -> None:
    payer, firms, products = approved_products(daifa, 2)
    unreviewed = daifa.apply_for_product(payer, firms[0])["id"]
    other_payer = daifa.onboard("other-employer", "payer")
    theirs = daifa.apply_for_product(other_payer, firms[1])["id"]
    daifa.post(f"/v1/products/{theirs}/approve", daifa.operator_key, json={"comment": "in order"})
    body = {"products": [products[0], unreviewed, theirs, "prd_999999", products[0], products[1]]}
    refused = daifa.request("POST", AUTHORISE, payer.key, json=body, expect=422)
    assert [p["field"] for p in refused["problems"]] == ["products[1]", "products[2]", "products[3]", "products[4]"]
    assert daifa.count(m.SignatureRequest) == 0
    statuses = {p["id"]: p["status"] for p in daifa.get("/v1/products", payer.key)["data"]}
    waiting = "awaiting_credit_authorisation"
    assert statuses == {products[0]: waiting, products[1]: waiting, unreviewed: "submitted"}

    daifa.request("POST", AUTHORISE, payer.key, json={"products": products * 51}, expect=422)  # 102: too many
    daifa.request("POST", AUTHORISE, firms[0].key, json={"products": products}, expect=422)  # not the payer
    assert daifa.count(m.SignatureRequest) == 0
