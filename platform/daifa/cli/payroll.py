"""`daifa payroll`: a payer's file of plans submitted at once, and its progress."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from daifa import wire as s
from daifa.chain.client import http_web3
from daifa.cli.output import Settings
from daifa.cli.wallet import open_wallet
from daifa.devnet import Devnet
from daifa.errors import DaifaError, InvalidInput

payroll_app = typer.Typer(help="Payroll runs: a file of plans at once, and how far they got.", no_args_is_help=True)
RUN_COLUMNS = ["id", "status", "filename", "rows", "time_zone", "funding", "error", "created"]
STAGES = ("asked", "signed_by_payer", "recorded", "funded")


def register(app: typer.Typer) -> None:
    app.add_typer(payroll_app, name="payroll")


@payroll_app.command("submit")
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="payroll.csv (a header line) or payroll.jsonl", exists=True)],
    time_zone: Annotated[str, typer.Option(help="the IANA time zone of the file's dates")] = "UTC",
    release_time: Annotated[str, typer.Option(help="the time of day releases fall at")] = "09:00",
    funding: Annotated[
        str,
        typer.Option(
            help="after_recording (the platform records each plan; deposit later) or at_recording (your wallet "
            "records and funds the signed plans: `daifa payroll fund`)"
        ),
    ] = "after_recording",
) -> None:
    """(payer) Ask for every plan in FILE at once; a file with any refused row is refused whole, and each
    refused row is listed with its line, field and reason. Then sign them with `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        try:
            run = client.submit_payroll(file, time_zone, release_time, funding)
        except InvalidInput as refused:
            rows = [{"line": p.line, "field": p.field, "reason": p.message} for p in refused.problems]
            out.rows(rows, ["line", "field", "reason"], title=f"{len(rows)} problems: nothing was kept")
            raise typer.Exit(1) from None
    _show(out, run)


@payroll_app.command("show")
def show(
    ctx: typer.Context,
    run_id: str,
    wait: Annotated[
        bool, typer.Option(help="show progress bars until every plan is funded (or the run stopped)")
    ] = False,
    every: Annotated[float, typer.Option(help="seconds between looks, with --wait")] = 2.0,
) -> None:
    """A run and how many of its plans the payer signed, the chain recorded and the payer funded."""
    out: Settings = ctx.obj
    with out.client() as client:
        run = client.get_payroll_run(run_id)
        if wait and not out.json:
            with Progress(TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn()) as bars:
                tasks = {stage: bars.add_task(stage.replace("_", " "), total=run.rows) for stage in STAGES}
                while True:
                    for stage, task in tasks.items():
                        bars.update(task, completed=getattr(run.progress, stage))
                    if run.progress.funded >= run.rows or run.status == "stopped":
                        break
                    time.sleep(every)
                    run = client.get_payroll_run(run_id)
    _show(out, run)


@payroll_app.command("fund")
def fund(
    ctx: typer.Context,
    run_id: str,
    send: Annotated[bool, typer.Option(help="send them from --wallet through the node, in order")] = False,
    wallet: Annotated[
        Path | None, typer.Option(envvar="DAIFA_WALLET", exists=True, help="your keystore, with --send")
    ] = None,
    rpc_url: Annotated[
        str | None, typer.Option(envvar="DAIFA_RPC_URL", help="the chain's node, with --send; the devnet's by default")
    ] = None,
) -> None:
    """(payer, a run submitted with --funding at_recording) The transactions your wallet sends to record
    and fund the run's plans both sides signed: shown, or sent with --send. Send them in order before the
    deadline; then ask again for the rest (has_more)."""
    out: Settings = ctx.obj
    with out.client() as client:
        funding = client.payroll_funding(run_id)
    if send:
        if wallet is None:
            raise DaifaError("--send signs with your keystore: give --wallet (or set DAIFA_WALLET)")
        payer = open_wallet(wallet)
        w3 = http_web3(rpc_url or Devnet.running_url())
        for tx in funding.transactions:
            sent = payer.send(w3, tx.to, tx.data)
            out.say(f"sent {tx.description}: {sent}", transaction=sent)
        return
    if out.json:
        out.record(funding)
        return
    out.record(funding, ["run", "token", "value", "deadline", "has_more"])
    out.rows([tx.model_dump() for tx in funding.transactions], ["description", "to", "data"], title="send in order")


@payroll_app.command("list")
def list_runs(ctx: typer.Context) -> None:
    """Your payroll runs, newest first (every run, for the operator)."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.rows(client.list_payroll_runs(), RUN_COLUMNS)


def _show(out: Settings, run: s.PayrollRunOut) -> None:
    if out.json:
        out.record(run)
        return
    out.record(run, RUN_COLUMNS)
    stages = [
        {"stage": stage.replace("_", " "), "plans": f"{getattr(run.progress, stage)} of {run.rows}"} for stage in STAGES
    ]
    out.rows(stages, ["stage", "plans"], title="progress")
