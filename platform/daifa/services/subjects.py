"""What a signature request, a document or a transaction is about: a party, a product, a plan or an action.

A subject is stored as text (`plan:3`) beside the rows that point at it, shown to callers as the record's
public id (`pln_3`), and decides who besides the operator may see what is about it. The platform's own
work has subjects that are not records (`scheduler:release`, `signer:0x...`): `Subject.parse` answers
None for those.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from daifa.services import records
from daifa.store import models as m


class Kind(StrEnum):
    PARTY = "party"
    PRODUCT = "product"
    PLAN = "plan"
    ACTION = "action"


MODELS: dict[Kind, type[m.Party | m.Product | m.Plan | m.PlanAction]] = {
    Kind.PARTY: m.Party,
    Kind.PRODUCT: m.Product,
    Kind.PLAN: m.Plan,
    Kind.ACTION: m.PlanAction,
}
KINDS = {model: kind for kind, model in MODELS.items()}


@dataclass(frozen=True)
class Subject:
    kind: Kind
    id: int

    @classmethod
    def of(cls, row: m.Party | m.Product | m.Plan | m.PlanAction) -> Subject:
        return cls(KINDS[type(row)], row.id)

    @classmethod
    def parse(cls, text: str) -> Subject | None:
        """`plan:3` as a Subject; None for what is not a record (the scheduler's batches, the signer)."""
        kind, _, key = text.partition(":")
        if kind not in Kind.__members__.values() or not key.isdigit():
            return None
        return cls(Kind(kind), int(key))

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def model(self) -> type[m.Party | m.Product | m.Plan | m.PlanAction]:
        return MODELS[self.kind]

    @property
    def public_id(self) -> str:
        return records.public_id(self.model, self.id)

    def plan(self, session: Session) -> m.Plan | None:
        """The plan a plan or an action is about; None for parties and products."""
        if self.kind == Kind.PLAN:
            return session.get(m.Plan, self.id)
        if self.kind == Kind.ACTION:
            action = session.get(m.PlanAction, self.id)
            return session.get(m.Plan, action.plan_id) if action is not None else None
        return None

    def parties(self, session: Session) -> set[int]:
        """Who, besides the operator, may see the subject: its documents, its signature requests' outcome
        and the events about it."""
        if self.kind == Kind.PARTY:
            return {self.id}
        if self.kind == Kind.PRODUCT:
            product = session.get(m.Product, self.id)
            return {product.payer_id, product.payee_id} if product is not None else set()
        plan = self.plan(session)
        return {plan.payer_id, plan.payee_id} if plan is not None else set()


def public(text: str) -> str:
    """A stored subject as callers see it: `plan:3` as `pln_3`; what is not a record stays as it is."""
    subject = Subject.parse(text)
    return subject.public_id if subject is not None else text


def parties(session: Session, text: str) -> set[int]:
    """Who besides the operator may see what is about the stored subject `text` (nobody, if not a record)."""
    subject = Subject.parse(text)
    return subject.parties(session) if subject is not None else set()
