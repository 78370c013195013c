"""Product opening: the payee applies to open the disbursement product for a piece of business with a
payer, the operator reviews, the payer authorises the credit, three agreements are generated and signed
by both parties, and the agreement set is recorded on chain (OPEN once the indexer sees it)."""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.workflow import Workflow


class ProductStatus(StrEnum):
    SUBMITTED = "submitted"
    DOCUMENTS_REQUESTED = "documents_requested"
    REJECTED = "rejected"
    AWAITING_CREDIT_AUTHORISATION = "awaiting_credit_authorisation"
    CREDIT_DECLINED = "credit_declined"
    AWAITING_SIGNATURES = "awaiting_signatures"  # the three agreements are generated
    RECORDING = "recording"  # both signed; the agreement set is in the relayer's outbox
    OPEN = "open"  # the indexer saw AgreementSetRecorded
    EXPIRED = "expired"


class ProductEvent(StrEnum):
    REQUEST_DOCUMENTS = "request_documents"  # operator
    RESUBMIT = "resubmit"  # payee (or the payer adding its copy of the contract)
    APPROVE = "approve"  # operator
    REJECT = "reject"  # operator
    AUTHORISE_CREDIT = "authorise_credit"  # payer
    DECLINE_CREDIT = "decline_credit"  # payer
    SIGNATURES_COMPLETE = "signatures_complete"  # the second party's signature arrived
    RECORD_CONFIRMED = "record_confirmed"  # indexer: AgreementSetRecorded
    EXPIRE = "expire"  # the chain's clock passed the agreement set's expiry


S, E = ProductStatus, ProductEvent

PRODUCT_OPENING: Workflow[ProductStatus, ProductEvent] = Workflow(
    name="product opening",
    initial=S.SUBMITTED,
    moves={
        (S.SUBMITTED, E.REQUEST_DOCUMENTS): S.DOCUMENTS_REQUESTED,
        (S.SUBMITTED, E.APPROVE): S.AWAITING_CREDIT_AUTHORISATION,
        (S.SUBMITTED, E.REJECT): S.REJECTED,
        (S.DOCUMENTS_REQUESTED, E.RESUBMIT): S.SUBMITTED,
        (S.DOCUMENTS_REQUESTED, E.REJECT): S.REJECTED,
        (S.AWAITING_CREDIT_AUTHORISATION, E.AUTHORISE_CREDIT): S.AWAITING_SIGNATURES,
        (S.AWAITING_CREDIT_AUTHORISATION, E.DECLINE_CREDIT): S.CREDIT_DECLINED,
        (S.AWAITING_SIGNATURES, E.SIGNATURES_COMPLETE): S.RECORDING,
        (S.RECORDING, E.RECORD_CONFIRMED): S.OPEN,
        (S.OPEN, E.EXPIRE): S.EXPIRED,
    },
)
