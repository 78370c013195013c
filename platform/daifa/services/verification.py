"""Re-verifying a stored document: its bytes still hash to its id, and the chain holds that hash (alone,
or within the set hash of the documents it was submitted with). The chain is read directly, not the
indexer's copy, so the check stands on its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from daifa.services import documents
from daifa.services.context import Ports
from daifa.services.subjects import Subject
from daifa.store import models as m
from daifa.store.documents import DocumentCorrupted


@dataclass(frozen=True)
class Verification:
    intact: bool  # the stored bytes hash to the document's id
    on_chain: bool | None  # None: this kind of document is not recorded on chain
    detail: str


def verify(session: Session, ports: Ports, document: m.Document) -> Verification:
    try:
        ports.documents.get(document.hash)
        intact = True
    except DocumentCorrupted:
        intact = False
    on_chain, detail = _on_chain(session, ports, document)
    return Verification(intact, on_chain, detail)


def _on_chain(session: Session, ports: Ports, document: m.Document) -> tuple[bool | None, str]:
    """Whether the chain holds the document's hash, or the set hash of its siblings (the documents of its
    subject and purpose), with where it looked; None for documents the chain does not record."""
    check = _CHECKS.get(document.purpose)
    if check is None:
        return (
            None,
            f"{document.purpose.replace('_', ' ')} documents are reviewed by the operator, not recorded on chain",
        )
    subject = Subject.parse(document.subject)
    assert subject is not None  # documents are kept for records only
    siblings = documents.of_subject(session, subject, document.purpose)
    return check(session, ports, subject, document.hash, documents.set_hash(d.hash for d in siblings))


def _qualification(session: Session, ports: Ports, subject: Subject, _hash: bytes, set_hash: bytes) -> Checked:
    party = session.get(m.Party, subject.id)
    assert party is not None
    _, _, recorded = ports.chain.party(party.address)
    return recorded == set_hash, f"the party's reviewed-documents hash on chain is 0x{recorded.hex()}"


def _agreement(session: Session, ports: Ports, subject: Subject, document_hash: bytes, _set_hash: bytes) -> Checked:
    product = session.get(m.Product, subject.id)
    if product is None or product.chain_agreement_set_id is None:
        return False, "the product's agreement set is not on chain yet"
    logs = ports.chain.escrow.events.AgreementSetRecorded.get_logs(
        argument_filters={"agreementSetId": product.chain_agreement_set_id}, from_block=0
    )
    hashes = {
        bytes(log["args"]["params"][field])
        for log in logs
        for field in ("payerPlatformAgreement", "payeePlatformAgreement", "payerPayeeAgreement")
    }
    return document_hash in hashes, f"agreement set {product.chain_agreement_set_id} on chain"


def _materials(session: Session, ports: Ports, subject: Subject, _hash: bytes, set_hash: bytes) -> Checked:
    found = _instalment_of(session, subject)
    if found is None:
        return False, "the plan is not on chain"
    plan_id, index = found
    delivered, _ = ports.chain.materials(plan_id, index)
    return delivered == set_hash, f"instalment {index}'s delivered-materials hash on chain"


def _evidence(session: Session, ports: Ports, subject: Subject, _hash: bytes, set_hash: bytes) -> Checked:
    found = _instalment_of(session, subject)
    if found is None:
        return False, "the plan is not on chain"
    plan_id, index = found
    logs = ports.chain.escrow.events.Disputed.get_logs(argument_filters={"planId": plan_id}, from_block=0)
    reasons = {bytes(log["args"]["reasonHash"]) for log in logs if log["args"]["index"] == index}
    return set_hash in reasons, f"the dispute of instalment {index} on chain"


def _instalment_of(session: Session, subject: Subject) -> tuple[int, int] | None:
    """(chain plan id, index) of the instalment an action is about, once its plan is on chain."""
    action = session.get(m.PlanAction, subject.id)
    plan = subject.plan(session)
    if action is None or plan is None or plan.chain_plan_id is None:
        return None
    return plan.chain_plan_id, action.indices[0]


Checked = tuple[bool | None, str]
_CHECKS: dict[str, Callable[[Session, Ports, Subject, bytes, bytes], Checked]] = {
    "qualification": _qualification,
    "agreement": _agreement,
    "materials": _materials,
    "evidence": _evidence,
}
