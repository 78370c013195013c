"""Onboarding: a party applies with its qualification documents; an operator reviews it.

On approval the platform approves the party on chain; the account opens (ACTIVE) only when the indexer
sees the chain's PartyApproved event, because the platform never assumes a transaction succeeded because
it sent it. Suspension and reinstatement follow the chain the same way.
"""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.plans import PartyRole
from daifa.domain.workflow import Workflow

ROLES = {"payer": PartyRole.PAYER, "payee": PartyRole.PAYEE, "both": PartyRole.PAYER | PartyRole.PAYEE}
"""The roles a party applies for (its `kind`): what it may act as under products and plans."""


class PartyStatus(StrEnum):
    SUBMITTED = "submitted"
    DOCUMENTS_REQUESTED = "documents_requested"
    APPROVED = "approved"  # the operator approved; the chain has not confirmed yet
    ACTIVE = "active"  # approved on chain: the account is open
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class PartyEvent(StrEnum):
    REQUEST_DOCUMENTS = "request_documents"  # operator, with a comment
    RESUBMIT = "resubmit"  # party, with further documents
    APPROVE = "approve"  # operator, with a comment
    REJECT = "reject"  # operator, with a reason
    APPROVAL_CONFIRMED = "approval_confirmed"  # indexer: PartyApproved
    SUSPENSION_CONFIRMED = "suspension_confirmed"  # indexer: PartySuspended
    REINSTATEMENT_CONFIRMED = "reinstatement_confirmed"  # indexer: PartyReinstated


S, E = PartyStatus, PartyEvent

ONBOARDING: Workflow[PartyStatus, PartyEvent] = Workflow(
    name="party application",
    initial=S.SUBMITTED,
    moves={
        (S.SUBMITTED, E.REQUEST_DOCUMENTS): S.DOCUMENTS_REQUESTED,
        (S.SUBMITTED, E.APPROVE): S.APPROVED,
        (S.SUBMITTED, E.REJECT): S.REJECTED,
        (S.DOCUMENTS_REQUESTED, E.RESUBMIT): S.SUBMITTED,
        (S.DOCUMENTS_REQUESTED, E.REJECT): S.REJECTED,
        (S.APPROVED, E.APPROVAL_CONFIRMED): S.ACTIVE,
        (S.ACTIVE, E.SUSPENSION_CONFIRMED): S.SUSPENDED,
        (S.SUSPENDED, E.REINSTATEMENT_CONFIRMED): S.ACTIVE,
    },
)
