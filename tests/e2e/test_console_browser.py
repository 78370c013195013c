"""The web console in headless Chromium, on anvil: the operator reviews a party's document inline and
approves it, the parties sign in with their wallets and sign everything in the browser (the wallet is
anvil, reached through an injected EIP-1193 provider), the payer funds, time passes, the release shows
on both timelines and statements, and the arbiter splits a dispute in token units. Every main page is
screenshotted and checked with axe-core; no page asks any host but the platform for anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_typing import HexStr

from daifa.api.app import create_app
from daifa.api.server import serving
from daifa.sdk.plans import instalment, monthly_plan, plan_request
from tests.e2e.browser import (
    ANVIL_KEYS,
    Visitor,
    chromium,
    sign_everything,
    sign_in_with_key,
    sign_in_with_wallet,
    submit,
)
from tests.e2e.harness import DAY, UNLIMITED, USD, Daifa, Party

pytestmark = pytest.mark.chains("anvil")


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def licence(holder: str) -> bytes:
    """A one-page business licence as a real PDF, so the review page shows it in the browser's viewer."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont("Helvetica-Bold", 20)
    page.drawString(72, 760, "Business licence")
    page.setFont("Helvetica", 13)
    for n, line in enumerate([f"Holder: {holder}", "Licence no. 91310000-MA1K4 (test)", "Valid until 2030-12-31"]):
        page.drawString(72, 720 - 22 * n, line)
    page.save()
    return out.getvalue()


def download(page: Any, link: str) -> bytes:
    """What the browser saves when the link is clicked."""
    with page.expect_download() as saved:
        page.get_by_role("link", name=link, exact=True).click()
    return Path(saved.value.path()).read_bytes()


def settle(daifa: Daifa) -> None:
    """The platform's background work, in a thread of its own: Playwright's sync API keeps an event loop
    running in this one, and the worker runs its own."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(daifa.settle).result()


def check_page(visitor: Visitor, name: str) -> None:
    visitor.screenshot(name)
    assert visitor.accessibility_problems() == [], name


def test_the_life_of_a_plan_in_the_browser(daifa: Daifa, browser: Any) -> None:
    wallets = [Account.from_key(k) for k in ANVIL_KEYS]
    applications = [
        daifa.apply(name, kind, address=wallet.address, content=licence(f"{name.title()} Ltd"))
        for name, kind, wallet in (("employer", "payer", wallets[0]), ("labour-firm", "payee", wallets[1]))
    ]
    payer, payee = (
        Party(n, w, a["api_key"], a["party"]["id"])
        for n, w, a in zip(("employer", "labour-firm"), wallets, applications, strict=True)
    )
    daifa.fund(payer, 1_000_000 * USD)

    with serving(create_app(daifa.platform, UNLIMITED)) as base_url:
        visitors = [
            operator := Visitor(browser, base_url, daifa.chain),
            employer := Visitor(browser, base_url, daifa.chain, payer.address),
            firm := Visitor(browser, base_url, daifa.chain, payee.address),
        ]
        page = operator.go("/console")
        assert page.url.endswith("/console/sign-in")
        check_page(operator, "sign-in")
        page = sign_in_with_key(operator, daifa.operator_key)
        assert page.get_by_role("heading", name="Parties waiting for review").is_visible()
        check_page(operator, "operator-review-queue")

        # The operator opens each applicant, sees its licence inline with its hash, and approves it.
        for party in (payer, payee):
            page = operator.go("/console")
            with page.expect_response(lambda r: "/console/documents/" in r.url) as shown:
                page.get_by_role("link", name=f"{party.name.title()} Ltd").click()
            assert shown.value.ok and shown.value.header_value("content-type") == "application/pdf"
            assert shown.value.header_value("content-security-policy").startswith("sandbox;")
            document = daifa.get(f"/v1/parties/{party.id}", daifa.operator_key)["documents"][0]
            assert page.get_by_text(document["hash"]).is_visible()
            if party is payer:
                page.wait_for_timeout(1500)  # the picture only: the PDF viewer draws the page after the load
                check_page(operator, "operator-party-review")
            page.get_by_label("Comment for the record").fill("licence checked in the console")
            submit(page, "Approve")
            assert "approved" in page.locator("dl.facts").inner_text()
        settle(daifa)
        assert daifa.get(f"/v1/parties/{payer.id}", payer.key)["status"] == "active"

        # The payee applies for the product; the operator approves it; the payer authorises credit;
        # both sign the three agreements in their browsers.
        # (A real PDF: on a file it cannot read, Chromium's PDF viewer opens an error dialog that takes the
        # keyboard's focus, and Enter then reloads the page.)
        product = daifa.apply_for_product(payer, payee, contract=licence("Staffing contract"))
        page = operator.go(f"/console/products/{product['id']}")
        check_page(operator, "operator-product-review")
        submit(page, "Approve")
        sign_in_with_wallet(employer)
        check_page(employer, "payer-home-new")
        page = employer.go(f"/console/products/{product['id']}")
        submit(page, "Authorise credit")
        sign_in_with_wallet(firm)
        assert sign_everything(employer) == 1
        assert sign_everything(firm) == 1
        settle(daifa)
        assert daifa.get(f"/v1/products/{product['id']}", payer.key)["status"] == "open"

        # The payer asks for a plan (API); both sign it in the browser, the payee reading every term.
        body = monthly_plan(product["id"], daifa.chain.now(), 100 * USD, 3, deposit_days_ahead=20, spare_months=3)
        plan = daifa.post("/v1/plans", payer.key, json=body, expect=201)
        assert sign_everything(employer) == 1
        page = firm.go("/console")
        page.locator("section[aria-labelledby=sign-h] a").first.click()
        terms = page.locator("table.terms").inner_text()
        assert "300.00 tUSD" in terms and "Employer Ltd" in terms and "arbiter" in terms
        check_page(firm, "payee-sign-plan")
        assert sign_everything(firm) == 1
        settle(daifa)
        assert daifa.get(f"/v1/plans/{plan['id']}", payer.key)["status"] == "recorded"

        # The payer funds all three instalments with its wallet.
        page = employer.go(f"/console/plans/{plan['id']}")
        submit(page, "Deposit with wallet")
        assert sign_everything(employer) >= 1
        settle(daifa)
        funded = daifa.get(f"/v1/plans/{plan['id']}", payer.key)
        assert [i["status"] for i in funded["instalments"]] == ["funded"] * 3
        page = employer.go("/console")
        assert page.locator("section[aria-labelledby=escrow-h] ul").inner_text() == "300.00 tUSD"
        check_page(employer, "payer-home-funded")

        # Time passes the first release: both timelines show it paid; both statements list it.
        daifa.chain.advance(funded["instalments"][0]["release_at"] - daifa.chain.now() + 60)
        settle(daifa)
        released = daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][0]
        assert released["status"] == "closed" and released["to_payee"] == str(100 * USD)
        for visitor, name in ((employer, "payer-plan"), (firm, "payee-plan")):
            page = visitor.go(f"/console/plans/{plan['id']}")
            first = page.locator("ol.timeline li").first.inner_text()
            assert "closed" in first and "100.00 tUSD to the payee" in first
            check_page(visitor, name)
            rows = list(csv.DictReader(io.StringIO(download(page, "CSV").decode())))
            kinds = [(r["kind"], r["amount"]) for r in rows]
            deposits = [("deposit", "100.000000")] * 3
            closing = [("release", "100.000000"), ("closing_balance", "200.000000")]
            assert kinds == [("opening_balance", "0.000000"), *deposits, *closing]
            assert all(r["transaction"].startswith("0x") and len(r["transaction"]) == 66 for r in rows[1:-1])
            assert download(page, "PDF").startswith(b"%PDF-")
        # The statement's release line names the transaction that paid it.
        receipt = daifa.chain.w3.eth.get_transaction_receipt(HexStr(rows[4]["transaction"]))
        assert receipt["status"] == 1 and receipt["to"] == daifa.escrow.address

        # The payee disputes the second instalment; the arbiter (the operator) splits it in tUSD.
        page = firm.go(f"/console/plans/{plan['id']}")
        page.locator("details summary", has_text="Dispute #1").click()
        page.get_by_label("Reason").first.fill("the December timesheets were not countersigned")
        submit(page, "Freeze and dispute")
        assert sign_everything(firm) == 1
        settle(daifa)
        page = operator.go("/console")
        page.locator("section[aria-labelledby=disputes-h] a").first.click()
        assert "the December timesheets were not countersigned" in page.locator("main").inner_text()
        check_page(operator, "operator-dispute")
        page.get_by_label("To the payee").fill("60.50")
        page.get_by_label("Note for both parties").fill("half the hours were countersigned later")
        submit(page, "Split")
        settle(daifa)
        split = daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"][1]
        assert (split["status"], split["to_payee"], split["to_payer"]) == ("closed", str(60_500_000), str(39_500_000))
        page = employer.go(f"/console/plans/{plan['id']}")
        assert "39.50 tUSD back to the payer" in page.locator("ol.timeline li").nth(1).inner_text()
        page = operator.go("/console/machinery")
        with page.expect_navigation():
            page.get_by_role("link", name="Check the database against the chain now").click()
        assert "The database agrees with the chain" in page.locator("main").inner_text()
        check_page(operator, "operator-machinery")
        page = firm.go("/console")
        check_page(firm, "payee-home")

        for visitor in visitors:
            assert f"{base_url}/console/static/console.css" in visitor.requests  # the log sees the page's requests
            assert visitor.foreign_requests() == []
            assert visitor.problems == []
            visitor.close()
    daifa.reconcile()


def test_a_token_without_permit_is_deposited_by_the_browser_wallets_transactions(daifa: Daifa) -> None:
    """USDT has no permit: the payer's wallet approves the escrow and sends the deposit itself, each
    transaction mined before the next, from the page. (The world is made before the browser starts:
    Playwright keeps an event loop running in this thread while it runs.)"""
    minter = daifa.chain.account("minter")
    token = daifa.chain.deploy("NoReturnToken", sender=minter)
    payer = daifa.onboard("employer", "payer", wallet=Account.from_key(ANVIL_KEYS[0]))
    payee = daifa.onboard("labour-firm", "payee", wallet=Account.from_key(ANVIL_KEYS[1]))
    daifa.chain.send(token.functions.mint(payer.address, 10_000 * USD), minter)
    product = daifa.open_product(payer, payee, token=token.address)
    body = {**monthly_plan(product["id"], daifa.chain.now(), 1_000 * USD, 2), "token": token.address}
    plan = daifa.agree_plan(payer, payee, body)

    with chromium() as browser, serving(create_app(daifa.platform, UNLIMITED)) as base_url:
        employer = Visitor(browser, base_url, daifa.chain, payer.address)
        sign_in_with_wallet(employer)
        page = employer.go(f"/console/plans/{plan['id']}")
        submit(page, "Deposit with wallet")
        assert "/console/actions/" in page.url
        steps = page.locator("main ol").inner_text()
        assert "let the escrow take the deposit" in steps and "the deposit" in steps
        check_page(employer, "payer-wallet-deposit")
        submit(page, "Send with wallet")
        assert page.url.endswith(f"/console/plans/{plan['id']}")
        settle(daifa)
        assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]] == ["funded"] * 2
        assert int(token.functions.balanceOf(daifa.escrow.address).call()) == 2_000 * USD
        assert employer.problems == [] and employer.foreign_requests() == []
        employer.close()
    daifa.reconcile()


def test_an_approval_and_delivered_materials_release_from_the_browser(daifa: Daifa) -> None:
    """The payer approves one wage, the payee delivers the timesheets of another and the operator attests
    them from its queue, each in the browser; when their times come both are paid."""
    payer = daifa.onboard("employer", "payer", wallet=Account.from_key(ANVIL_KEYS[0]))
    payee = daifa.onboard("labour-firm", "payee", wallet=Account.from_key(ANVIL_KEYS[1]))
    daifa.fund(payer, 10_000 * USD)
    product = daifa.open_product(payer, payee)
    now = daifa.chain.now()
    body = plan_request(
        product["id"],
        now + 200 * DAY,
        [
            instalment(now + 10 * DAY, now + 30 * DAY, 500 * USD, "payer_approval"),
            instalment(now + 10 * DAY, now + 40 * DAY, 700 * USD, "materials", required_materials=["timesheets"]),
        ],
    )
    plan = daifa.agree_plan(payer, payee, body)
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0, 1]}, expect=201)
    daifa.sign_pending(payer)
    daifa.settle()

    with chromium() as browser, serving(create_app(daifa.platform, UNLIMITED)) as base_url:
        firm = Visitor(browser, base_url, daifa.chain, payee.address)
        sign_in_with_wallet(firm)
        page = firm.go(f"/console/plans/{plan['id']}")
        page.get_by_label("Materials for #1").set_input_files(
            files=[{"name": "timesheets.pdf", "mimeType": "application/pdf", "buffer": licence("Timesheets, March")}]
        )
        submit(page, "Deliver")
        assert sign_everything(firm) == 1
        settle(daifa)

        operator = Visitor(browser, base_url)
        page = sign_in_with_key(operator, daifa.operator_key)
        page.locator("section[aria-labelledby=materials-h] a").first.click()
        submit(page, "Attest materials #1")
        settle(daifa)

        employer = Visitor(browser, base_url, daifa.chain, payer.address)
        sign_in_with_wallet(employer)
        page = employer.go(f"/console/plans/{plan['id']}")
        submit(page, "Approve release #0")
        assert "/console/signature_requests/" in page.url  # the approval, for the payer's wallet to sign
        assert sign_everything(employer) == 1
        settle(daifa)
        daifa.chain.advance(45 * DAY)
        settle(daifa)
        paid = daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]
        assert [(i["status"], i["to_payee"]) for i in paid] == [("closed", str(500 * USD)), ("closed", str(700 * USD))]
        for visitor in (firm, operator, employer):
            assert visitor.problems == [] and visitor.foreign_requests() == []
            visitor.close()
    daifa.reconcile()
