"""Hostile and mistaken requests: each gets a clear 4xx problem saying what to do, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from daifa.sdk.plans import instalment, plan_request
from daifa.store import models as m
from tests.e2e.harness import DAY, PDF, USD, ApiError, Daifa, Party

pytestmark = pytest.mark.chains("eth-tester")  # the API's answers do not depend on the chain

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def fingerprint(daifa: Daifa) -> dict[str, int]:
    """How many rows each table holds (the idempotency records aside: refused requests are kept there)."""
    counts = {}
    with daifa.platform.sessions() as session:
        for table in m.Base.metadata.sorted_tables:
            if table.name != "idempotency_records":
                counts[table.name] = int(session.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def problem(daifa: Daifa, method: str, path: str, key: str | None, status: int, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ApiError) as refused:
        daifa.request(method, path, key, **kwargs)
    assert refused.value.status == status, refused.value.body
    body = refused.value.body
    assert body["status"] == status and body["detail"] and body["type"].startswith("urn:daifa:problem:")
    return body  # type: ignore[no-any-return]


@pytest.fixture
def world(daifa: Daifa) -> tuple[Daifa, Party, Party, Party, dict[str, Any]]:
    payer, payee, plan = daifa.recorded_plan(instalments=2, fund=False)
    outsider = daifa.onboard("outsider", "both")
    return daifa, payer, payee, outsider, plan


Case = tuple[str, str, str | None, int, str, dict[str, Any]]
BAD_ADDRESSES = ["0x123", "0x" + "00" * 20, "0x5b38Da6a701c568545dCfcB03FcB875f56beddC4", "not an address"]
LICENCE = ("licence.pdf", PDF, "application/pdf")


def application(status: int, code: str, files: list[tuple[str, bytes, str]] | None = None, **fields: str) -> Case:
    """An application (POST /v1/parties) with these fields and files changed from a valid one."""
    data = {"address": "0x" + "ab" * 20, "legal_name": "A Ltd", "kind": "payer", **fields}
    uploads = [("files", f) for f in (files if files is not None else [LICENCE])]
    return ("POST", "/v1/parties", None, status, code, {"data": data, "files": uploads} if uploads else {"data": data})


def plan_body(daifa: Daifa, product: str, **changes: Any) -> dict[str, Any]:
    """A valid plan request of one instalment, with these fields of the instalment changed."""
    now = daifa.chain.now()
    item = {**instalment(now + 5 * DAY, now + 10 * DAY, 10 * USD), **changes}
    return plan_request(product, now + 60 * DAY, [item])


DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 KB: once enough to kill the server process
SSRF_URLS = [
    "https://127.0.0.1/h",
    "https://localhost/h",
    "https://[::1]/h",
    "https://0.0.0.0/h",
    "https://2130706433/h",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3/h",
    "https://192.168.0.10/h",
    "https://user:password@hooks.example.test/h",
    "http://hooks.example.test/h",
]


def test_every_hostile_request_is_refused_with_a_problem_and_changes_nothing(world: Any) -> None:
    daifa, payer, payee, outsider, plan = world
    product = plan["product"]
    documents = daifa.get(f"/v1/parties/{payer.id}", payer.key)["documents"]
    pending = daifa.apply("applicant", "payee")
    rejected = daifa.apply("rejected-applicant", "payee")
    daifa.post(f"/v1/parties/{rejected['party']['id']}/reject", daifa.operator_key, json={"reason": "forged"})
    daifa.platform.ports.outbound.allow_local = False  # as in production
    before = fingerprint(daifa)
    now = daifa.chain.now()
    json_type = {"Content-Type": "application/json"}
    cases: list[Case] = [
        # bodies: nested to kill the parser, larger than the route takes
        ("POST", "/v1/parties", None, 400, "json_too_deep", {"content": DEEP, "headers": json_type}),
        ("POST", "/v1/plans", payer.key, 400, "json_too_deep", {"content": DEEP, "headers": json_type}),
        (
            "POST",
            f"/v1/parties/{payer.id}/approve",
            daifa.operator_key,
            413,
            "body_too_large",
            {"json": {"comment": "x" * 300_000}},
        ),
        # webhooks aimed at the platform's own machine and network, or with credentials, or plain http
        *[
            ("POST", "/v1/webhook_endpoints", payer.key, 422, "invalid_input", {"json": {"url": url}})
            for url in SSRF_URLS
        ],
        # an application under review may read itself and add documents, nothing else; a rejected one, nothing
        ("POST", "/v1/webhook_endpoints", pending["api_key"], 403, "forbidden", {"json": {"url": SSRF_URLS[0]}}),
        ("GET", "/v1/plans", pending["api_key"], 403, "forbidden", {}),
        ("POST", f"/v1/plans/{plan['id']}/deposits", pending["api_key"], 403, "forbidden", {"json": {"indices": [0]}}),
        ("GET", f"/v1/parties/{rejected['party']['id']}", rejected["api_key"], 401, "unauthenticated", {}),
        # keys: another party's, a made-up one
        ("POST", "/v1/api_keys/key_1/revoke", payee.key, 404, "not_found", {}),
        ("POST", "/v1/api_keys/key_999999/roll", daifa.operator_key, 404, "not_found", {"json": {}}),
        ("POST", "/v1/api_keys", payee.key, 404, "not_found", {"json": {"party": payer.id}}),
        # unknown ids, ids of another kind, another party's records
        ("GET", "/v1/plans/pln_999999", payer.key, 404, "not_found", {}),
        ("GET", "/v1/plans/prd_1", payer.key, 404, "not_found", {}),
        ("GET", "/v1/plans/robert'); DROP TABLE plans;--", payer.key, 404, "not_found", {}),
        ("GET", f"/v1/plans/{plan['id']}", outsider.key, 404, "not_found", {}),
        ("GET", f"/v1/products/{product}", outsider.key, 404, "not_found", {}),
        ("GET", f"/v1/parties/{payer.id}", payee.key, 404, "not_found", {}),
        ("GET", f"/v1/documents/{documents[0]['id']}", outsider.key, 404, "not_found", {}),
        ("GET", f"/v1/documents/{documents[0]['id']}/content", payee.key, 404, "not_found", {}),
        ("GET", "/v1/nowhere", payer.key, 404, "not_found", {}),
        # credentials and roles
        ("GET", "/v1/plans", None, 401, "unauthenticated", {}),
        ("GET", "/v1/plans", "dk_not-a-key", 401, "unauthenticated", {}),
        ("POST", f"/v1/parties/{payer.id}/approve", payer.key, 403, "forbidden", {"json": {}}),
        ("POST", f"/v1/products/{product}/approve", payee.key, 403, "forbidden", {"json": {}}),
        ("GET", "/v1/reconciliation", payer.key, 403, "forbidden", {}),
        ("GET", "/v1/transactions", payee.key, 403, "forbidden", {}),
        ("POST", "/v1/plans", payee.key, 409, "conflict", {"json": plan_body(daifa, product)}),
        ("POST", f"/v1/plans/{plan['id']}/deposits", payee.key, 409, "conflict", {"json": {"indices": [0]}}),
        (
            "POST",
            f"/v1/plans/{plan['id']}/instalments/0/disputes",
            outsider.key,
            404,
            "not_found",
            {"data": {"reason": "x"}},
        ),
        # malformed addresses and names, an address that has applied already
        *[application(422, "invalid_input", address=a) for a in BAD_ADDRESSES],
        application(422, "invalid_input", legal_name="Bell\x07Co"),
        application(422, "invalid_input", kind="tycoon"),
        application(409, "conflict", address=payer.address),
        # amounts: zero, negative, fractional, overflowing
        *[
            ("POST", "/v1/plans", payer.key, 422, "invalid_input", {"json": plan_body(daifa, product, amount=a)})
            for a in ["0", "-5", -5, "1.5", 1.5, str(2**128), str(2**256), "1e6", True]
        ],
        # times out of order, beyond the product's limit or expiry
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": plan_body(daifa, product, deposit_by=now + 20 * DAY)},
        ),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": plan_body(daifa, product, deposit_by=now - DAY)},
        ),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": plan_body(daifa, product, release_at=now + 90 * DAY)},
        ),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": plan_body(daifa, product, amount=str(2_000_000 * USD))},
        ),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": {**plan_body(daifa, product), "expiry": now + 900 * DAY}},
        ),
        ("POST", "/v1/plans", payer.key, 422, "invalid_input", {"json": plan_body(daifa, product, rule="whenever")}),
        ("POST", "/v1/plans", payer.key, 422, "invalid_input", {"json": plan_body(daifa, product, rule="materials")}),
        ("POST", "/v1/plans", payer.key, 422, "invalid_input", {"json": {**plan_body(daifa, product), "surprise": 1}}),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"json": {**plan_body(daifa, product), "instalments": []}},
        ),
        (
            "POST",
            "/v1/plans",
            payer.key,
            422,
            "invalid_input",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        ),
        # files: too large, a refused type, a type that is not what it says, none at all
        application(422, "invalid_input", files=[("big.pdf", PDF + b"0" * (20 * 1024 * 1024), "application/pdf")]),
        application(422, "invalid_input", files=[("x.exe", b"MZ\x90\x00\x03\x00\x00\x00", "application/octet-stream")]),
        application(422, "invalid_input", files=[("l.pdf", PNG, "application/pdf")]),
        application(422, "invalid_input", files=[]),
        # pagination
        ("GET", "/v1/plans?limit=1000", payer.key, 422, "invalid_input", {}),
        ("GET", "/v1/plans?limit=0", payer.key, 422, "invalid_input", {}),
        ("GET", "/v1/plans?limit=-1", payer.key, 422, "invalid_input", {}),
        ("GET", "/v1/plans?starting_after=nonsense", payer.key, 422, "invalid_input", {}),
        ("GET", "/v1/events?limit=99999999999999999999999", payer.key, 422, "invalid_input", {}),
        # POST without an Idempotency-Key
        (
            "POST",
            f"/v1/plans/{plan['id']}/withdraw",
            payer.key,
            400,
            "idempotency_key_required",
            {"headers": {"Idempotency-Key": ""}},
        ),
    ]
    failures = []
    for method, path, key, status, code, kwargs in cases:
        try:
            body = problem(daifa, method, path, key, status, **kwargs)
            assert body["code"] == code, body
        except AssertionError as error:
            failures.append(f"{method} {path} {str(kwargs)[:120]}: {error}")
    assert not failures, "\n".join(failures)
    assert fingerprint(daifa) == before


def test_a_signature_by_another_key_or_over_other_terms_is_refused(world: Any) -> None:
    daifa, payer, payee, outsider, plan = world
    deposit = daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0]}, expect=201)
    request = deposit["signature_requests"][1]
    typed = request["typed_data"]
    path = f"/v1/signature_requests/{request['id']}/sign"
    before = fingerprint(daifa)

    by_outsider = outsider.wallet.sign_typed_data(full_message=typed).signature
    body = problem(daifa, "POST", path, payer.key, 422, json={"signature": "0x" + by_outsider.hex()})
    assert outsider.address in body["detail"] and payer.address in body["detail"]

    other_terms = {**typed, "message": {**typed["message"], "indices": [0, 1]}}
    over_other_terms = payer.wallet.sign_typed_data(full_message=other_terms).signature
    problem(daifa, "POST", path, payer.key, 422, json={"signature": "0x" + over_other_terms.hex()})
    problem(daifa, "POST", path, payer.key, 422, json={"signature": "0x1234"})
    problem(daifa, "POST", path, payer.key, 422, json={"signature": "zz" * 65})
    problem(daifa, "POST", path, payee.key, 404, json={"signature": "0x" + by_outsider.hex()})
    assert fingerprint(daifa) == before

    good = payer.wallet.sign_typed_data(full_message=typed).signature
    assert daifa.post(path, payer.key, json={"signature": "0x" + good.hex()})["status"] == "signed"
    problem(daifa, "POST", path, payer.key, 409, json={"signature": "0x" + good.hex()})


def test_a_repeated_request_is_answered_once(world: Any) -> None:
    daifa, payer, _payee, _outsider, plan = world
    key = str(uuid.uuid4())
    path = f"/v1/plans/{plan['id']}/deposits"
    first = daifa.api.post(
        path, json={"indices": [0]}, headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": key}
    )
    again = daifa.api.post(
        path, json={"indices": [0]}, headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": key}
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert daifa.count(m.PlanAction) == 1

    other = daifa.api.post(
        path, json={"indices": [1]}, headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": key}
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert daifa.count(m.PlanAction) == 1


def test_names_in_any_script_are_kept_as_given(daifa: Daifa) -> None:
    application = daifa.apply(
        "unicode-firm", "payee", legal_name="上海劳务派遣有限公司 — Ünïcödé", filename="营业执照.pdf"
    )
    assert application["party"]["legal_name"] == "上海劳务派遣有限公司 — Ünïcödé"
    assert application["party"]["documents"][0]["filename"] == "营业执照.pdf"
