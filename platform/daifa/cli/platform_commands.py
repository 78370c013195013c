"""The commands that run the platform itself (`serve`, `worker`, `operator-key`, `demo`). They need the
server's packages, which `pip install daifa` (the SDK, the wallet and the client commands) leaves out:
without them each command is still listed, and says what to install. Their modules import the platform
only when a command runs, so every other command starts without it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

import typer

from daifa.errors import DaifaError

SERVER_PACKAGES = {"fastapi", "sqlalchemy", "alembic", "psycopg", "uvicorn", "starlette", "prometheus_client"}
COMMANDS = {"daifa.cli.node": ("serve", "worker", "operator-key"), "daifa.cli.demo": ("demo",)}


def register(app: typer.Typer, module: str) -> None:
    """Registers the commands of `module` (one of COMMANDS), or stand-ins that say what to install."""
    package = next((p for p in sorted(SERVER_PACKAGES) if importlib.util.find_spec(p) is None), None)
    if package is None:
        importlib.import_module(module).register(app)
        return
    for name in COMMANDS[module]:
        app.command(name, help="(needs daifa[server])", context_settings=_ANY_ARGS)(_missing(package))


_ANY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def _missing(package: str) -> Callable[[], None]:
    def command() -> None:
        raise DaifaError(
            f"this command runs the platform, whose packages are not installed here ({package} is missing): "
            "pip install 'daifa[server]'"
        )

    return command
