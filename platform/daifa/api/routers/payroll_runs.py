"""Payroll runs: a payer's file of plans (CSV or JSON lines), checked whole, asked for at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, read_uploads, reading, transaction
from daifa.domain.payroll import MAX_FILE_BYTES, Funding
from daifa.services import payroll, payroll_funding, records
from daifa.store import models as m

router = APIRouter(prefix="/v1/payroll_runs", tags=["payroll runs"])


@router.post("", status_code=201, response_model=s.PayrollRunOut)
async def submit(
    request: Request,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="payroll.csv (a header line) or payroll.jsonl; see the README")],
    time_zone: Annotated[str, Form(max_length=64, description="the IANA time zone of the file's dates")] = "UTC",
    release_time: Annotated[str, Form(max_length=8, description="the time of day releases fall at")] = "09:00",
    funding: Annotated[
        Funding, Form(description="after_recording (deposit each plan once recorded) or at_recording (see below)")
    ] = Funding.AFTER_RECORDING,
) -> s.PayrollRunOut:
    """The payer's plans from one file: every row is checked against its product as a single plan is; a
    file with any refused row is refused whole, each row's line, field and reason listed, and nothing is
    kept. An accepted run (`creating`) becomes plans 100 rows at a time (`progress.asked`);
    the payer signs each plan (signature requests) and each payee confirms its own. With funding
    `at_recording`, the plans both signed wait for the payer's wallet to record and fund them in batches
    (`GET /v1/payroll_runs/{id}/funding`); otherwise the platform records each one."""
    [upload] = await read_uploads([file], MAX_FILE_BYTES)  # one byte past the limit: the check refuses it

    def check_then_accept() -> s.PayrollRunOut:
        with reading(request) as session:  # seconds for a large file: off the event loop, no write lock
            rows = payroll.check(session, ports(request), actor, upload, time_zone, release_time)
        with transaction(request) as session:
            run = payroll.accept(session, actor, upload, time_zone, release_time, funding, rows)
            return views.payroll_run(session, run)

    return await run_in_threadpool(check_then_accept)


@router.get("", response_model=s.Page[s.PayrollRunOut])
def list_runs(request: Request, actor: CurrentActor, page: Paginated) -> s.Page[s.PayrollRunOut]:
    with transaction(request) as session:
        return page.visible(session, actor, m.PayrollRun, lambda row: views.payroll_run(session, row))


@router.get("/{run_id}", response_model=s.PayrollRunOut)
def get_run(request: Request, actor: CurrentActor, run_id: str) -> s.PayrollRunOut:
    """The run with its progress: its plans by status, signed by the payer, recorded, funded."""
    with transaction(request) as session:
        return views.payroll_run(session, records.get_payroll_run(session, actor, run_id))


@router.get("/{run_id}/funding", response_model=s.RunFundingOut)
def funding(request: Request, actor: CurrentActor, run_id: str) -> s.RunFundingOut:
    """(payer, a run with funding `at_recording`) The transactions for the payer's wallet that record the
    run's plans both parties signed and fund every instalment of them: an approval if the allowance is
    short, then one recordPlansAndDeposit a batch of plans. Nothing changes until the wallet sends them; the
    plans then show as recorded and funded. Send them before `deadline`, and ask again for the rest
    (`has_more`) once they are mined: asked again before, the answer names the same plans."""
    with reading(request) as session:  # it only reads: the node's answers hold no write lock
        return views.run_funding(payroll_funding.prepare(session, ports(request), actor, run_id))
