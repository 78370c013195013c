"""The chain's events folded into the records: parties' accounts, open products, recorded plans and every
instalment's status and payouts. The indexer calls it inside the transaction that stores the logs.

A plan's instalments are folded by the same Ledger anyone can run over the chain's logs (domain.ledger),
starting from the state in the database, so the records can only say what the events say. Statuses the
chain decides (account open, product open, plan recorded, completed) move through their workflows as the
events arrive. A rebuild after a reorg is not a workflow move: it puts them back where they stood before
the chain confirmed anything and replays the logs that remain.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from daifa.chain.client import ChainClient
from daifa.chain.events import EscrowDecoder
from daifa.chain.indexer import as_log_receipt
from daifa.domain.ledger import ChainEvent, InstalmentState, Ledger, PlanState
from daifa.domain.onboarding import ONBOARDING, PartyEvent, PartyStatus
from daifa.domain.plan_requests import PLAN_LIFECYCLE, PlanEvent, PlanStatus
from daifa.domain.plans import InstalmentStatus
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.services import notifications, records
from daifa.services.notifications import emit
from daifa.store import models as m

log = logging.getLogger(__name__)

PARTY_EVENTS = {"PartyApproved", "PartySuspended", "PartyReinstated"}
PLAN_EVENTS = {
    "PlanAmended",
    "Deposited",
    "PayerApproved",
    "MaterialsSubmitted",
    "MaterialsAttested",
    "Disputed",
    "Released",
    "DisputeResolved",
    "InstalmentCancelled",
    "Refunded",
}
CREDIT_EVENTS = {"PaymentDeferred", "Withdrawn"}


class Projection:
    def __init__(self, client: ChainClient) -> None:
        self.decoder = EscrowDecoder(client.escrow)

    def apply(self, session: Session, logs: Sequence[m.ChainLog], *, notify: bool = True) -> None:
        with notifications.batch(session):
            self._apply(session, logs, notify)

    def _apply(self, session: Session, logs: Sequence[m.ChainLog], notify: bool) -> None:
        decoded = [(row, self.decoder.decode(as_log_receipt(row))) for row in logs]
        events = [(row, event) for row, event in decoded if event is not None]
        # The records the events name, each kind in one query rather than one per event (a catch-up
        # folds tens of thousands of events in a transaction).
        parties = _by(session, m.Party.address, {str(e.args["account"]) for _, e in events if e.name in PARTY_EVENTS})
        products = _by(session, m.Product.consent_hash, _consents(events, "AgreementSetRecorded"))
        recorded = _by(session, m.Plan.consent_hash, _consents(events, "PlanRecorded"))
        by_plan: dict[int, list[ChainEvent]] = defaultdict(list)
        for row, event in events:
            row.name = event.name
            if event.name in PARTY_EVENTS:
                self._party_event(session, event, parties.get(str(event.args["account"])), notify)
            elif event.name == "AgreementSetRecorded":
                self._agreement_set_recorded(session, event, products.get(bytes(event.args["consentHash"])), notify)
            elif event.name == "PlanRecorded":
                row.chain_plan_id = int(event.args["planId"])
                self._plan_recorded(session, event, recorded.get(bytes(event.args["consentHash"])), notify)
            elif event.name in PLAN_EVENTS:
                row.chain_plan_id = int(event.args["planId"])
                by_plan[row.chain_plan_id].append(event)
            elif event.name in CREDIT_EVENTS:
                self._credit(session, event)
        plans = _by(session, m.Plan.chain_plan_id, set(by_plan))
        rows: dict[int, list[m.Instalment]] = defaultdict(list)
        for chunk in _chunks(sorted(p.id for p in plans.values())):
            query = select(m.Instalment).where(m.Instalment.plan_id.in_(chunk)).order_by(m.Instalment.index)
            for instalment in session.scalars(query):
                rows[instalment.plan_id].append(instalment)
        _by(session, m.Product.id, {p.product_id for p in plans.values()})  # into the identity map: plan_params
        _by(session, m.Party.id, {i for p in plans.values() for i in (p.payer_id, p.payee_id)})
        for chain_plan_id, plan_events in by_plan.items():
            plan = plans.get(chain_plan_id)
            if plan is not None:  # else a plan recorded outside the platform
                self._fold_plan(session, plan, rows[plan.id], plan_events, notify)

    def rebuild(self, session: Session) -> None:
        """Forgets every chain fact in the records and folds all stored logs again (after a reorg)."""
        session.execute(update(m.Party).values(chain_roles=0, chain_suspended=False))
        session.execute(
            update(m.Party)
            .where(m.Party.status.in_([PartyStatus.ACTIVE, PartyStatus.SUSPENDED]))
            .values(status=PartyStatus.APPROVED)
        )
        session.execute(
            update(m.Product)
            .where(m.Product.status == ProductStatus.OPEN)
            .values(status=ProductStatus.RECORDING, chain_agreement_set_id=None)
        )
        session.execute(
            update(m.Plan)
            .where(m.Plan.status.in_([PlanStatus.RECORDED, PlanStatus.COMPLETED]))
            .values(status=PlanStatus.RECORDING, chain_plan_id=None)
        )
        session.execute(
            update(m.Instalment).values(
                chain_status=0, delivered_hash=None, review_ends_at=None, to_payee=0, fee=0, to_payer=0
            )
        )
        session.execute(update(m.Credit).values(amount=0))
        logs = list(session.scalars(select(m.ChainLog).order_by(m.ChainLog.block_number, m.ChainLog.log_index)))
        self.apply(session, logs, notify=False)

    # ----------------------------------------------------------------------------------- parties

    def _party_event(self, session: Session, event: ChainEvent, party: m.Party | None, notify: bool) -> None:
        if party is None:
            log.info("%s for %s, who never applied here", event.name, event.args["account"])
            return
        if event.name == "PartyApproved":
            party.chain_roles = int(event.args["roles"])
        else:
            party.chain_suspended = event.name == "PartySuspended"
        status = PartyStatus(party.status)
        if status not in (PartyStatus.APPROVED, PartyStatus.ACTIVE, PartyStatus.SUSPENDED) or not party.chain_roles:
            return
        target = PartyStatus.SUSPENDED if party.chain_suspended else PartyStatus.ACTIVE
        if status == target:
            return
        move = {
            (PartyStatus.APPROVED, PartyStatus.ACTIVE): PartyEvent.APPROVAL_CONFIRMED,
            (PartyStatus.APPROVED, PartyStatus.SUSPENDED): PartyEvent.APPROVAL_CONFIRMED,
            (PartyStatus.ACTIVE, PartyStatus.SUSPENDED): PartyEvent.SUSPENSION_CONFIRMED,
            (PartyStatus.SUSPENDED, PartyStatus.ACTIVE): PartyEvent.REINSTATEMENT_CONFIRMED,
        }[(status, target)]
        party.status = ONBOARDING.next(status, move)
        if party.status != target:  # approved and suspended within one range of blocks
            party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.SUSPENSION_CONFIRMED)
        if notify:
            kind = {PartyStatus.ACTIVE: "party.activated", PartyStatus.SUSPENDED: "party.suspended"}[target]
            emit(session, kind, records.public_id(m.Party, party.id), {"status": party.status}, [party.id])

    # ----------------------------------------------------------------------------------- products

    def _agreement_set_recorded(
        self, session: Session, event: ChainEvent, product: m.Product | None, notify: bool
    ) -> None:
        if product is None:
            log.info("agreement set %s was not opened through this platform", event.args["agreementSetId"])
            return
        product.chain_agreement_set_id = int(event.args["agreementSetId"])
        if product.status == ProductStatus.RECORDING:
            product.status = PRODUCT_OPENING.next(ProductStatus.RECORDING, ProductEvent.RECORD_CONFIRMED)
            if notify:
                emit(
                    session,
                    "product.opened",
                    records.public_id(m.Product, product.id),
                    {"agreement_set_id": product.chain_agreement_set_id},
                    [product.payer_id, product.payee_id],
                )

    # ----------------------------------------------------------------------------------- plans

    def _plan_recorded(self, session: Session, event: ChainEvent, plan: m.Plan | None, notify: bool) -> None:
        if plan is None:
            log.info("plan %s was not agreed through this platform", event.args["planId"])
            return
        plan.chain_plan_id = int(event.args["planId"])
        if plan.status == PlanStatus.RECORDING:
            plan.status = PLAN_LIFECYCLE.next(PlanStatus.RECORDING, PlanEvent.RECORD_CONFIRMED)
            if notify:
                emit(
                    session,
                    "plan.recorded",
                    records.public_id(m.Plan, plan.id),
                    {"chain_plan_id": plan.chain_plan_id},
                    [plan.payer_id, plan.payee_id],
                )

    def _fold_plan(
        self, session: Session, plan: m.Plan, rows: list[m.Instalment], events: list[ChainEvent], notify: bool
    ) -> None:
        assert plan.chain_plan_id is not None
        chain_plan_id = plan.chain_plan_id
        before = [(row.chain_status, row.delivered_hash) for row in rows]
        ledger = Ledger()
        ledger.plans[chain_plan_id] = PlanState(
            chain_plan_id,
            plan.consent_hash,
            records.plan_params(session, plan),
            b"",
            [_state(row) for row in rows],
        )
        ledger.apply_all(events)
        state = ledger.plans[chain_plan_id]
        for index, item in enumerate(state.instalments):
            row = rows[index] if index < len(rows) else None
            if row is None:  # an amendment appended it
                row = _new_row(plan.id, index, item)
                session.add(row)
                rows.append(row)
            _write(row, item)
        subject = records.public_id(m.Plan, plan.id)
        if notify:
            for index, row in enumerate(rows):
                old_status, old_delivered = before[index] if index < len(before) else (0, None)
                for kind in _changes(old_status, old_delivered, row):
                    emit(session, kind, subject, _instalment_data(row), [plan.payer_id, plan.payee_id])
        if plan.status == PlanStatus.RECORDED and all(r.chain_status & InstalmentStatus.CLOSED for r in rows):
            plan.status = PLAN_LIFECYCLE.next(PlanStatus.RECORDED, PlanEvent.ALL_INSTALMENTS_CLOSED)
            if notify:
                emit(session, "plan.completed", subject, {}, [plan.payer_id, plan.payee_id])

    # ----------------------------------------------------------------------------------- credits

    def _credit(self, session: Session, event: ChainEvent) -> None:
        token, account = str(event.args["token"]), str(event.args["account"])
        credit = session.get(m.Credit, (token, account))
        if credit is None:
            credit = m.Credit(token=token, account=account, amount=0)
            session.add(credit)
        amount = int(event.args["amount"])
        credit.amount = credit.amount + amount if event.name == "PaymentDeferred" else credit.amount - amount


def _by(session: Session, column: InstrumentedAttribute[Any], values: Iterable[Any]) -> dict[Any, Any]:
    """The rows whose `column` is one of `values`, by that value (the first row of each)."""
    found: dict[Any, Any] = {}
    for chunk in _chunks(sorted(set(values))):
        for row in session.scalars(select(column.class_).where(column.in_(chunk))):
            found.setdefault(getattr(row, column.key), row)
    return found


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _consents(events: list[tuple[m.ChainLog, ChainEvent]], name: str) -> set[bytes]:
    return {bytes(e.args["consentHash"]) for _, e in events if e.name == name}


def _state(row: m.Instalment) -> InstalmentState:
    return InstalmentState(
        terms=records.terms(row),
        status=InstalmentStatus(row.chain_status),
        delivered_hash=row.delivered_hash,
        review_ends_at=row.review_ends_at,
        to_payee=row.to_payee,
        fee=row.fee,
        to_payer=row.to_payer,
    )


def _new_row(plan_id: int, index: int, item: InstalmentState) -> m.Instalment:
    t = item.terms
    return m.Instalment(
        plan_id=plan_id,
        index=index,
        deposit_by=t.deposit_by,
        release_at=t.release_at,
        amount=t.amount,
        rule=int(t.rule),
        materials_hash=t.materials_hash,
        required_materials=[],
    )


def _write(row: m.Instalment, item: InstalmentState) -> None:
    t = item.terms
    row.deposit_by, row.release_at, row.amount = t.deposit_by, t.release_at, t.amount
    row.rule, row.materials_hash = int(t.rule), t.materials_hash
    row.chain_status = int(item.status)
    row.delivered_hash = item.delivered_hash
    row.review_ends_at = item.review_ends_at
    row.to_payee, row.fee, row.to_payer = item.to_payee, item.fee, item.to_payer


def _changes(old: int, old_delivered: bytes | None, row: m.Instalment) -> list[str]:
    new = row.chain_status
    gained = new & ~old
    kinds = []
    if gained & InstalmentStatus.FUNDED:
        kinds.append("instalment.funded")
    if row.delivered_hash is not None and row.delivered_hash != old_delivered:
        kinds.append("instalment.materials_submitted")
    if gained & InstalmentStatus.CONDITION_MET:
        kinds.append("instalment.release_condition_met")
    if gained & InstalmentStatus.DISPUTED:
        kinds.append("instalment.disputed")
    if gained & InstalmentStatus.CLOSED:
        if new & InstalmentStatus.DISPUTED:
            kinds.append("instalment.dispute_resolved")
        elif row.to_payee or row.fee:
            kinds.append("instalment.released")
        else:
            kinds.append("instalment.refunded")
    return kinds


def _instalment_data(row: m.Instalment) -> dict[str, object]:
    return {
        "index": row.index,
        "status": int(row.chain_status),
        "amount": str(row.amount),
        "to_payee": str(row.to_payee),
        "fee": str(row.fee),
        "to_payer": str(row.to_payer),
    }
