"""The commands that run the platform itself (`serve`, `worker`, `operator-key`, `demo`). They need the
server's packages, which `pip install daifa` (the SDK, the wallet and the client commands) leaves out:
without them each command is still listed, and says what to install."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import typer

from daifa.errors import DaifaError

SERVER_PACKAGES = {"fastapi", "sqlalchemy", "alembic", "psycopg", "uvicorn", "starlette", "prometheus_client"}
DEVNET_PACKAGES = {"eth_tester", "eth", "py_evm"}
COMMANDS = {"daifa.cli.node": ("serve", "worker", "operator-key"), "daifa.cli.demo": ("demo",)}


def register(app: typer.Typer, module: str) -> None:
    """Registers the commands of `module` (one of COMMANDS), or stand-ins that say what to install."""
    try:
        importlib.import_module(module).register(app)
    except ModuleNotFoundError as missing:
        package = (missing.name or "").partition(".")[0]
        if package not in SERVER_PACKAGES | DEVNET_PACKAGES:
            raise
        for name in COMMANDS[module]:
            app.command(name, help=f"(needs {_extra(package)})", context_settings=_ANY_ARGS)(_missing(package))


_ANY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def _extra(package: str) -> str:
    return "daifa[devnet]" if package in DEVNET_PACKAGES else "daifa[server]"


def _missing(package: str) -> Callable[[], None]:
    def command() -> None:
        raise DaifaError(
            f"this command runs the platform, whose packages are not installed here ({package} is missing): "
            f"pip install '{_extra(package)}'"
        )

    return command
