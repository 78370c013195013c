"""`daifa verify plan <id>`: the plan and its documents hashed again here and checked against the chain."""

from __future__ import annotations

from typing import Annotated

import typer

from daifa.chain.client import http_web3
from daifa.cli.output import Settings
from daifa.devnet import Devnet
from daifa.sdk.verify import verify_plan

verify_app = typer.Typer(help="Check the platform's records against the chain yourself.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(verify_app, name="verify")


@verify_app.command("plan")
def plan(
    ctx: typer.Context,
    plan_id: str,
    rpc_url: Annotated[str | None, typer.Option(envvar="DAIFA_RPC_URL", help="the chain's node")] = None,
) -> None:
    """Recompute the plan's hashes and its documents' hashes; compare with the chain."""
    out: Settings = ctx.obj
    w3 = http_web3(rpc_url or Devnet.running_url())
    with out.client() as client:
        checks = verify_plan(client, w3, plan_id)
    failed = [c for c in checks if not c.ok]
    if out.json:
        out.rows([c.__dict__ for c in checks], ["what", "ok", "detail"])
    else:
        out.rows(
            [{"": "ok" if c.ok else "MISMATCH", "check": c.what, "detail": c.detail} for c in checks],
            ["", "check", "detail"],
        )
        out.say(f"{len(checks) - len(failed)} of {len(checks)} checks match the chain")
    if failed:
        raise typer.Exit(1)
