"""The web console: server-rendered pages over the same use cases as the REST API, under /console.

Parties sign in with their wallet (Sign-In with Ethereum), the operator with its API key; sessions are
httpOnly SameSite=Strict cookies with a CSRF token on every form. Every script, style and picture is
served from the package (static/), under a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from daifa.console import decisions, demo_signer, pages, signin
from daifa.console.web import HERE
from daifa.wallet import Wallet

PREFIX = "/console"


def install(app: FastAPI, demo_signers: Mapping[str, Wallet] | None = None) -> None:
    """Adds the console to `app`. `demo_signers` (development only, `daifa demo --console`): the demo
    parties' wallets by address, which the pages then offer to sign with."""
    app.state.demo_signers = dict(demo_signers or {})
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (signin, pages, decisions, *([demo_signer] if demo_signers else [])):
        app.include_router(module.router)
