"""Payroll runs: a payer submits a file of plans at once (daifa.domain.payroll says its format). Every row
is checked against its product as a single plan request is; a run with any refused row is refused whole,
naming each row's line, field and reason, and nothing of it is kept (correct the file and send it
again). An accepted run's plans are asked for at once: the payer signs each, the payee confirms its own,
and the run's progress counts them through signing, recording and funding."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.domain import payroll
from daifa.domain.onboarding import PartyStatus
from daifa.domain.payroll import DAY, PayrollRow, RunSchedule, to_units
from daifa.domain.products import ProductStatus
from daifa.errors import DaifaError, InvalidInput, Problem
from daifa.services import plans, records
from daifa.services.context import Actor, Ports
from daifa.services.documents import Upload
from daifa.services.notifications import emit
from daifa.services.plans import InstalmentRequest, PlanRequest
from daifa.store import models as m

SPARE_DAYS = 60  # a run's plan expires this long after its last release, or with its product if sooner


def submit(
    session: Session, ports: Ports, actor: Actor, upload: Upload, time_zone: str, release_time: str
) -> m.PayrollRun:
    """The run and its plans, each asked for as `plans.request_plan` asks; or InvalidInput listing every
    refused row (the caller's transaction then keeps nothing)."""
    payer_id = actor.require_party()
    rows, problems = payroll.parse(upload.filename, upload.data, RunSchedule.parse(time_zone, release_time))
    run = m.PayrollRun(
        payer_id=payer_id,
        filename=upload.filename[:200],
        rows=len(rows) + len({p.line for p in problems}),
        time_zone=time_zone,
        file_hash=keccak(upload.data),
    )
    session.add(run)
    session.flush()
    products = _open_products(session, payer_id)
    now = ports.chain.now()
    for row in rows:  # the rows that read well are checked too: one answer lists every refused row
        try:
            plan = plans.request_plan(session, ports, actor, _plan_request(ports, row, products), now)
        except DaifaError as error:
            problems += _located(row.line, error)
            continue
        plan.payroll_run_id = run.id
    if problems:
        raise InvalidInput(sorted(problems, key=lambda p: p.line or 0))
    emit(session, "payroll_run.created", records.public_id(m.PayrollRun, run.id), {"rows": run.rows}, [payer_id])
    return run


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


def _open_products(session: Session, payer_id: int) -> _OpenProducts:
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


def _plan_request(ports: Ports, row: PayrollRow, products: _OpenProducts) -> PlanRequest:
    product = products.of(row)
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
