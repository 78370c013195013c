"""`daifa payroll`: a payer's file of plans submitted at once, and its progress."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from daifa import wire as s
from daifa.cli.output import Settings
from daifa.errors import InvalidInput

payroll_app = typer.Typer(help="Payroll runs: a file of plans at once, and how far they got.", no_args_is_help=True)
RUN_COLUMNS = ["id", "status", "filename", "rows", "time_zone", "error", "created"]
STAGES = ("asked", "signed_by_payer", "recorded", "funded")


def register(app: typer.Typer) -> None:
    app.add_typer(payroll_app, name="payroll")


@payroll_app.command("submit")
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="payroll.csv (a header line) or payroll.jsonl", exists=True)],
    time_zone: Annotated[str, typer.Option(help="the IANA time zone of the file's dates")] = "UTC",
    release_time: Annotated[str, typer.Option(help="the time of day releases fall at")] = "09:00",
) -> None:
    """(payer) Ask for every plan in FILE at once; a file with any refused row is refused whole, and each
    refused row is listed with its line, field and reason. Then sign them with `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        try:
            run = client.submit_payroll(file, time_zone, release_time)
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
