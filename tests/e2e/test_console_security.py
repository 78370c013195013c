"""The console faces the internet like the API: its sessions' cookie flags and headers, CSRF refused,
sign-in messages checked field by field and never used twice, sessions that end, and no page or action
of one party reachable by another, refused as the API refuses the same thing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import update

from daifa.services import housekeeping
from daifa.store import models as m
from daifa.store.models import utcnow
from tests.e2e.console_client import ORIGIN, as_operator, as_party, browser, csrf_of, sign_in_message, signed
from tests.e2e.harness import PDF, Daifa, Party

pytestmark = [pytest.mark.chains("eth-tester"), pytest.mark.databases("sqlite", "postgresql")]


@pytest.fixture
def world(daifa: Daifa) -> tuple[Party, Party, dict[str, Any]]:
    return daifa.recorded_plan()


def test_the_session_cookie_is_httponly_strict_and_secure_and_pages_lock_the_browser_down(
    daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]
) -> None:
    payer, _, _ = world
    client = browser(daifa)
    answer = client.post("/console/sign-in/key", data={"api_key": daifa.operator_key}, headers={"Origin": ORIGIN})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("daifa_console=")
    flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags
    token = cookie.split(";")[0].split("=", 1)[1]
    with daifa.platform.sessions() as session:  # only the token's hash is kept
        assert all(token not in row.token_hash for row in session.query(m.ConsoleSession))

    page = client.get(f"/console/parties/{payer.id}")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "form-action 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    # Every script and style the pages name is the platform's own.
    for source in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        assert source.startswith("/console") or source == "data:,", source
    document = re.search(r'src="(/console/documents/doc_\d+)"', page.text)
    assert document is not None
    shown = client.get(document.group(1))
    assert shown.status_code == 200 and shown.content.startswith(PDF)
    assert shown.headers["content-security-policy"].startswith("sandbox;")
    assert shown.headers["content-disposition"].startswith("inline;")


def test_a_form_without_the_sessions_csrf_token_or_from_another_site_changes_nothing(daifa: Daifa) -> None:
    applicant = daifa.apply("carrier", "payee")["party"]["id"]
    operator, other = as_operator(daifa), as_operator(daifa)
    token, others = csrf_of(operator), csrf_of(other)
    assert token != others
    action = f"/console/parties/{applicant}/approve"
    attempts = [
        ({"comment": "no token"}, {"Origin": ORIGIN}),
        ({"comment": "wrong", "csrf_token": "0" * 64}, {"Origin": ORIGIN}),
        ({"comment": "another session's", "csrf_token": others}, {"Origin": ORIGIN}),
        ({"comment": "from elsewhere", "csrf_token": token}, {"Origin": "https://evil.example"}),
    ]
    for form, headers in attempts:
        answer = operator.post(action, data=form, headers=headers)
        assert answer.status_code == 403, (form, answer.text)
        assert daifa.get(f"/v1/parties/{applicant}", daifa.operator_key)["status"] == "submitted"
    malformed = operator.post(f"/console/parties/{applicant}/promote", data={"csrf_token": token})
    assert malformed.status_code == 422 and malformed.headers["content-type"].startswith("text/html")
    assert "decision" in malformed.text
    answer = operator.post(action, data={"comment": "licence checked", "csrf_token": token}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    assert daifa.get(f"/v1/parties/{applicant}", daifa.operator_key)["status"] == "approved"


def test_a_party_reaches_nothing_of_another_as_the_api_refuses_it(
    daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]
) -> None:
    payer, payee, plan = world
    outsider = daifa.onboard("rival-carrier", "payee")
    client = as_party(daifa, outsider)
    token = csrf_of(client)
    product = plan["product"]
    document = daifa.get(f"/v1/parties/{payer.id}", payer.key)["documents"][0]["id"]
    request = daifa.get("/v1/signature_requests?limit=1", payer.key)["data"][0]["id"]
    action = daifa.get(f"/v1/actions?plan={plan['id']}", payer.key)["data"][0]["id"]
    # (console page or form, the API's request for the same thing): both refused alike.
    reads = [
        (f"/console/parties/{payer.id}", f"/v1/parties/{payer.id}"),
        (f"/console/products/{product}", f"/v1/products/{product}"),
        (f"/console/plans/{plan['id']}", f"/v1/plans/{plan['id']}"),
        (f"/console/actions/{action}", f"/v1/actions/{action}"),
        (f"/console/signature_requests/{request}", f"/v1/signature_requests/{request}"),
        (f"/console/documents/{document}", f"/v1/documents/{document}/content"),
        (f"/console/statements/{plan['id']}.csv", f"/v1/plans/{plan['id']}"),
        ("/console/machinery", "/v1/transactions"),
    ]
    api_headers = {"Authorization": f"Bearer {outsider.key}"}
    for page, api in reads:
        api_status = daifa.api.get(api, headers=api_headers).status_code
        console_status = client.get(page).status_code
        assert api_status in (403, 404) and console_status == api_status, (page, console_status, api_status)
    writes = [
        (
            f"/console/plans/{plan['id']}/deposits",
            {"indices": "0"},
            f"/v1/plans/{plan['id']}/deposits",
            {"indices": [0]},
        ),
        (f"/console/plans/{plan['id']}/instalments/0/approve", {}, f"/v1/plans/{plan['id']}/instalments/0/approve", {}),
        (f"/console/parties/{payee.id}/reject", {"comment": "x"}, f"/v1/parties/{payee.id}/reject", {"reason": "x"}),
        (f"/console/actions/{action}/resolve", {"to_payee": "1"}, f"/v1/actions/{action}/resolve", {"to_payee": "1"}),
    ]
    before = daifa.count(m.PlanAction), daifa.count(m.SignatureRequest)
    for page, form, api, body in writes:
        console_status = client.post(page, data={**form, "csrf_token": token}, headers={"Origin": ORIGIN}).status_code
        api_status = daifa.api.post(api, json=body, headers={**api_headers, "Idempotency-Key": page}).status_code
        assert api_status in (403, 404) and console_status == api_status, (page, console_status, api_status)
    assert (daifa.count(m.PlanAction), daifa.count(m.SignatureRequest)) == before


def test_a_sign_in_message_is_checked_field_by_field_and_opens_one_session(
    daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]
) -> None:
    payer, _, _ = world
    client = browser(daifa)
    message = sign_in_message(client, payer.address)
    assert f"Chain ID: {daifa.chain.w3.eth.chain_id}\n" in message and "URI: https://testserver/console\n" in message

    def refused(text: str, signature: str | None = None, status: int = 401) -> str:
        answer = client.post(
            "/console/sign-in/wallet", json={"message": text, "signature": signature or signed(text, payer.wallet)}
        )
        assert answer.status_code == status, answer.text
        return str(answer.text)

    chain_id = daifa.chain.w3.eth.chain_id
    assert "chain" in refused(message.replace(f"Chain ID: {chain_id}", f"Chain ID: {chain_id + 1}"))
    assert "not for this console" in refused(message.replace("testserver wants", "evil.example wants", 1))
    assert "nonce" in refused(re.sub(r"Nonce: \w+", "Nonce: " + "a" * 32, message))
    assert "not made by" in refused(message, signed(message, Account.create()))
    past = re.sub(r"Issued At: \S+", "Issued At: 2020-01-01T00:00:00.000Z", message)
    assert "expired" in refused(re.sub(r"Expiration Time: \S+", "Expiration Time: 2020-01-01T00:10:00.000Z", past))
    assert "times" in refused(re.sub(r"Expiration Time: \S+", "Expiration Time: 2999-01-01T00:00:00.000Z", message))
    stranger = Account.create()
    strangers = sign_in_message(client, stranger.address)
    assert "apply" in refused(strangers, signed(strangers, stranger), status=403)

    message = sign_in_message(client, payer.address)
    first = client.post(
        "/console/sign-in/wallet", json={"message": message, "signature": signed(message, payer.wallet)}
    )
    assert first.status_code == 200
    # Another browser given the same nonce (say, an eavesdropper's) posts the same signed message.
    nonce = message.split("Nonce: ")[1].split("\n")[0]
    again = browser(daifa)
    again.cookies.set("daifa_sign_in", nonce, path="/console/sign-in")
    replay = again.post(
        "/console/sign-in/wallet", json={"message": message, "signature": signed(message, payer.wallet)}
    )
    assert replay.status_code == 401 and "already used" in replay.text


def test_a_session_ends_on_sign_out_when_idle_and_with_its_operator_key(
    daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]
) -> None:
    payer, _, _ = world
    client = as_party(daifa, payer)
    assert client.get("/console").status_code == 200
    answer = client.post("/console/sign-out", data={"csrf_token": csrf_of(client)}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    assert client.get("/console").headers.get("location") == "/console/sign-in"
    # A day after it ended, housekeeping removes the signed-out session's row.
    assert daifa.count(m.ConsoleSession) == 1
    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.ConsoleSession).values(expires_at=utcnow() - timedelta(days=1, minutes=1)))
    housekeeping.purge(daifa.platform.sessions)
    assert daifa.count(m.ConsoleSession) == 0

    idle = as_party(daifa, payer)
    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    assert idle.get("/console").headers.get("location") == "/console/sign-in"

    key = daifa.post("/v1/api_keys", daifa.operator_key, json={"label": "a clerk's console"})
    operator = browser(daifa)
    answer = operator.post("/console/sign-in/key", data={"api_key": key["secret"]}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    assert operator.get("/console/machinery").status_code == 200
    daifa.post(f"/v1/api_keys/{key['id']}/revoke", daifa.operator_key)
    assert operator.get("/console/machinery").headers.get("location") == "/console/sign-in"


def test_a_party_key_is_refused_at_the_operators_door(daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]) -> None:
    payer, _, _ = world
    client = browser(daifa)
    answer = client.post("/console/sign-in/key", data={"api_key": payer.key}, headers={"Origin": ORIGIN})
    assert answer.status_code == 403 and "wallet" in answer.text
    answer = client.post("/console/sign-in/key", data={"api_key": "dk_wrong"}, headers={"Origin": ORIGIN})
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers


def test_a_contract_wallet_signs_in_with_its_owners_signature_as_erc_1271_accepts_it(daifa: Daifa) -> None:
    owner = Account.create()
    operator = daifa.chain.account("platform-operator")
    accepting = daifa.chain.deploy("MockERC1271Wallet", owner.address, True, sender=operator)
    refusing = daifa.chain.deploy("MockERC1271Wallet", owner.address, False, sender=operator)
    for wallet in (accepting, refusing):
        application = daifa.apply("treasury", "payer", address=wallet.address)
        daifa.post(f"/v1/parties/{application['party']['id']}/approve", daifa.operator_key, json={"comment": "ok"})
    daifa.settle()

    for wallet, status in ((accepting, 200), (refusing, 401)):
        client = browser(daifa)
        message = sign_in_message(client, wallet.address)
        answer = client.post("/console/sign-in/wallet", json={"message": message, "signature": signed(message, owner)})
        assert answer.status_code == status, answer.text


def test_the_arbiters_split_takes_only_a_plain_amount_in_token_units(
    daifa: Daifa, world: tuple[Party, Party, dict[str, Any]]
) -> None:
    _, payee, plan = world
    dispute = daifa.post(
        f"/v1/plans/{plan['id']}/instalments/0/disputes", payee.key, data={"reason": "hours missing"}, expect=201
    )
    daifa.sign_pending(payee)
    daifa.settle()
    operator = as_operator(daifa)
    token = csrf_of(operator)
    resolutions = daifa.count(m.PlanAction, m.PlanAction.kind == "resolution")
    # An exponent would have the platform build a billion-digit integer; infinity and NaN are no amounts.
    for typed in ("1e999999999", "Infinity", "NaN", "-5", "60.1234567", "sixty"):
        answer = operator.post(
            f"/console/actions/{dispute['id']}/resolve",
            data={"to_payee": typed, "csrf_token": token},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 422 and "to_payee" in answer.text, (typed, answer.text)
    assert daifa.count(m.PlanAction, m.PlanAction.kind == "resolution") == resolutions
    answer = operator.post(
        f"/console/actions/{dispute['id']}/resolve",
        data={"to_payee": "60.50", "csrf_token": token},
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 303
    assert daifa.count(m.PlanAction, m.PlanAction.kind == "resolution") == resolutions + 1
