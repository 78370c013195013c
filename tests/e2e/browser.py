"""Headless Chromium (Debian's package, driven by Playwright) for the console's tests, with a browser
wallet: an EIP-1193 `window.ethereum` whose requests go, as an extension's do, outside the page to a
signer, here anvil, which signs for its unlocked dev accounts (its own EIP-712 and EIP-191 code, not
the platform's). Also: every request the page makes is logged, screenshots are written as artifacts,
and axe-core (vendored from npm) checks each page's accessibility."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.chain_harness import Chain
from tests.needs import missing

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ENV = "DAIFA_TEST_CHROMIUM"  # make test sets it through scripts/chromium.sh
ARTIFACTS = Path(os.environ.get("DAIFA_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts")) / "console"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Without the background-networking flags Chromium calls Google's hosts at start, which this machine refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip

# anvil's dev accounts 1 and 2 (mnemonic "test test ... junk"): anvil signs for them itself.
ANVIL_KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)

# What the test wallet does, each by anvil: it signs and sends for its unlocked accounts.
WALLET_METHODS = frozenset(
    {"personal_sign", "eth_signTypedData_v4", "eth_sendTransaction", "eth_getTransactionReceipt", "eth_chainId"}
)
PROVIDER = """
window.ethereum = {
  isDaifaTestWallet: true,
  async request({ method, params }) {
    const answer = await window.__daifaWallet(method, params || []);
    if (answer.error) {
      const error = new Error(answer.error);
      error.code = 4001;
      throw error;
    }
    return answer.result;
  },
  on() {},
  removeListener() {},
};
"""


def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not path:
        missing("Chromium", f"set {CHROMIUM_ENV} (make test does, through scripts/chromium.sh)")
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Visitor:
    """One person's browser (its own cookies) with its own wallet at `address`, if it has one."""

    def __init__(self, browser: Any, base_url: str, chain: Chain | None = None, address: str | None = None) -> None:
        self.base_url = base_url
        self.context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []  # what the browser reported: CSP refusals, script errors
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console_message)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        if chain is not None and address is not None:
            self.page.expose_function("__daifaWallet", lambda method, params: _wallet(chain, address, method, params))
            self.context.add_init_script(PROVIDER)

    def _console_message(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def go(self, path: str) -> Any:
        self.page.goto(path)
        return self.page

    def foreign_requests(self) -> list[str]:
        """Requests over the network to any host but the platform's (the browser's own chrome:// and
        chrome-extension:// pages, its PDF viewer's, never leave the machine)."""
        own = urlsplit(self.base_url).netloc
        network = [url for url in self.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss", "ftp")]
        return [url for url in network if urlsplit(url).netloc != own]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def accessibility_problems(self) -> list[str]:
        """axe-core's serious and critical violations on the page, run inside it (evaluated by the
        DevTools protocol, so the page's CSP, which refuses any script not its own, does not stop it)."""
        violations = self.page.evaluate(
            AXE.read_text()
            + "\n;axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
            + ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            + ".map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')'))"
        )
        return list(violations)

    def close(self) -> None:
        self.context.close()


def _wallet(chain: Chain, address: str, method: str, params: list[Any]) -> dict[str, Any]:
    """The wallet's side of window.ethereum: it knows one account, and anvil signs and sends for it."""
    try:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [address]}
        if method in WALLET_METHODS:
            return {"result": chain.rpc(method, params)}
        return {"error": f"this wallet does not do {method}"}
    except Exception as error:  # the page sees the wallet's refusal, as from a real wallet
        return {"error": str(error)}


# ------------------------------------------------------------------------------ the console's forms


def submit(page: Any, button: str) -> None:
    """Presses a form's button from the keyboard (focus, Enter), as someone without a mouse does, and
    waits for the page the platform answers with (the form posts, the platform redirects)."""
    pressed = page.get_by_role("button", name=button, exact=True).first
    expect(pressed).to_be_enabled()  # a wallet's button waits for the page's script
    try:
        with page.expect_navigation():
            pressed.focus()
            page.keyboard.press("Enter")
    except Exception as error:  # what the page said instead (a script's status line)
        raise AssertionError(f"{button}: {page.url}: {page.locator('main').inner_text()}") from error
    refusal = page.locator("main [role=alert]")
    assert not refusal.count(), f"{button}: {page.url}: {refusal.first.inner_text()}"


def sign_in_with_key(visitor: Visitor, api_key: str) -> Any:
    """The operator's sign-in; the page it lands on (its review queue)."""
    page = visitor.go("/console/sign-in")
    page.get_by_label("Operator API key").fill(api_key)
    submit(page, "Sign in")
    return page


def sign_in_with_wallet(visitor: Visitor) -> None:
    page = visitor.go("/console/sign-in")
    submit(page, "Sign in with wallet")


def sign_everything(visitor: Visitor) -> int:
    """Signs, with the wallet, every request the home page lists; how many."""
    signed = 0
    page = visitor.go("/console")
    while (link := page.locator("section[aria-labelledby=sign-h] a").first).count():
        with page.expect_navigation():
            link.click()
        submit(page, "Sign with wallet")
        signed += 1
        page = visitor.go("/console")
    return signed
