"""`daifa demo --console`: after the demo the server keeps running with its data, says how to sign in,
and, development only, signs for the demo's parties: a newcomer signs in as the payer, then as the
payee, and signs the new plan in the browser without a wallet; the operator finds the waiting
application."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.e2e.browser import Visitor, chromium, sign_in_with_key


@pytest.fixture
def demo() -> Iterator[tuple[str, str]]:
    """The running demo's console address and its operator key."""
    process = subprocess.Popen(
        [sys.executable, "-m", "daifa.cli.main", "demo", "--console"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    try:
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stdout.readline())
        text = "".join(lines)
        address = re.search(r"open (http://127\.0\.0\.1:\d+)/console", text)
        key = re.search(r"operator API key (dk_\S+)", text)
        assert address and key, text
        yield address.group(1), key.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def test_the_demo_keeps_its_console_open_and_signs_for_its_parties(demo: tuple[str, str]) -> None:
    base_url, operator_key = demo
    with chromium() as browser:
        parties = []
        for name in ("Huadong Logistics", "Xinda Labour"):  # the payer signs the new plan first, then the payee
            party = Visitor(browser, base_url)  # no wallet: the demo signs
            page = party.go("/console/sign-in")
            with page.expect_navigation():
                page.get_by_role("button", name=re.compile(f"Sign in as {name}")).click()
            page.locator("section[aria-labelledby=sign-h] a").first.click()
            assert "a disbursement plan" in page.locator("h1").inner_text().lower()
            with page.expect_navigation():
                page.get_by_role("button", name="Sign with the demo key (development only)").click()
            assert "Signed." in page.locator("main").inner_text()
            parties.append(party)

        operator = Visitor(browser, base_url)
        page = sign_in_with_key(operator, operator_key)
        assert page.get_by_role("link", name="Nanhai Freight Co., Ltd.").is_visible()
        for visitor in (*parties, operator):
            assert visitor.problems == [] and visitor.foreign_requests() == []
