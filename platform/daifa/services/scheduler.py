"""The scheduler: reminders before deposit-by times, overdue marking, due releases in batches, refunds of
expired plans, expiries. Every decision uses the chain's clock and the indexer's view of the chain.

Workers may run it side by side against one database: each instalment is claimed for a release or a
refund with a compare-and-set UPDATE (`claimed_by IS NULL`), and reminders and overdue marks are set the
same way, so only one worker acts on any of them. A claim whose transaction is settled, and whose block
the indexer has read, while the instalment is still open (a release skipped, a reorg) is let go, and the
instalment is tried again.

Each step first asks a read-only session whether it has anything to do, and opens a write transaction
only when it has: most turns find nothing, and on SQLite a write transaction would hold the one
writer's lock the API needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Update, and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from daifa.chain import abi
from daifa.chain.relayer import enqueue
from daifa.domain.outbox import OutboxStatus
from daifa.domain.plan_requests import PlanStatus
from daifa.domain.plans import Instalment, InstalmentStatus, ReleaseRule, is_refundable_after_expiry, is_releasable
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.services import calls, plans, records
from daifa.services.context import Ports
from daifa.services.notifications import emit
from daifa.store import models as m

MAX_BATCH = 100


@dataclass
class Scheduler:
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    ports: Ports
    batch_size: int = MAX_BATCH

    def run_once(self, now: int | None = None) -> dict[str, int]:
        """One pass at chain time `now` (the latest block's, unless given)."""
        now = self.ports.chain.now() if now is None else now
        return {
            "released_claims_freed": self._free_stale_claims(),
            "reminders": self._remind(now),
            "overdue": self._mark_overdue(now),
            "release_batches": self._release_due(now),
            "refunds": self._refund_expired(now),
            "expired": self._expire(now),
        }

    # ------------------------------------------------------------------------------- deposits

    def _remind(self, now: int) -> int:
        lead = self.ports.reminder_lead
        return self._flag(
            m.Instalment.reminded,
            (m.Instalment.deposit_by > now, m.Instalment.deposit_by <= now + lead),
            "instalment.deposit_due",
            payer_only=True,
        )

    def _mark_overdue(self, now: int) -> int:
        return self._flag(
            m.Instalment.overdue, (m.Instalment.deposit_by < now,), "instalment.overdue", payer_only=False
        )

    def _flag(
        self,
        column: InstrumentedAttribute[bool],
        conditions: Iterable[ColumnElement[bool]],
        kind: str,
        *,
        payer_only: bool,
    ) -> int:
        query = (
            select(m.Instalment, m.Plan)
            .join(m.Plan, m.Plan.id == m.Instalment.plan_id)
            .where(
                m.Plan.status == PlanStatus.RECORDED,
                column.is_(False),
                m.Instalment.chain_status.op("&")(int(InstalmentStatus.FUNDED | InstalmentStatus.CLOSED)) == 0,
                *conditions,
            )
        )
        if not self._anything(query):
            return 0
        with self.sessions.begin() as session:
            candidates = session.execute(query).all()
            flagged = 0
            for row, plan in candidates:
                won = _updated(
                    session,
                    update(m.Instalment).where(m.Instalment.id == row.id, column.is_(False)).values({column: True}),
                )
                if won:
                    flagged += 1
                    recipients = [plan.payer_id] if payer_only else [plan.payer_id, plan.payee_id]
                    data = {"index": row.index, "deposit_by": row.deposit_by, "amount": str(row.amount)}
                    emit(session, kind, records.public_id(m.Plan, plan.id), data, recipients)
            return flagged

    # ------------------------------------------------------------------------------- releases and refunds

    def _release_due(self, now: int) -> int:
        # Only instalments whose time has come or whose condition is met can be due; the domain decides.
        maybe_due = or_(
            and_(m.Instalment.rule == int(ReleaseRule.TIME), m.Instalment.release_at <= now),
            m.Instalment.chain_status.op("&")(int(InstalmentStatus.CONDITION_MET)) != 0,
        )
        if not self._anything(_open_funded(maybe_due)):
            return 0
        with self.sessions.begin() as session:
            due = [
                (row, plan)
                for row, plan in session.execute(_open_funded(maybe_due)).tuples()
                if is_releasable(
                    ReleaseRule(row.rule), InstalmentStatus(row.chain_status), row.release_at, row.review_ends_at, now
                )
            ]
            batches = 0
            for start in range(0, len(due), self.batch_size):
                chunk = due[start : start + self.batch_size]
                entry = enqueue(session, "release_batch", "scheduler:release", self.ports.chain.escrow_address, b"")
                claimed: dict[int, list[int]] = defaultdict(list)
                plans: dict[int, m.Plan] = {}
                for row, plan in self._claim(session, chunk, entry.id):
                    claimed[plan.id].append(row.index)
                    plans[plan.id] = plan
                if not claimed:
                    session.delete(entry)
                    continue
                terms = _terms_of(session, list(plans.values()))
                params_of = records.plan_params_of(session, plans.values())
                items = []
                for plan_id, indices in claimed.items():  # each plan's params and tree once, for all its items
                    plan = plans[plan_id]
                    params = abi.plan_params(params_of[plan_id])
                    refs = calls.refs_of_terms(terms[plan_id], indices)
                    items += [(plan.chain_plan_id, params, ref) for ref in refs]
                entry.data = self.ports.chain.encode("releaseBatch", items)
                batches += 1
            return batches

    def _refund_expired(self, now: int) -> int:
        if not self._anything(_open_funded(m.Plan.expiry < now)):
            return 0
        with self.sessions.begin() as session:
            by_plan: dict[int, list[tuple[m.Instalment, m.Plan]]] = defaultdict(list)
            for row, plan in session.execute(_open_funded(m.Plan.expiry < now)).tuples():
                if is_refundable_after_expiry(ReleaseRule(row.rule), InstalmentStatus(row.chain_status)):
                    by_plan[plan.id].append((row, plan))
            refunds = 0
            for pairs in by_plan.values():
                plan = pairs[0][1]
                entry = enqueue(session, "refund_expired", f"plan:{plan.id}", self.ports.chain.escrow_address, b"")
                claimed = [row.index for row, _ in self._claim(session, pairs, entry.id)]
                if not claimed:
                    session.delete(entry)
                    continue
                rows = records.instalment_rows(session, plan)
                params = abi.plan_params(records.plan_params(session, plan))
                entry.data = self.ports.chain.encode(
                    "refundExpired", plan.chain_plan_id, params, calls.instalment_refs(rows, claimed)
                )
                refunds += 1
            return refunds

    def _claim(
        self, session: Session, pairs: list[tuple[m.Instalment, m.Plan]], entry_id: int
    ) -> list[tuple[m.Instalment, m.Plan]]:
        """The pairs whose instalment this worker claimed for `entry_id`: one compare-and-set UPDATE for
        all of them; an instalment another worker claimed first is left out."""
        won = set(
            session.scalars(
                update(m.Instalment)
                .where(m.Instalment.id.in_([row.id for row, _ in pairs]), m.Instalment.claimed_by.is_(None))
                .values(claimed_by=entry_id)
                .returning(m.Instalment.id)
            )
        )
        return [(row, plan) for row, plan in pairs if row.id in won]

    def _free_stale_claims(self) -> int:
        query = (
            select(m.Instalment.id, m.OutboxEntry.status, m.OutboxEntry.mined_block)
            .join(m.OutboxEntry, m.OutboxEntry.id == m.Instalment.claimed_by)
            .where(
                m.OutboxEntry.status.in_([OutboxStatus.MINED, OutboxStatus.FAILED]),
                m.Instalment.chain_status.op("&")(int(InstalmentStatus.CLOSED)) == 0,
            )
        )
        if not self._anything(query):
            return 0
        with self.sessions.begin() as session:
            cursor = session.get(m.IndexerCursor, self.ports.chain.escrow_address)
            read_up_to = -1 if cursor is None else cursor.next_block - 1
            stale = session.execute(query).all()
            freed = 0
            for instalment_id, status, mined_block in stale:
                if status == OutboxStatus.MINED and (mined_block is None or mined_block > read_up_to):
                    continue  # the indexer has not read that block yet
                session.execute(update(m.Instalment).where(m.Instalment.id == instalment_id).values(claimed_by=None))
                freed += 1
            return freed

    # ------------------------------------------------------------------------------- expiries

    def _expire(self, now: int) -> int:
        products = select(m.Product).where(m.Product.status == ProductStatus.OPEN, m.Product.expiry < now)
        if not self._anything(plans.signatures_expired(now)) and not self._anything(products):
            return 0
        with self.sessions.begin() as session:
            expired = plans.expire_signatures(session, now)
            for product in session.scalars(products):
                product.status = PRODUCT_OPENING.next(ProductStatus(product.status), ProductEvent.EXPIRE)
                emit(
                    session,
                    "product.expired",
                    records.public_id(m.Product, product.id),
                    {},
                    [product.payer_id, product.payee_id],
                )
                expired += 1
            return expired

    def _anything(self, query: Select[Any]) -> bool:
        with self.readers() as session:
            return session.execute(query.limit(1)).first() is not None


def _terms_of(session: Session, plans: list[m.Plan]) -> dict[int, list[Instalment]]:
    """The terms of every instalment of the plans, by plan id, in index order: one query for a whole batch,
    of the columns alone (a batch is 1,200 instalments; as ORM rows, loading them took longer than the rest
    of the batch)."""
    i = m.Instalment
    query = (
        select(i.plan_id, i.deposit_by, i.release_at, i.amount, i.rule, i.materials_hash)
        .where(i.plan_id.in_([p.id for p in plans]))
        .order_by(i.plan_id, i.index)
    )
    terms: dict[int, list[Instalment]] = defaultdict(list)
    for plan_id, deposit_by, release_at, amount, rule, materials_hash in session.execute(query).tuples():
        terms[plan_id].append(Instalment(deposit_by, release_at, amount, ReleaseRule(rule), materials_hash))
    return terms


def _open_funded(*also: ColumnElement[bool]) -> Select[tuple[m.Instalment, m.Plan]]:
    """Funded, unclaimed instalments that are neither closed nor disputed, of recorded plans, narrowed by
    `also` (due ones for releases, expired plans' for refunds)."""
    return (
        select(m.Instalment, m.Plan)
        .join(m.Plan, m.Plan.id == m.Instalment.plan_id)
        .where(
            m.Plan.status == PlanStatus.RECORDED,
            m.Instalment.claimed_by.is_(None),
            m.Instalment.chain_status.op("&")(
                int(InstalmentStatus.FUNDED | InstalmentStatus.CLOSED | InstalmentStatus.DISPUTED)
            )
            == int(InstalmentStatus.FUNDED),
            *also,
        )
        .order_by(m.Instalment.plan_id, m.Instalment.index)
    )


def _updated(session: Session, statement: Update) -> int:
    """Runs a compare-and-set UPDATE; the number of rows it changed (0: another worker got there first)."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)
