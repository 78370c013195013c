"""The SDK against the real app over HTTP (uvicorn on a local port), and its retry rules against a
scripted transport; the party wallet signs what the SDK fetches, and the contracts accept it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daifa import Client, Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated, Wallet, verify_webhook
from daifa.api.app import create_app
from daifa.api.server import serving
from daifa.sdk.errors import ApiError
from daifa.sdk.plans import instalment, plan_request
from tests.e2e.harness import DAY, PDF, USD, Daifa


@pytest.fixture
def api(daifa: Daifa) -> Iterator[str]:
    with serving(create_app(daifa.platform)) as url:
        yield url


def licence(name: str) -> tuple[str, bytes, str]:
    return ("licence.pdf", PDF + name.encode(), "application/pdf")


def test_a_plan_agreed_through_the_sdk_with_keystore_wallets_is_recorded(
    daifa: Daifa, api: str, tmp_path: Path
) -> None:
    operator = Client(api, daifa.operator_key)
    wallets = {
        name: keystore_wallet(tmp_path / f"{name}.json", daifa.chain.account(name).key.hex())
        for name in ("employer", "labour-firm")
    }
    parties = {}
    with Client(api) as anonymous:
        for name, kind in (("employer", "payer"), ("labour-firm", "payee")):
            application = anonymous.apply(wallets[name].address, name.title(), kind, [licence(name)])
            operator.approve_party(application.party.id, "ok")
            parties[name] = (application.party.id, Client(api, application.api_key))
    daifa.settle()
    (payer_id, payer), (_, payee) = parties["employer"], parties["labour-firm"]
    assert payer.get_party(payer_id).status == "active"

    now = daifa.chain.now()
    product = payee.apply_for_product(
        payer_id, "Night shifts", 10_000 * USD, [daifa.token.address], now + 90 * DAY, [licence("contract")]
    )
    operator.approve_product(product.id)
    payer.authorise_credit(product.id, limit=5_000 * USD)
    for name, client in (("employer", payer), ("labour-firm", payee)):
        for request in client.list_signature_requests():
            client.sign(request.id, wallets[name].sign_typed_data(request.typed_data))
    daifa.settle()
    assert payer.get_product(product.id).status == "open"

    plan = payer.request_plan(
        plan_request(product.id, now + 60 * DAY, [instalment(now + DAY, now + 2 * DAY, 500 * USD)])
    )
    for name, client in (("employer", payer), ("labour-firm", payee)):
        for request in client.list_signature_requests():
            client.sign(request.id, wallets[name].sign_typed_data(request.typed_data))
    daifa.settle()
    recorded = payer.get_plan(plan.id)
    assert recorded.status == "recorded" and recorded.chain_plan_id is not None
    assert [p.id for p in payee.list_plans()] == [plan.id]
    assert operator.reconciliation().ok


def test_errors_come_back_as_the_platforms_exceptions(daifa: Daifa, api: str) -> None:
    operator = Client(api, daifa.operator_key)
    with pytest.raises(NotFound) as missing:
        operator.get_plan("pln_404")
    assert missing.value.http_status == 404 and missing.value.problem is not None
    assert missing.value.problem["code"] == "not_found"
    with pytest.raises(InvalidInput) as invalid:
        Client(api).apply("0x123", "A", "payer", [licence("a")])
    assert [p.field for p in invalid.value.problems] == ["address"]
    with pytest.raises(Unauthenticated):
        Client(api, "dk_wrong").get_plan("pln_1")
    payer = daifa.onboard("employer", "payer")
    with pytest.raises(Forbidden):
        Client(api, payer.key).reconciliation()


def test_lists_are_iterated_across_pages(daifa: Daifa, api: str) -> None:
    for name in ("a", "b", "c", "d", "e"):
        daifa.apply(f"firm-{name}", "payee")
    ids = [p.id for p in Client(api, daifa.operator_key, page_size=2).list_parties()]
    assert ids == ["pty_5", "pty_4", "pty_3", "pty_2", "pty_1"]


def test_a_retried_post_reuses_its_idempotency_key_and_client_errors_are_not_retried() -> None:
    seen: list[httpx.Request] = []
    answers: Iterator[httpx.Response | Exception] = iter(
        [httpx.Response(503), httpx.ConnectError("reset"), httpx.Response(200, json={"status": "ok"})]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Client("http://daifa.test", "dk_x", backoff=0, transport=httpx.MockTransport(handler))
    assert client.request("POST", "/v1/plans/pln_1/withdraw") == {"status": "ok"}
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1

    refused = Client(
        "http://daifa.test",
        backoff=0,
        transport=httpx.MockTransport(lambda r: httpx.Response(409, json={"code": "conflict", "detail": "no"})),
    )
    with pytest.raises(Conflict, match="no"):
        refused.request("POST", "/v1/x", idempotency_key="fixed")

    calls: list[httpx.Request] = []

    def bad_gateway(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502)

    down = Client("http://daifa.test", backoff=0, max_retries=2, transport=httpx.MockTransport(bad_gateway))
    with pytest.raises(ApiError) as failed:
        down.get_plan("pln_1")
    assert failed.value.http_status == 502 and len(calls) == 3


def test_a_receiver_verifies_a_webhook_with_the_sdk() -> None:
    from daifa.webhook_signatures import sign

    body = b'{"id":"evt_1"}'
    header = sign("whsec_test", int(time.time()), body)
    assert verify_webhook("whsec_test", header, body)
    assert not verify_webhook("whsec_test", header, body + b" ")


def keystore_wallet(path: Path, key: str) -> Wallet:
    return Wallet.import_key(path, key, "pw", iterations=2**4)  # a cheap scrypt: a throwaway keystore
