"""Reading a plan: the API keeps each plan's JSON while the database says it is unchanged. The plan's
version (kept by triggers) moves with every change, whoever makes it: the API, the projection of the
chain's events, the scheduler's claims; a read after a change shows the change."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from daifa.api.app import ApiSettings, create_app
from daifa.api.ratelimit import RateLimit, RateLimits
from daifa.store import models as m
from tests.e2e.harness import DAY, UNLIMITED, Daifa

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
    latest = daifa.get(path, payer.key)
    assert latest["reject_reason"] == "a note"
    [listed] = daifa.get(f"/v1/plans?product={plan['product']}", payee.key)["data"]
    assert listed == latest, "a list shows the change too"
    with TestClient(create_app(daifa.platform, UNLIMITED)) as fresh:  # keeps nothing yet: builds from the rows
        assert fresh.get(path, headers={"Authorization": f"Bearer {payer.key}"}).json() == latest


def test_a_cached_plan_is_still_hidden_from_other_parties(daifa: Daifa) -> None:
    payer, _payee, plan = daifa.recorded_plan(instalments=2)
    stranger = daifa.onboard("someone else", "payee")
    daifa.get(f"/v1/plans/{plan['id']}", payer.key)
    daifa.request("GET", f"/v1/plans/{plan['id']}", stranger.key, expect=404)


# The plan read is answered before the framework (daifa.api.plan_reads); a query string sends it the long
# way, through FastAPI's route, so the two can be compared.


def test_the_short_read_answers_as_the_application_does(daifa: Daifa) -> None:
    payer, _payee, plan = daifa.recorded_plan(instalments=2)
    path = f"/v1/plans/{plan['id']}"
    headers = {"Authorization": f"Bearer {payer.key}", "Request-Id": "trace-9"}
    short, long = daifa.api.get(path, headers=headers), daifa.api.get(path + "?via=router", headers=headers)
    assert short.status_code == long.status_code == 200
    assert short.content == long.content
    assert dict(short.headers) == dict(long.headers)
    assert short.headers["Request-Id"] == "trace-9" and short.headers["Cache-Control"] == "no-store"
    assert short.headers["Content-Type"] == "application/json"
    assert short.headers["X-Content-Type-Options"] == "nosniff"
    insane = daifa.api.get(path, headers={"Authorization": f"Bearer {payer.key}", "Request-Id": "a b\\c"})
    assert insane.headers["Request-Id"].startswith("req_")
    metrics = daifa.api.get("/metrics", headers={"Authorization": f"Bearer {daifa.operator_key}"}).text
    assert 'daifa_http_requests_total{method="GET",route="/v1/plans/{plan_id}",status="200"}' in metrics


def test_reads_it_cannot_serve_get_the_applications_answer(daifa: Daifa) -> None:
    payer, payee, plan = daifa.recorded_plan(instalments=2)
    path = f"/v1/plans/{plan['id']}"
    applicant = daifa.apply("newcomer", "payee")["api_key"]
    stranger = daifa.onboard("stranger", "payer")
    for key, status, code in (
        (None, 401, "unauthenticated"),
        ("dk_wrong", 401, "unauthenticated"),
        (applicant, 403, "forbidden"),
        (stranger.key, 404, "not_found"),
    ):
        refused = daifa.api.get(path, headers={"Authorization": f"Bearer {key}"} if key else {})
        assert (refused.status_code, refused.json()["code"]) == (status, code), key
        assert refused.headers["Content-Type"] == "application/problem+json"
    for missing in ("/v1/plans/pln_999999", "/v1/plans/pln_x", "/v1/plans/pln_0000000000000000001"):
        assert daifa.api.get(missing, headers={"Authorization": f"Bearer {payer.key}"}).status_code == 404
    # A key revoked after a read: the next read is refused, though the plan's JSON is kept.
    daifa.get(path, payee.key)
    [key] = daifa.get("/v1/api_keys", payee.key)["data"]
    daifa.post(f"/v1/api_keys/{key['id']}/revoke", daifa.operator_key)
    daifa.get(path, payee.key, expect=401)
    # A HEAD, a GET with a body: the application's answers.
    assert daifa.api.head(path, headers={"Authorization": f"Bearer {payer.key}"}).status_code == 405
    with_body = daifa.api.request("GET", path, headers={"Authorization": f"Bearer {payer.key}"}, content=b"{}")
    assert with_body.status_code == 200 and with_body.json()["id"] == plan["id"]


def test_an_address_refused_for_wrong_keys_is_refused_plan_reads_too(daifa: Daifa) -> None:
    payer, _payee, plan = daifa.recorded_plan(instalments=2)
    path = f"/v1/plans/{plan['id']}"
    limited = ApiSettings(rates=RateLimits(failed_authentication=RateLimit(3, 3_600)))
    with TestClient(create_app(daifa.platform, limited)) as api:
        assert api.get(path, headers={"Authorization": f"Bearer {payer.key}"}).status_code == 200
        for n in range(3):
            assert api.get(path, headers={"Authorization": f"Bearer dk_guess{n}"}).status_code == 401
        refused = api.get(path, headers={"Authorization": f"Bearer {payer.key}"})
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
