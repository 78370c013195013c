"""Payroll runs: a payer's file of plans (CSV or JSON lines), checked whole, asked for at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, read_uploads, reading, transaction
from daifa.domain.payroll import MAX_FILE_BYTES
from daifa.services import payroll, records
from daifa.store import models as m

router = APIRouter(prefix="/v1/payroll_runs", tags=["payroll runs"])


@router.post("", status_code=201, response_model=s.PayrollRunOut)
async def submit(
    request: Request,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="payroll.csv (a header line) or payroll.jsonl; see the README")],
    time_zone: Annotated[str, Form(max_length=64, description="the IANA time zone of the file's dates")] = "UTC",
    release_time: Annotated[str, Form(max_length=8, description="the time of day releases fall at")] = "09:00",
) -> s.PayrollRunOut:
    """The payer's plans from one file: every row is checked against its product as a single plan is; a
    file with any refused row is refused whole, each row's line, field and reason listed, and nothing is
    kept. An accepted run (`creating`) becomes plans 100 rows at a time (`progress.asked`);
    the payer signs each plan (signature requests) and each payee confirms its own."""
    [upload] = await read_uploads([file], MAX_FILE_BYTES)  # one byte past the limit: the check refuses it

    def check_then_accept() -> s.PayrollRunOut:
        with reading(request) as session:  # seconds for a large file: off the event loop, no write lock
            rows = payroll.check(session, ports(request), actor, upload, time_zone, release_time)
        with transaction(request) as session:
            return views.payroll_run(session, payroll.accept(session, actor, upload, time_zone, release_time, rows))

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
