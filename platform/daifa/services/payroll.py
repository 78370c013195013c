"""Payroll runs: a payer submits a file of plans at once (daifa.domain.payroll says its format).

Every row is checked against its product as a single plan request is, reading only, so a large file holds
no write lock while it is checked; a run with any refused row is refused whole, naming each row's line,
field and reason, and nothing of it is kept (correct the file and send it again). An accepted run is
kept with its file, and the worker asks for its plans CHUNK rows a transaction (`create_plans`), so no
transaction of a 10,000-row run holds the database for long and a crash loses nothing: the run says how
many rows became plans. A row that no longer passes when its turn comes (its product closed, its limit
taken meanwhile) stops the run there, with the reason (`payroll_run.stopped`): its first `created_plans`
rows are plans (earlier chunks'), the others are not. The payer signs each plan, each payee confirms its
own; daifa.services.payroll_progress counts them through signing, recording and funding."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daifa.domain import payroll
from daifa.domain.onboarding import PartyStatus
from daifa.domain.payroll import DAY, Funding, PayrollRow, RunSchedule, RunStatus, to_units
from daifa.domain.products import ProductStatus
from daifa.errors import DaifaError, InvalidInput, Problem
from daifa.services import payroll_progress, plans, records
from daifa.services.context import Actor, Ports, Role
from daifa.services.documents import Upload
from daifa.services.notifications import emit
from daifa.services.plans import InstalmentRequest, PlanRequest
from daifa.store import models as m

# Rows a worker turn makes plans of, in one transaction: measured at 10,000 rows, at most 1.2 s on SQLite
# and 2.6 s on PostgreSQL (the write lock SQLite's relayer and indexer wait for).
CHUNK = 100
SPARE_DAYS = 60  # a run's plan expires this long after its last release, or with its product if sooner


def check(session: Session, ports: Ports, actor: Actor, upload: Upload, time_zone: str, release_time: str) -> int:
    """The number of rows, once every row passed the checks a plan request gets (writing nothing); else
    InvalidInput listing every refused row's line, field and reason."""
    actor.require_party()
    rows, problems = payroll.parse(upload.filename, upload.data, RunSchedule.parse(time_zone, release_time))
    products = _open_products(session, actor)
    now = ports.chain.now()
    taken: dict[int, int] = defaultdict(int)  # per product: what the rows before take of its limit
    for row in rows:  # the rows that read well are checked too: one answer lists every refused row
        try:
            product = products.of(row)
            request = _plan_request(ports, row, product)
            checked = plans.check_request(session, ports, actor, request, now, committed=taken[product.id])
        except DaifaError as error:
            problems += _located(row.line, error)
            continue
        taken[product.id] += checked.total
    if problems:
        raise InvalidInput(sorted(problems, key=lambda p: p.line or 0))
    return len(rows)


def accept(
    session: Session, actor: Actor, upload: Upload, time_zone: str, release_time: str, funding: Funding, rows: int
) -> m.PayrollRun:
    """Keeps a checked run for the worker to make plans of."""
    payer_id = actor.require_party()
    run = m.PayrollRun(
        payer_id=payer_id,
        status=RunStatus.CREATING,
        filename=upload.filename[:200],
        rows=rows,
        created_plans=0,
        time_zone=time_zone,
        release_time=release_time,
        funding=funding,
        file=upload.data,
        file_hash=keccak(upload.data),
    )
    session.add(run)
    session.flush()
    emit(session, "payroll_run.created", records.public_id(m.PayrollRun, run.id), {"rows": rows}, [payer_id])
    return run


def create_plans(
    sessions: sessionmaker[Session], readers: sessionmaker[Session], ports: Ports, chunk: int = CHUNK
) -> int:
    """Asks for the plans of the next `chunk` rows of the oldest run still being created, in one
    transaction; how many it asked for. A row refused now stops the run (in a transaction of its own).
    It runs every worker turn, so it asks a read-only session first and takes the write lock only when a
    run is being created."""
    with readers() as session:
        creating = select(m.PayrollRun.id).where(m.PayrollRun.status == RunStatus.CREATING).limit(1)
        if session.execute(creating).first() is None:
            return 0
    now = ports.chain.now()  # before the write transaction: a slow node must not hold the write lock
    try:
        with sessions.begin() as session:
            query = (
                select(m.PayrollRun).where(m.PayrollRun.status == RunStatus.CREATING).order_by(m.PayrollRun.id).limit(1)
            )
            run = session.scalars(query.with_for_update(skip_locked=True)).first()
            if run is None:
                return 0
            actor = Actor(Role.PARTY, party_id=run.payer_id)
            rows = _rows(run.filename, run.file, run.time_zone, run.release_time)
            todo = rows[run.created_plans : run.created_plans + chunk]
            products = _open_products(session, actor)
            at_recording = run.funding == Funding.AT_RECORDING  # the payer's wallet consents by sending
            for row in todo:
                try:
                    request = _plan_request(ports, row, products.of(row))
                    plan = plans.request_plan(session, ports, actor, request, now, payer_signs=not at_recording)
                    plan.payroll_run_id = run.id
                except DaifaError as error:  # the chunk's transaction rolls back; the run stops at this row
                    raise _RowRefused(run.id, row, error) from error
            run.created_plans += len(todo)
            if run.created_plans >= run.rows:
                run.status = RunStatus.CREATED
                if at_recording:  # nothing for the payer to sign plan by plan: its step is done
                    payroll_progress.announce(session, [run.id], ["signed"])
            return len(todo)
    except _RowRefused as refused:
        _stop(sessions, refused.run_id, refused.row, refused.error)
        return 1


class _RowRefused(Exception):
    def __init__(self, run_id: int, row: PayrollRow, error: DaifaError) -> None:
        super().__init__(error.message)
        self.run_id, self.row, self.error = run_id, row, error


def _stop(sessions: sessionmaker[Session], run_id: int, row: PayrollRow, error: DaifaError) -> None:
    with sessions.begin() as session:
        run = session.get(m.PayrollRun, run_id, with_for_update=True)
        assert run is not None
        run.status = RunStatus.STOPPED
        run.error = f"line {row.line}: {error.message}"
        subject = records.public_id(m.PayrollRun, run.id)
        data = {"line": row.line, "error": error.message, "created_plans": run.created_plans}
        emit(session, "payroll_run.stopped", subject, data, [run.payer_id])


@lru_cache(maxsize=2)  # the run being created: its file is read once, not once a chunk
def _rows(filename: str, data: bytes, time_zone: str, release_time: str) -> tuple[PayrollRow, ...]:
    rows, problems = payroll.parse(filename, data, RunSchedule.parse(time_zone, release_time))
    assert not problems, "a kept run's file was checked whole when it came"
    return tuple(rows)


@dataclass(frozen=True)
class _OpenProducts:
    """The payer's open products, by their payee's public id and address."""

    by_payee: dict[str, list[m.Product]]

    def of(self, row: PayrollRow) -> m.Product:
        found = self.by_payee.get(row.payee.lower(), [])
        if row.product:
            found = [p for p in found if records.public_id(m.Product, p.id) == row.product]
            if not found:
                raise InvalidInput([Problem("product", f"{row.product} is no open product of yours with {row.payee}")])
        if not found:
            raise InvalidInput([Problem("payee", f"no open product of yours with {row.payee}: open one first")])
        if len(found) > 1:
            ids = ", ".join(records.public_id(m.Product, p.id) for p in found)
            raise InvalidInput(
                [Problem("product", f"{row.payee} has several open products with you ({ids}): name one")]
            )
        return found[0]


def _open_products(session: Session, actor: Actor) -> _OpenProducts:
    payer_id = actor.require_party()
    query = (
        select(m.Product, m.Party)
        .join(m.Party, m.Party.id == m.Product.payee_id)
        .where(m.Product.payer_id == payer_id, m.Product.status == ProductStatus.OPEN)
        .where(m.Party.status == PartyStatus.ACTIVE)
    )
    by_payee: dict[str, list[m.Product]] = {}
    for product, payee in session.execute(query).tuples():
        for key in (records.public_id(m.Party, payee.id), payee.address.lower()):
            by_payee.setdefault(key, []).append(product)
    return _OpenProducts(by_payee)


def _plan_request(ports: Ports, row: PayrollRow, product: m.Product) -> PlanRequest:
    token = ports.chain.token_facts(product.tokens[0])
    amounts = [to_units(amount, token.decimals) for amount in row.amounts]
    instalments = [
        InstalmentRequest(
            deposit_by=release - row.deposit_days * DAY,
            release_at=release,
            amount=amount,
            rule=row.rule,
            required_materials=list(row.required_materials),
            verification=row.verification,
        )
        for release, amount in zip(row.releases, amounts, strict=True)
    ]
    expiry = min(product.expiry, row.releases[-1] + SPARE_DAYS * DAY)
    return PlanRequest(product_id=records.public_id(m.Product, product.id), instalments=instalments, expiry=expiry)


def _located(line: int, error: DaifaError) -> list[Problem]:
    """The error's problems, each placed on the row's line (a plan's `instalments[3].deposit_by` is the
    row's fourth month)."""
    if isinstance(error, InvalidInput):
        return [Problem(p.field, p.message, line) for p in error.problems]
    return [Problem("row", error.message, line)]
