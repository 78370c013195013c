"""How far a payroll run got: its plans counted by status, signed by the payer, recorded and funded;
and the run's milestones in the events feed (payroll_run.signed, .recorded, .funded), each told once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from daifa.domain.plan_requests import PlanStatus
from daifa.domain.plans import InstalmentStatus
from daifa.services import records
from daifa.services.notifications import emit
from daifa.store import models as m

MILESTONES = ("signed", "recorded", "funded")
RECORDED = (PlanStatus.RECORDED, PlanStatus.COMPLETED)
SIGNED_BY_PAYER = (
    PlanStatus.AWAITING_PAYEE,
    PlanStatus.REJECTED,
    PlanStatus.RECORDING,
    PlanStatus.AWAITING_FUNDING,
    PlanStatus.RECORDED,
    PlanStatus.COMPLETED,
)


@dataclass(frozen=True)
class Progress:
    plans: dict[str, int]  # by status
    signed_by_payer: int
    recorded: int
    funded: int  # recorded plans whose every instalment is funded (or already closed)


def progress(session: Session, run: m.PayrollRun) -> Progress:
    """Where the run's plans stand, counted in two queries however many there are."""
    statuses = Counter(
        dict(
            session.execute(
                select(m.Plan.status, func.count()).where(m.Plan.payroll_run_id == run.id).group_by(m.Plan.status)
            )
            .tuples()
            .all()  # a list of pairs: a Result has keys(), which dict() would take it by
        )
    )
    recorded = sum(statuses[status] for status in RECORDED)
    funded_query = (
        select(func.count())
        .select_from(m.Plan)
        .where(m.Plan.payroll_run_id == run.id, m.Plan.status.in_(RECORDED))
        .where(m.Plan.id.not_in(_unfunded(run.id).with_only_columns(m.Instalment.plan_id)))
    )
    funded = session.scalar(funded_query) or 0
    signed = sum(statuses[status] for status in SIGNED_BY_PAYER)
    return Progress({str(k): v for k, v in statuses.items()}, signed, recorded, funded)


def announce(session: Session, run_ids: Iterable[int | None], milestones: Sequence[str] = MILESTONES) -> None:
    """Tells each run's payer when all its plans reach a milestone (signed, recorded, funded): once each
    (the event's key names the run and the milestone), however often this is called. Each is one EXISTS
    query for a plan still short of it, not a count: this runs on every signature and every indexed batch."""
    for run_id in {r for r in run_ids if r is not None}:
        run = session.get(m.PayrollRun, run_id)
        assert run is not None
        subject = records.public_id(m.PayrollRun, run.id)
        for milestone in milestones:
            if not any(session.scalar(select(short.exists())) for short in _short_of(milestone, run.id)):
                kind = f"payroll_run.{milestone}"
                emit(session, kind, subject, {"plans": run.rows}, [run.payer_id], key=f"{kind}:{subject}")


def _short_of(milestone: str, run_id: int) -> list[Select[tuple[int]]]:
    """What of the run has not reached `milestone`: plans not signed or not recorded; for funded, those
    and the plans' instalments not funded."""
    plans = select(m.Plan.id).where(m.Plan.payroll_run_id == run_id)
    if milestone == "signed":
        return [plans.where(m.Plan.status.not_in(SIGNED_BY_PAYER))]
    unrecorded = plans.where(m.Plan.status.not_in(RECORDED))
    if milestone == "recorded":
        return [unrecorded]
    return [unrecorded, _unfunded(run_id)]


def _unfunded(run_id: int) -> Select[tuple[int]]:
    """The run's instalments neither funded nor closed (their ids)."""
    return select(m.Instalment.id).where(
        m.Instalment.plan_id.in_(select(m.Plan.id).where(m.Plan.payroll_run_id == run_id)),
        m.Instalment.chain_status.op("&")(int(InstalmentStatus.FUNDED | InstalmentStatus.CLOSED)) == 0,
    )
