"""The escrow's events folded into state: every plan, its instalments' statuses, and where every token
went. The indexer keeps the platform's view this way, and anyone can rebuild it from the chain's logs
alone to check the platform (nothing here reads the chain)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daifa.domain.plans import Instalment, InstalmentStatus, PlanParams


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log of the escrow, in chain order. `args` are the event's fields by their Solidity
    names, with PlanRecorded's and PlanAmended's `params` as PlanParams and their packed instalments as
    `instalments`, a list of Instalment (see daifa.chain.events.decode_escrow_logs)."""

    name: str
    args: Mapping[str, Any]
    block_number: int
    log_index: int


@dataclass
class InstalmentState:
    terms: Instalment
    status: InstalmentStatus = InstalmentStatus.UNFUNDED
    delivered_hash: bytes | None = None
    review_ends_at: int | None = None
    to_payee: int = 0
    fee: int = 0
    to_payer: int = 0

    @property
    def paid_out(self) -> int:
        return self.to_payee + self.fee + self.to_payer


@dataclass
class PlanState:
    plan_id: int
    consent_hash: bytes
    params: PlanParams
    instalments_root: bytes
    instalments: list[InstalmentState] = field(default_factory=list)

    @property
    def deposited(self) -> int:
        return sum(i.terms.amount for i in self.instalments if i.status & InstalmentStatus.FUNDED)

    @property
    def paid_out(self) -> int:
        return sum(i.paid_out for i in self.instalments)


class LedgerMismatch(Exception):
    """An event contradicts what the earlier events said: the log is incomplete or out of order."""


class Ledger:
    def __init__(self) -> None:
        self.plans: dict[int, PlanState] = {}
        self.credits: dict[tuple[str, str], int] = defaultdict(int)
        self._handlers: dict[str, Callable[[ChainEvent], None]] = {
            "PlanRecorded": self._plan_recorded,
            "PlanAmended": self._plan_amended,
            "Deposited": self._deposited,
            "PayerApproved": self._condition_met,
            "MaterialsSubmitted": self._materials_submitted,
            "MaterialsAttested": self._materials_attested,
            "Disputed": self._disputed,
            "Released": self._released,
            "DisputeResolved": self._dispute_resolved,
            "InstalmentCancelled": self._cancelled,
            "Refunded": self._refunded,
            "PaymentDeferred": self._payment_deferred,
            "Withdrawn": self._withdrawn,
        }

    def apply_all(self, events: Iterable[ChainEvent]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: ChainEvent) -> None:
        """Folds one event in; events the ledger does not track (parties, pauses, skips) pass through."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(event)

    def held(self, token: str) -> int:
        """What the escrow should hold of `token`: deposits less payouts, credited payouts included."""
        plans = [p for p in self.plans.values() if p.params.token.lower() == token.lower()]
        owed = sum(amount for (credit_token, _), amount in self.credits.items() if credit_token == token.lower())
        return sum(p.deposited - p.paid_out for p in plans) + owed

    # ------------------------------------------------------------------------------------- handlers

    def _plan_recorded(self, event: ChainEvent) -> None:
        a = event.args
        plan_id = int(a["planId"])
        if plan_id in self.plans:
            raise LedgerMismatch(f"plan {plan_id} recorded twice")
        instalments = [InstalmentState(i) for i in a["instalments"]]
        self.plans[plan_id] = PlanState(plan_id, a["consentHash"], a["params"], a["instalmentsRoot"], instalments)

    def _plan_amended(self, event: ChainEvent) -> None:
        plan = self._plan(event)
        amended: list[Instalment] = event.args["instalments"]
        kept = plan.instalments[: len(amended)]
        for index, terms in enumerate(amended):
            if index >= len(kept):
                kept.append(InstalmentState(terms))
            elif kept[index].terms != terms:
                if kept[index].status != InstalmentStatus.UNFUNDED or kept[index].delivered_hash is not None:
                    raise LedgerMismatch(f"plan {plan.plan_id} amended instalment {index}, which was touched")
                kept[index] = InstalmentState(terms)
        plan.instalments = kept
        plan.instalments_root = event.args["instalmentsRoot"]

    def _deposited(self, event: ChainEvent) -> None:
        item = self._instalment(event)
        if item.status & (InstalmentStatus.FUNDED | InstalmentStatus.CLOSED):
            raise LedgerMismatch(f"deposit into an instalment that is {item.status!r}")
        if int(event.args["amount"]) != item.terms.amount:
            raise LedgerMismatch("a deposit of other than the instalment's amount")
        item.status |= InstalmentStatus.FUNDED

    def _condition_met(self, event: ChainEvent) -> None:
        self._instalment(event).status |= InstalmentStatus.CONDITION_MET

    def _materials_submitted(self, event: ChainEvent) -> None:
        self._instalment(event).delivered_hash = bytes(event.args["deliveredHash"])

    def _materials_attested(self, event: ChainEvent) -> None:
        item = self._instalment(event)
        item.status |= InstalmentStatus.CONDITION_MET
        item.review_ends_at = int(event.args["reviewEndsAt"])

    def _disputed(self, event: ChainEvent) -> None:
        self._instalment(event).status |= InstalmentStatus.DISPUTED

    def _released(self, event: ChainEvent) -> None:
        item = self._close(event)
        item.to_payee += int(event.args["toPayee"])
        item.fee += int(event.args["fee"])

    def _dispute_resolved(self, event: ChainEvent) -> None:
        item = self._close(event)
        item.to_payee += int(event.args["toPayee"])
        item.to_payer += int(event.args["toPayer"])

    def _cancelled(self, event: ChainEvent) -> None:
        self._close(event).to_payer += int(event.args["refunded"])

    def _refunded(self, event: ChainEvent) -> None:
        self._close(event).to_payer += int(event.args["amount"])

    def _payment_deferred(self, event: ChainEvent) -> None:
        self.credits[(str(event.args["token"]).lower(), str(event.args["account"]).lower())] += int(
            event.args["amount"]
        )

    def _withdrawn(self, event: ChainEvent) -> None:
        key = (str(event.args["token"]).lower(), str(event.args["account"]).lower())
        if self.credits[key] < int(event.args["amount"]):
            raise LedgerMismatch("a withdrawal of more than was credited")
        self.credits[key] -= int(event.args["amount"])

    # ------------------------------------------------------------------------------------- lookups

    def _plan(self, event: ChainEvent) -> PlanState:
        plan_id = int(event.args["planId"])
        try:
            return self.plans[plan_id]
        except KeyError:
            raise LedgerMismatch(f"{event.name} for plan {plan_id}, which was never recorded") from None

    def _instalment(self, event: ChainEvent) -> InstalmentState:
        plan = self._plan(event)
        index = int(event.args["index"])
        if index >= len(plan.instalments):
            raise LedgerMismatch(f"{event.name} for instalment {index} of a plan of {len(plan.instalments)}")
        return plan.instalments[index]

    def _close(self, event: ChainEvent) -> InstalmentState:
        item = self._instalment(event)
        if item.status & InstalmentStatus.CLOSED:
            raise LedgerMismatch(f"{event.name} for an instalment already closed")
        item.status |= InstalmentStatus.CLOSED
        return item


def _credit_key(event: ChainEvent) -> tuple[str, str]:
    return (str(event.args["token"]).lower(), str(event.args["account"]).lower())
