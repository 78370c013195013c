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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from daifa.chain.client import ChainClient
from daifa.chain.events import EscrowDecoder
from daifa.chain.indexer import as_log_receipt
from daifa.chain.relayer import reopen_dropped
from daifa.domain.ledger import ChainEvent, InstalmentState, Ledger, PlanState
from daifa.domain.onboarding import ONBOARDING, PartyEvent, PartyStatus
from daifa.domain.payroll import Funding
from daifa.domain.plan_requests import PLAN_LIFECYCLE, PlanEvent, PlanStatus
from daifa.domain.plans import Instalment, InstalmentStatus, PlanParams, ReleaseRule
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.services import notifications, outcomes, payroll_progress, records
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
        known = _Known.fetch(session, events)
        by_plan: dict[int, list[tuple[ChainEvent, str]]] = defaultdict(list)
        for (row, event), source in zip(events, _sources(row for row, _ in events), strict=True):
            row.name = event.name
            if event.name in PLAN_EVENTS:
                row.chain_plan_id = int(event.args["planId"])
                by_plan[row.chain_plan_id].append((event, source))
            else:
                self._record(session, row, event, known, notify, source)
        folded = self._fold_plans(session, by_plan, notify)
        if notify:
            runs = [p.payroll_run_id for p in (*known.recorded.values(), *folded) if p.payroll_run_id is not None]
            payroll_progress.announce(session, runs, milestones=["recorded", "funded"])

    def _record(
        self, session: Session, row: m.ChainLog, event: ChainEvent, known: _Known, notify: bool, source: str
    ) -> None:
        """An event about a party, a product, a plan's recording or a credit."""
        if event.name in PARTY_EVENTS:
            self._party_event(session, event, known.parties.get(str(event.args["account"])), notify, source)
        elif event.name == "AgreementSetRecorded":
            product = known.products.get(bytes(event.args["consentHash"]))
            self._agreement_set_recorded(session, event, product, notify, source)
        elif event.name == "PlanRecorded":
            row.chain_plan_id = int(event.args["planId"])
            plan = known.recorded.get(bytes(event.args["consentHash"]))
            self._plan_recorded(session, event, plan, notify, source)
        elif event.name in CREDIT_EVENTS:
            self._credit(session, event)

    def _fold_plans(
        self, session: Session, by_plan: dict[int, list[tuple[ChainEvent, str]]], notify: bool
    ) -> list[m.Plan]:
        """Each plan's instalment events, in order, folded into its instalments (read in a few queries, as
        columns: a month's releases touch every instalment of a thousand plans); the instalments whose
        chain facts changed are written in one UPDATE by primary key; the plans folded."""
        plans = _by(session, m.Plan.chain_plan_id, set(by_plan))
        stored = _stored_instalments(session, plans.values())
        params = records.plan_params_of(session, plans.values())
        changed: list[dict[str, Any]] = []
        for chain_plan_id, plan_events in by_plan.items():
            plan = plans.get(chain_plan_id)
            if plan is not None:  # else a plan recorded outside the platform
                changed += self._fold_plan(session, plan, params[plan.id], stored[plan.id], plan_events, notify)
        if changed:
            session.execute(update(m.Instalment), changed)
        return list(plans.values())

    def rebuild(self, session: Session, after_block: int | None = None) -> None:
        """Forgets every chain fact in the records and folds all stored logs again (after a reorg that
        kept the blocks up to `after_block`: the platform's transactions mined after it wait for a
        receipt again, and so do their actions)."""
        if after_block is not None:
            outcomes.on_transactions_dropped(session, reopen_dropped(session, after_block))
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
        recorded = m.Plan.status.in_([PlanStatus.RECORDED, PlanStatus.COMPLETED])
        payer_funds = m.Plan.payroll_run_id.in_(
            select(m.PayrollRun.id).where(m.PayrollRun.funding == Funding.AT_RECORDING)
        )
        # Back to what waits for the transaction that records them: the relayer's, or the payer's wallet's.
        session.execute(
            update(m.Plan).where(recorded, payer_funds).values(status=PlanStatus.AWAITING_FUNDING, chain_plan_id=None)
        )
        session.execute(update(m.Plan).where(recorded).values(status=PlanStatus.RECORDING, chain_plan_id=None))
        session.execute(
            update(m.Instalment).values(
                chain_status=0, delivered_hash=None, review_ends_at=None, to_payee=0, fee=0, to_payer=0
            )
        )
        session.execute(update(m.Credit).values(amount=0))
        logs = list(session.scalars(select(m.ChainLog).order_by(m.ChainLog.block_number, m.ChainLog.log_index)))
        self._restore_recorded_terms(session, [row for row in logs if row.name == "PlanRecorded"])
        self.apply(session, logs, notify=False)

    def _restore_recorded_terms(self, session: Session, recorded: list[m.ChainLog]) -> None:
        """Puts each recorded plan's instalments back as it was recorded: an amendment the reorg dropped
        must leave no trace in the rows, and one still on chain is folded again from its log."""
        events = [event for event in (self.decoder.decode(as_log_receipt(r)) for r in recorded) if event is not None]
        plans = _by(session, m.Plan.consent_hash, {bytes(e.args["consentHash"]) for e in events})
        rows = _instalments_of(session, plans.values())
        for event in events:
            plan = plans.get(bytes(event.args["consentHash"]))
            if plan is not None:
                _put_instalments(session, plan, rows[plan.id], [InstalmentState(t) for t in event.args["instalments"]])

    # ----------------------------------------------------------------------------------- parties

    def _party_event(
        self, session: Session, event: ChainEvent, party: m.Party | None, notify: bool, source: str
    ) -> None:
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
            subject = records.public_id(m.Party, party.id)
            emit(session, kind, subject, {"status": party.status}, [party.id], key=f"{kind}:{subject}:{source}")

    # ----------------------------------------------------------------------------------- products

    def _agreement_set_recorded(
        self, session: Session, event: ChainEvent, product: m.Product | None, notify: bool, source: str
    ) -> None:
        if product is None:
            log.info("agreement set %s was not opened through this platform", event.args["agreementSetId"])
            return
        product.chain_agreement_set_id = int(event.args["agreementSetId"])
        if product.status == ProductStatus.RECORDING:
            product.status = PRODUCT_OPENING.next(ProductStatus.RECORDING, ProductEvent.RECORD_CONFIRMED)
            if notify:
                data = {"agreement_set_id": product.chain_agreement_set_id}
                _tell_both(session, "product.opened", product, data, source)

    # ----------------------------------------------------------------------------------- plans

    def _plan_recorded(
        self, session: Session, event: ChainEvent, plan: m.Plan | None, notify: bool, source: str
    ) -> None:
        if plan is None:
            log.info("plan %s was not agreed through this platform", event.args["planId"])
            return
        plan.chain_plan_id = int(event.args["planId"])
        if plan.status in (PlanStatus.RECORDING, PlanStatus.AWAITING_FUNDING):
            plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.RECORD_CONFIRMED)
            if notify:
                _tell_both(session, "plan.recorded", plan, {"chain_plan_id": plan.chain_plan_id}, source)

    def _fold_plan(
        self,
        session: Session,
        plan: m.Plan,
        params: PlanParams,
        stored: list[tuple[int, InstalmentState]],
        events: list[tuple[ChainEvent, str]],
        notify: bool,
    ) -> list[dict[str, Any]]:
        """Folds the plan's events one at a time, so each event the parties hear of names the log that
        caused it (and a log read again, after a restart or a reorg, is never a second event). Returns the
        chain facts of the instalments that changed, by row id, for the caller to write; an amendment's
        instalments (added, removed or with new terms) are written here, through their rows."""
        assert plan.chain_plan_id is not None
        as_stored = [(item.terms, _facts(item)) for _, item in stored]
        ledger = Ledger()
        state = ledger.plans[plan.chain_plan_id] = PlanState(
            plan.chain_plan_id,
            plan.consent_hash,
            params,
            b"",
            [item for _, item in stored],
        )
        subject = records.public_id(m.Plan, plan.id)
        parties = [plan.payer_id, plan.payee_id]
        for event, source in events:
            index = int(event.args["index"]) if "index" in event.args else -1
            item = state.instalments[index] if 0 <= index < len(state.instalments) else None
            before = (int(item.status), item.delivered_hash) if item is not None else None
            ledger.apply(event)
            if notify and item is not None and before is not None:
                for kind in _changes(*before, item):
                    key = f"{kind}:{subject}:{index}:{source}"
                    emit(session, kind, subject, _instalment_data(index, item), parties, key=key)
            if notify and event.name == "PlanAmended":
                data = {
                    "instalments": len(state.instalments),
                    "total": str(sum(i.terms.amount for i in state.instalments)),
                }
                _tell_both(session, "plan.amended", plan, data, source)
        items = state.instalments
        changed: list[dict[str, Any]] = []
        if len(items) != len(as_stored) or any(i.terms != t for i, (t, _) in zip(items, as_stored, strict=True)):
            # The rows as the database has them now: an earlier fold in this transaction may have written
            # them by primary key, past any copy the session still holds.
            query = select(m.Instalment).where(m.Instalment.plan_id == plan.id).order_by(m.Instalment.index)
            rows = list(session.scalars(query.execution_options(populate_existing=True)))
            _put_instalments(session, plan, rows, items)
        else:
            for (row_id, _), item, (_, facts) in zip(stored, items, as_stored, strict=True):
                if _facts(item) != facts:
                    changed.append({"id": row_id, **_fact_columns(item)})
        if plan.status == PlanStatus.RECORDED and all(i.status & InstalmentStatus.CLOSED for i in items):
            plan.status = PLAN_LIFECYCLE.next(PlanStatus.RECORDED, PlanEvent.ALL_INSTALMENTS_CLOSED)
            if notify:
                _tell_both(session, "plan.completed", plan, {}, events[-1][1])
        return changed

    # ----------------------------------------------------------------------------------- credits

    def _credit(self, session: Session, event: ChainEvent) -> None:
        token, account = str(event.args["token"]), str(event.args["account"])
        credit = session.get(m.Credit, (token, account))
        if credit is None:
            credit = m.Credit(token=token, account=account, amount=0)
            session.add(credit)
        amount = int(event.args["amount"])
        credit.amount = credit.amount + amount if event.name == "PaymentDeferred" else credit.amount - amount


@dataclass(frozen=True)
class _Known:
    """The records a batch of events names, each kind read in one query rather than one per event (a
    catch-up folds tens of thousands of events in a transaction)."""

    parties: dict[str, m.Party]  # by address
    products: dict[bytes, m.Product]  # by the consent hash of their agreement set
    recorded: dict[bytes, m.Plan]  # by their consent hash

    @classmethod
    def fetch(cls, session: Session, events: list[tuple[m.ChainLog, ChainEvent]]) -> _Known:
        accounts = {str(e.args["account"]) for _, e in events if e.name in PARTY_EVENTS}
        return cls(
            parties=_by(session, m.Party.address, accounts),
            products=_by(session, m.Product.consent_hash, _consents(events, "AgreementSetRecorded")),
            recorded=_by(session, m.Plan.consent_hash, _consents(events, "PlanRecorded")),
        )


def _by(session: Session, column: InstrumentedAttribute[Any], values: Iterable[Any]) -> dict[Any, Any]:
    """The rows whose `column` is one of `values`, by that value (the first row of each)."""
    found: dict[Any, Any] = {}
    for chunk in _chunks(sorted(set(values))):
        for row in session.scalars(select(column.class_).where(column.in_(chunk))):
            found.setdefault(getattr(row, column.key), row)
    return found


def _instalments_of(session: Session, plans: Iterable[m.Plan]) -> dict[int, list[m.Instalment]]:
    """Each plan's instalment rows in index order, by plan id, read in a few queries."""
    rows: dict[int, list[m.Instalment]] = defaultdict(list)
    for chunk in _chunks(sorted(p.id for p in plans)):
        query = select(m.Instalment).where(m.Instalment.plan_id.in_(chunk)).order_by(m.Instalment.index)
        for instalment in session.scalars(query):
            rows[instalment.plan_id].append(instalment)
    return rows


def _stored_instalments(session: Session, plans: Iterable[m.Plan]) -> dict[int, list[tuple[int, InstalmentState]]]:
    """Each plan's instalments as stored, in index order, by plan id: each row's id and its state, read as
    columns in a few queries."""
    i = m.Instalment
    columns = (i.plan_id, i.id, i.deposit_by, i.release_at, i.amount, i.rule, i.materials_hash, i.chain_status)
    facts = (i.delivered_hash, i.review_ends_at, i.to_payee, i.fee, i.to_payer)
    stored: dict[int, list[tuple[int, InstalmentState]]] = defaultdict(list)
    for chunk in _chunks(sorted(p.id for p in plans)):
        query = select(*columns, *facts).where(i.plan_id.in_(chunk)).order_by(i.plan_id, i.index)
        for row in session.execute(query):
            terms = Instalment(row.deposit_by, row.release_at, row.amount, ReleaseRule(row.rule), row.materials_hash)
            state = InstalmentState(
                terms, InstalmentStatus(row.chain_status), row.delivered_hash, row.review_ends_at,
                row.to_payee, row.fee, row.to_payer,
            )  # fmt: skip
            stored[row.plan_id].append((row.id, state))
    return stored


def _facts(item: InstalmentState) -> tuple[object, ...]:
    """What the chain says of an instalment, as it is compared before and after a fold."""
    return tuple(_fact_columns(item).values())


def _fact_columns(item: InstalmentState) -> dict[str, Any]:
    return {
        "chain_status": int(item.status),
        "delivered_hash": item.delivered_hash,
        "review_ends_at": item.review_ends_at,
        "to_payee": item.to_payee,
        "fee": item.fee,
        "to_payer": item.to_payer,
    }


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _tell_both(session: Session, kind: str, row: m.Product | m.Plan, data: dict[str, Any], source: str) -> None:
    """An event about a product or plan for its payer and payee, keyed by the log that caused it (a log
    read again after a restart or a reorg is never a second event)."""
    subject = records.public_id(type(row), row.id)
    emit(session, kind, subject, data, [row.payer_id, row.payee_id], key=f"{kind}:{subject}:{source}")


def _consents(events: list[tuple[m.ChainLog, ChainEvent]], name: str) -> set[bytes]:
    return {bytes(e.args["consentHash"]) for _, e in events if e.name == name}


def _put_instalments(
    session: Session, plan: m.Plan, rows: list[m.Instalment], items: Sequence[InstalmentState]
) -> None:
    """Writes the plan's instalments into its rows, in index order: a row an amendment appended is added
    and one it removed deleted; a changed materials hash brings the words behind it (Plan.materials)."""
    for index, item in enumerate(items):
        if index == len(rows):
            texts = plan.instalment_texts(item.terms.materials_hash)
            rows.append(m.Instalment.from_terms(plan.id, index, item.terms, *texts))
            session.add(rows[-1])
        elif rows[index].materials_hash != item.terms.materials_hash:
            rows[index].required_materials, rows[index].verification = plan.instalment_texts(item.terms.materials_hash)
        _write(rows[index], item)
    for removed in rows[len(items) :]:
        session.delete(removed)
    del rows[len(items) :]
    total = sum(item.terms.amount for item in items)
    if plan.total != total:
        plan.total = total


def _write(row: m.Instalment, item: InstalmentState) -> None:
    t = item.terms
    row.deposit_by, row.release_at, row.amount = t.deposit_by, t.release_at, t.amount
    row.rule, row.materials_hash = int(t.rule), t.materials_hash
    row.chain_status = int(item.status)
    row.delivered_hash = item.delivered_hash
    row.review_ends_at = item.review_ends_at
    row.to_payee, row.fee, row.to_payer = item.to_payee, item.fee, item.to_payer


def _sources(rows: Iterable[m.ChainLog]) -> list[str]:
    """Where each log came from, as it stays when the chain reorganises: its transaction's hash and its
    place among that transaction's escrow logs (the log index counts every log in the block, so it moves
    when the transaction is mined in another block)."""
    seen: dict[bytes, int] = defaultdict(int)
    sources = []
    for row in rows:
        sources.append(f"{row.tx_hash.hex()}:{seen[row.tx_hash]}")
        seen[row.tx_hash] += 1
    return sources


def _changes(old: int, old_delivered: bytes | None, item: InstalmentState) -> list[str]:
    new = int(item.status)
    gained = new & ~old
    kinds = []
    if gained & InstalmentStatus.FUNDED:
        kinds.append("instalment.funded")
    if item.delivered_hash is not None and item.delivered_hash != old_delivered:
        kinds.append("instalment.materials_submitted")
    if gained & InstalmentStatus.CONDITION_MET:
        kinds.append("instalment.release_condition_met")
    if gained & InstalmentStatus.DISPUTED:
        kinds.append("instalment.disputed")
    if gained & InstalmentStatus.CLOSED:
        if new & InstalmentStatus.DISPUTED:
            kinds.append("instalment.dispute_resolved")
        elif item.to_payee or item.fee:
            kinds.append("instalment.released")
        else:
            kinds.append("instalment.refunded")
    return kinds


def _instalment_data(index: int, item: InstalmentState) -> dict[str, object]:
    return {
        "index": index,
        "status": int(item.status),
        "amount": str(item.terms.amount),
        "to_payee": str(item.to_payee),
        "fee": str(item.fee),
        "to_payer": str(item.to_payer),
    }
