"""`daifa`: the command line. `--json` and `--debug` may stand anywhere: `daifa party list --json`.

Exit codes: 0 done, 1 refused (the platform or the chain said no, or a check failed), 2 a usage error (a
wrong option or argument), 3 a service that did not answer (the API, the node, a signer), 130 aborted.
Under --json an error is a JSON object on stderr: {"error": {"code", "message", "status"}}.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import daifa.cli.devnet as devnet
import daifa.cli.payroll as payroll
import daifa.cli.safe as safe
import daifa.cli.verify as verify
import daifa.cli.wallet as wallet
import daifa.cli.work as work
from daifa.cli import platform_commands
from daifa.cli.output import Settings
from daifa.errors import DaifaError, Unavailable

GLOBAL_FLAGS = ("--json", "--debug")


class _AnywhereFlags(TyperGroup):
    """Takes --json and --debug wherever they are given and reads them as the global options they are."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        flags = [a for a in args if a in GLOBAL_FLAGS]
        return super().parse_args(ctx, [*dict.fromkeys(flags), *(a for a in args if a not in GLOBAL_FLAGS)])


app = typer.Typer(
    name="daifa",
    cls=_AnywhereFlags,
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


devnet.register(app)
platform_commands.register(app, "daifa.cli.node")
safe.register(app)
wallet.register(app)
work.register(app)
payroll.register(app)
verify.register(app)
platform_commands.register(app, "daifa.cli.demo")


REFUSED, USAGE, UNREACHABLE, ABORTED = 1, 2, 3, 130


def main() -> None:
    """The console script: an error is one line saying what to do (JSON under --json), and the exit code
    says what kind it was."""
    debug, as_json = "--debug" in sys.argv, "--json" in sys.argv
    try:
        returned = app(standalone_mode=False)  # a command's typer.Exit comes back as its code
        if isinstance(returned, int) and returned:
            sys.exit(returned)
    except typer.Exit as done:  # a command's own exit code (a reconciliation that disagrees: 1)
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail(as_json, ABORTED, "aborted", "aborted", None)
    except typer.TyperException as usage:  # a wrong option or argument (typer's click): it says which
        message = usage.format_message() if hasattr(usage, "format_message") else str(usage)
        _fail(as_json, int(getattr(usage, "exit_code", USAGE)), "usage", message, None, getattr(usage, "show", None))
    except Exception as error:
        if debug:
            raise
        code, message, status = _explain(error)
        _fail(as_json, UNREACHABLE if _unreachable(error) else REFUSED, code, message, status)


def _explain(error: Exception) -> tuple[str, str, int | None]:
    if isinstance(error, DaifaError):
        return error.code, error.message, error.http_status if error.problem is not None else None
    return "error", f"{type(error).__name__}: {error} (run again with --debug for the traceback)", None


def _unreachable(error: Exception) -> bool:
    return isinstance(error, Unavailable) or (
        isinstance(error, DaifaError) and error.problem is not None and error.http_status in (502, 503, 504)
    )


def _fail(as_json: bool, exit_code: int, code: str, message: str, status: int | None, show: Any = None) -> None:
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message, "status": status}}), err=True)
    elif show is not None:
        show()
    else:
        typer.echo(f"error: {message}" if code != "aborted" else message, err=True)
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
