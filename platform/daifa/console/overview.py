"""What a party's home page and the operator's queues show, read in a few queries: the escrow balance per
token, what falls due this month, and the work waiting for the operator, oldest first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Result, select
from sqlalchemy.orm import Session

from daifa.domain.onboarding import PartyStatus
from daifa.domain.plans import InstalmentStatus, ReleaseRule
from daifa.domain.products import ProductStatus
from daifa.services import records
from daifa.services.context import Actor
from daifa.store import models as m

QUEUE_LENGTH = 50  # rows a queue shows; the oldest first, so nothing waits unseen behind newer work
FUNDED, CONDITION_MET, DISPUTED, CLOSED = (
    int(InstalmentStatus.FUNDED),
    int(InstalmentStatus.CONDITION_MET),
    int(InstalmentStatus.DISPUTED),
    int(InstalmentStatus.CLOSED),
)


@dataclass(frozen=True)
class Due:
    plan: str
    index: int
    what: str  # "deposit" or "release"
    at: int
    amount: int
    token: str


def month_bounds(now: int) -> tuple[int, int]:
    """The first second of `now`'s month (UTC) and of the next."""
    at = datetime.fromtimestamp(now, UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return int(start.timestamp()), int(end.timestamp())


def _instalments(session: Session, actor: Actor) -> Result[Any]:
    """The instalments of the actor's recorded plans, with their plan's id and token."""
    return session.execute(
        select(
            # Labelled: a result row is a tuple, and `index` is also the name of its method to a type checker.
            m.Plan.id.label("plan_id"), m.Plan.token, m.Instalment.index.label("number"), m.Instalment.deposit_by,
            m.Instalment.release_at,
            m.Instalment.amount, m.Instalment.chain_status,
        )
        .join(m.Plan, m.Plan.id == m.Instalment.plan_id)
        .where(records.visible(actor, m.Plan), m.Plan.chain_plan_id.is_not(None))
    )  # fmt: skip


def escrow_by_token(session: Session, actor: Actor) -> dict[str, int]:
    """What the escrow holds for the actor's recorded plans, per token: funded instalments not yet paid out."""
    held: dict[str, int] = defaultdict(int)
    for row in _instalments(session, actor):
        if row.chain_status & FUNDED and not row.chain_status & CLOSED:
            held[row.token] += row.amount
    return dict(held)


def due_between(session: Session, actor: Actor, start: int, end: int) -> list[Due]:
    """Deposits not yet made and releases not yet paid whose time falls in [start, end), soonest first."""
    due = []
    for row in _instalments(session, actor):
        plan = records.public_id(m.Plan, row.plan_id)
        if start <= row.deposit_by < end and not row.chain_status & (FUNDED | CLOSED):
            due.append(Due(plan, row.number, "deposit", row.deposit_by, row.amount, row.token))
        if start <= row.release_at < end and not row.chain_status & CLOSED:
            due.append(Due(plan, row.number, "release", row.release_at, row.amount, row.token))
    return sorted(due, key=lambda d: (d.at, d.plan, d.index))


def parties_waiting(session: Session) -> list[m.Party]:
    waiting = (PartyStatus.SUBMITTED, PartyStatus.DOCUMENTS_REQUESTED)
    query = select(m.Party).where(m.Party.status.in_(waiting)).order_by(m.Party.created_at, m.Party.id)
    return list(session.scalars(query.limit(QUEUE_LENGTH)))


def products_waiting(session: Session) -> list[m.Product]:
    waiting = (ProductStatus.SUBMITTED, ProductStatus.DOCUMENTS_REQUESTED)
    query = select(m.Product).where(m.Product.status.in_(waiting)).order_by(m.Product.created_at, m.Product.id)
    return list(session.scalars(query.limit(QUEUE_LENGTH)))


def materials_to_attest(session: Session) -> list[tuple[m.Plan, m.Instalment]]:
    """Materials instalments whose materials were delivered on chain and not yet attested."""
    query = (
        select(m.Plan, m.Instalment)
        .join(m.Instalment, m.Instalment.plan_id == m.Plan.id)
        .where(
            m.Instalment.rule == int(ReleaseRule.MATERIALS),
            m.Instalment.delivered_hash.is_not(None),
            m.Instalment.chain_status.op("&")(CONDITION_MET | CLOSED | DISPUTED) == 0,
        )
        .order_by(m.Instalment.id)
        .limit(QUEUE_LENGTH)
    )
    return [(plan, item) for plan, item in session.execute(query).tuples()]


def open_disputes(session: Session) -> list[m.PlanAction]:
    """Disputes on chain whose instalment is still frozen (not closed), oldest first."""
    query = (
        select(m.PlanAction)
        .where(m.PlanAction.kind == "dispute", m.PlanAction.status == "mined")
        .order_by(m.PlanAction.id)
        .limit(QUEUE_LENGTH * 4)
    )
    frozen = []
    for action in session.scalars(query):
        index = action.indices[0]
        item = session.scalar(
            select(m.Instalment).where(m.Instalment.plan_id == action.plan_id, m.Instalment.index == index)
        )
        if item is not None and item.chain_status & DISPUTED and not item.chain_status & CLOSED:
            frozen.append(action)
    return frozen[:QUEUE_LENGTH]
