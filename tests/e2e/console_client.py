"""The console as a browser sees it, for the tests that need no real browser: starlette's test client
over HTTPS (the session cookie is Secure), signing in with the operator's key or a party's wallet."""

from __future__ import annotations

import re
from typing import Any

from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from tests.e2e.harness import Daifa, Party

ORIGIN = "https://testserver"


def browser(daifa: Daifa) -> TestClient:
    """A browser of the console: its own cookies, over HTTPS (the session cookie is Secure)."""
    return TestClient(daifa.api.app, base_url=ORIGIN, follow_redirects=False)


def as_operator(daifa: Daifa) -> TestClient:
    client = browser(daifa)
    answer = client.post("/console/sign-in/key", data={"api_key": daifa.operator_key}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text
    return client


def sign_in_message(client: TestClient, address: str) -> str:
    answer = client.post("/console/sign-in/wallet/message", json={"address": address}, headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["message"])


def signed(message: str, wallet: Any) -> str:
    return "0x" + str(wallet.sign_message(encode_defunct(text=message)).signature.hex())


def as_party(daifa: Daifa, party: Party) -> TestClient:
    client = browser(daifa)
    message = sign_in_message(client, party.address)
    answer = client.post(
        "/console/sign-in/wallet", json={"message": message, "signature": signed(message, party.wallet)}
    )
    assert answer.status_code == 200, answer.text
    return client


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, read from its home page."""
    page = client.get("/console")
    assert page.status_code == 200, page.text
    return form_token(page.text)


def form_token(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)
