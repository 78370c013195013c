"""Secrets that stay secret: API keys never kept in idempotency records, replays scoped to the caller who
made the request (its key, or its address), records dropped after a day; keys listed, rolled and revoked
(a party its own, the operator anyone's); a rejected application's key dead, a pending one's limited to
its application; documents served as attachments that no file name can subvert."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from daifa.api.app import create_app
from daifa.services import documents, housekeeping
from daifa.store import models as m
from tests.e2e.harness import PDF, UNLIMITED, Daifa

pytestmark = pytest.mark.chains("eth-tester")


def application_request(daifa: Daifa, name: str) -> dict[str, Any]:
    return {
        "data": {"address": daifa.chain.account(name).address, "legal_name": f"{name} Ltd", "kind": "payee"},
        "files": [("files", ("licence.pdf", PDF + name.encode(), "application/pdf"))],
    }


def kept_responses(daifa: Daifa) -> list[bytes]:
    with daifa.platform.sessions() as session:
        return [r or b"" for r in session.scalars(select(m.IdempotencyRecord.response_body))]


def test_an_application_replayed_never_shows_its_key_again_nor_to_another_address(daifa: Daifa) -> None:
    key = str(uuid.uuid4())
    request = application_request(daifa, "firm")
    first = daifa.api.post("/v1/parties", headers={"Idempotency-Key": key}, **request)
    assert first.status_code == 201 and first.json()["api_key"].startswith("dk_"), first.text
    assert not any(b"dk_" in body for body in kept_responses(daifa))

    again = daifa.api.post("/v1/parties", headers={"Idempotency-Key": key}, **request)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["api_key"] is None and again.json()["party"] == first.json()["party"]

    elsewhere = TestClient(create_app(daifa.platform, UNLIMITED), client=("203.0.113.9", 40_000))
    stranger = elsewhere.post("/v1/parties", headers={"Idempotency-Key": key}, **request)
    assert stranger.status_code == 409 and "Idempotent-Replayed" not in stranger.headers  # ran as its own request
    assert "dk_" not in stranger.text


def test_replays_are_scoped_by_the_key_not_its_spelling_and_forgotten_after_a_day(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    key = str(uuid.uuid4())
    url = "/v1/webhook_endpoints"
    body = {"url": "http://127.0.0.1:9/hooks"}
    first = daifa.api.post(url, json=body, headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": key})
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
    spelt = daifa.api.post(url, json=body, headers={"Authorization": f"bearer   {payer.key}", "Idempotency-Key": key})
    assert spelt.headers["Idempotent-Replayed"] == "true" and spelt.json()["secret"] is None
    assert not any(b"whsec_" in b for b in kept_responses(daifa))

    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.IdempotencyRecord).values(created_at=m.utcnow() - timedelta(hours=25)))
    assert housekeeping.purge(daifa.platform.sessions) >= 1
    assert kept_responses(daifa) == []
    later = daifa.api.post(url, json=body, headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": key})
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers


def test_keys_are_listed_rolled_and_revoked(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    [own] = daifa.get("/v1/api_keys", payer.key)["data"]
    assert own["party"] == payer.id and own["status"] == "active" and own["secret"] is None
    assert payer.key.startswith(own["prefix"])

    rolled = daifa.post(f"/v1/api_keys/{own['id']}/roll", payer.key, json={"expires_in": 3_600}, expect=201)
    new_key = rolled["secret"]
    assert daifa.get(f"/v1/parties/{payer.id}", new_key)["id"] == payer.id
    assert daifa.get(f"/v1/parties/{payer.id}", payer.key)["id"] == payer.id  # the old one, for its grace
    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.ApiKey).where(m.ApiKey.expires_at.is_not(None)).values(expires_at=m.utcnow()))
    daifa.get(f"/v1/parties/{payer.id}", payer.key, expect=401)

    # A party sees and revokes only its own; the operator anyone's, but never the last operator key.
    daifa.post(f"/v1/api_keys/{rolled['id']}/revoke", payee.key, expect=404)
    assert {k["party"] for k in daifa.get("/v1/api_keys", payee.key)["data"]} == {payee.id}
    daifa.post(f"/v1/api_keys/{rolled['id']}/revoke", daifa.operator_key)
    daifa.get(f"/v1/parties/{payer.id}", new_key, expect=401)
    everyone = daifa.get("/v1/api_keys", daifa.operator_key)["data"]
    [only] = [k for k in everyone if k["role"] == "operator"]
    refused = daifa.post(f"/v1/api_keys/{only['id']}/revoke", daifa.operator_key, expect=409)
    assert "last operator key" in refused["detail"]
    second = daifa.post("/v1/api_keys", daifa.operator_key, json={"label": "backup"}, expect=201)
    daifa.post(f"/v1/api_keys/{only['id']}/revoke", second["secret"])
    daifa.get("/v1/plans", daifa.operator_key, expect=401)
    for secret in (payer.key, new_key, second["secret"]):  # a key's prefix may be kept; the key never
        assert not any(secret.encode() in b for b in kept_responses(daifa))


def test_a_pending_application_only_reads_and_adds_documents_and_a_rejected_one_is_shut_out(
    daifa: Daifa, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = daifa.apply("applicant", "payee")
    key, party = pending["api_key"], pending["party"]["id"]
    assert daifa.get(f"/v1/parties/{party}", key)["status"] == "submitted"
    daifa.post(f"/v1/parties/{party}/documents", key, files=[("files", ("more.pdf", PDF + b"more", "application/pdf"))])
    for method, path, kwargs in (
        ("GET", "/v1/plans", {}),
        ("GET", "/v1/products", {}),
        ("GET", "/v1/signature_requests", {}),
        ("POST", "/v1/webhook_endpoints", {"json": {"url": "https://hooks.example.test/"}}),
        ("POST", "/v1/api_keys", {"json": {}}),
    ):
        refused = daifa.request(method, path, key, expect=403, **kwargs)
        assert "under review" in refused["detail"], path

    monkeypatch.setattr(documents, "QUOTA_UNDER_REVIEW", 200)  # a quota the next upload crosses
    big = [("files", ("big.pdf", PDF + b"x" * 200, "application/pdf"))]
    refused = daifa.post(f"/v1/parties/{party}/documents", key, files=big, expect=413)
    assert refused["code"] == "upload_quota_exceeded"

    daifa.post(f"/v1/parties/{party}/reject", daifa.operator_key, json={"reason": "licence expired"})
    shut = daifa.get(f"/v1/parties/{party}", key, expect=401)
    assert "rejected" in shut["detail"]


def test_a_document_is_served_as_an_attachment_whatever_its_name(daifa: Daifa) -> None:
    name = "x\".pdf\"; filename*=UTF-8''evil.html\r\nX-Injected: 1"
    party = daifa.post(
        "/v1/parties",
        None,
        data={"address": daifa.chain.account("named").address, "legal_name": "Named Ltd", "kind": "payer"},
        files=[("files", (name, PDF, "application/pdf"))],
        expect=201,
    )
    [document] = party["party"]["documents"]
    response = daifa.api.get(
        f"/v1/documents/{document['id']}/content", headers={"Authorization": f"Bearer {party['api_key']}"}
    )
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.count("filename*=") == 1
    assert "\r" not in disposition and "X-Injected" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
