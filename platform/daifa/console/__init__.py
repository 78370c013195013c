"""The web console: server-rendered pages over the same use cases as the REST API, under /console.

Parties sign in with their wallet (Sign-In with Ethereum), the operator with its API key; sessions are
httpOnly SameSite=Strict cookies with a CSRF token on every form. Every script, style and picture is
served from the package (static/), under a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from daifa.console import decisions, pages, signin
from daifa.console.web import HERE

PREFIX = "/console"


def install(app: FastAPI, demo: bool = False) -> None:
    """Adds the console to `app`. `demo`: the pages offer the demo's development-only signer."""
    app.state.console_demo = demo
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (signin, pages, decisions):
        app.include_router(module.router)
