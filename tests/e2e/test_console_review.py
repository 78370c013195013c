"""The review loop in the console: the operator asks for documents with a comment, the applicant reads
the comment on its own page and uploads them there, and the application is back in the queue; the same
for a product's contract. No one adds documents to another's application."""

from __future__ import annotations

import pytest

from tests.e2e.console_client import ORIGIN, as_operator, as_party, csrf_of, form_token
from tests.e2e.harness import PDF, Daifa, Party

pytestmark = [pytest.mark.chains("eth-tester"), pytest.mark.databases("sqlite", "postgresql")]


def test_an_applicant_uploads_the_documents_the_operator_asked_for(daifa: Daifa) -> None:
    application = daifa.apply("carrier", "payee")
    party_id = application["party"]["id"]
    applicant = Party("carrier", daifa.chain.account("carrier"), application["api_key"], party_id)
    operator = as_operator(daifa)
    asked = operator.post(
        f"/console/parties/{party_id}/request_documents",
        data={"comment": "the licence's second page is missing", "csrf_token": csrf_of(operator)},
        headers={"Origin": ORIGIN},
    )
    assert asked.status_code == 303

    client = as_party(daifa, applicant)
    page = client.get(f"/console/parties/{party_id}")
    assert "the licence&#39;s second page is missing" in page.text and 'name="files"' in page.text
    files = [("files", ("licence-page-2.pdf", PDF + b"page two", "application/pdf"))]
    added = client.post(
        f"/console/parties/{party_id}/documents",
        data={"csrf_token": form_token(page.text)},
        files=files,
        headers={"Origin": ORIGIN},
    )
    assert added.status_code == 303, added.text
    shown = daifa.get(f"/v1/parties/{party_id}", daifa.operator_key)
    assert shown["status"] == "submitted" and len(shown["documents"]) == 2

    # Another party, signed in, cannot add to it; nor can a form without the token.
    other = daifa.onboard("rival", "payee")
    rival = as_party(daifa, other)
    refused = rival.post(
        f"/console/parties/{party_id}/documents",
        data={"csrf_token": csrf_of(rival)},
        files=files,
        headers={"Origin": ORIGIN},
    )
    assert refused.status_code == 404
    tokenless = client.post(f"/console/parties/{party_id}/documents", files=files, headers={"Origin": ORIGIN})
    assert tokenless.status_code == 403
    assert len(daifa.get(f"/v1/parties/{party_id}", daifa.operator_key)["documents"]) == 2


def test_the_payee_adds_the_contract_pages_the_operator_asked_for(daifa: Daifa) -> None:
    payer, payee = daifa.onboard("employer", "payer"), daifa.onboard("labour-firm", "payee")
    product = daifa.apply_for_product(payer, payee)
    daifa.post(f"/v1/products/{product['id']}/request_documents", daifa.operator_key, json={"reason": "sign page 3"})
    client = as_party(daifa, payee)
    page = client.get(f"/console/products/{product['id']}")
    assert "sign page 3" in page.text
    added = client.post(
        f"/console/products/{product['id']}/documents",
        data={"csrf_token": form_token(page.text)},
        files=[("files", ("contract-signed.pdf", PDF + b"signed", "application/pdf"))],
        headers={"Origin": ORIGIN},
    )
    assert added.status_code == 303, added.text
    assert daifa.get(f"/v1/products/{product['id']}", payer.key)["status"] == "submitted"
