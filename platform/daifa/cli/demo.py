"""`daifa demo`: the command; the scenario is `daifa.demo`, imported when the command runs so that the
rest of the CLI starts without the platform's packages."""

from __future__ import annotations

from typing import Annotated

import typer

from daifa.cli.output import Settings


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    chain: Annotated[str, typer.Option(help="embedded (in process) or anvil (a temporary devnet)")] = "embedded",
    console: Annotated[
        bool, typer.Option("--console", help="then keep the server running for the web console, until Ctrl-C")
    ] = False,
) -> None:
    """Run the whole life of a monthly wage plan and print its timeline."""
    if chain not in ("embedded", "anvil"):
        raise typer.BadParameter("embedded or anvil", param_hint="--chain")
    from daifa import demo as scenario

    out: Settings = ctx.obj
    scenario.run(out, chain, console)
