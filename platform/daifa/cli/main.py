"""`daifa`: the command line. Global options come first: `daifa --json party list`."""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer

import daifa.cli.demo as demo
import daifa.cli.node as node
import daifa.cli.verify as verify
import daifa.cli.wallet as wallet
import daifa.cli.work as work
from daifa.cli.output import Settings
from daifa.errors import DaifaError

app = typer.Typer(
    name="daifa",
    help="Daifa: escrowed pay-on-behalf disbursement. Start with `daifa demo`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def options(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    api_url: Annotated[str, typer.Option(envvar="DAIFA_API_URL", help="the platform's API")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(envvar="DAIFA_API_KEY", help="your API key")] = None,
) -> None:
    ctx.obj = Settings(json=json_output, debug=debug, api_url=api_url, api_key=api_key)


node.register(app)
wallet.register(app)
work.register(app)
verify.register(app)
demo.register(app)


def main() -> None:
    """The console script: errors the platform raises on purpose are one line saying what to do."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except DaifaError as error:
        if debug:
            raise
        typer.echo(f"error: {error.message}", err=True)
        sys.exit(1)
    except click.ClickException as usage:  # a wrong option or argument: click says which
        usage.show()
        sys.exit(usage.exit_code)
    except (click.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        typer.echo(f"error: {type(error).__name__}: {error} (run again with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
