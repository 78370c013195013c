"""Re-verifying a stored document: its bytes still hash to its id, and the chain holds that hash (alone,
or within the set hash of the documents it was submitted with). The chain is read directly, not the
indexer's copy, so the check stands on its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from daifa.services import documents
from daifa.services.context import Ports
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
    _, _, key = document.subject.partition(":")
    siblings = documents.of_subject(session, document.subject, document.purpose)
    set_hash = documents.set_hash(d.hash for d in siblings)
    escrow = ports.chain.escrow
    if document.purpose == "qualification":
        party = session.get(m.Party, int(key))
        assert party is not None
        _, _, recorded = ports.chain.party(party.address)
        return recorded == set_hash, f"the party's reviewed-documents hash on chain is 0x{recorded.hex()}"
    if document.purpose == "agreement":
        product = session.get(m.Product, int(key))
        if product is None or product.chain_agreement_set_id is None:
            return False, "the product's agreement set is not on chain yet"
        logs = escrow.events.AgreementSetRecorded.get_logs(
            argument_filters={"agreementSetId": product.chain_agreement_set_id}, from_block=0
        )
        hashes = {
            bytes(log["args"]["params"][field])
            for log in logs
            for field in ("payerPlatformAgreement", "payeePlatformAgreement", "payerPayeeAgreement")
        }
        return document.hash in hashes, f"agreement set {product.chain_agreement_set_id} on chain"
    if document.purpose in ("materials", "evidence"):
        action = session.get(m.PlanAction, int(key))
        plan = session.get(m.Plan, action.plan_id) if action else None
        if action is None or plan is None or plan.chain_plan_id is None:
            return False, "the plan is not on chain"
        index = action.indices[0]
        if document.purpose == "materials":
            delivered, _ = ports.chain.materials(plan.chain_plan_id, index)
            return delivered == set_hash, f"instalment {index}'s delivered-materials hash on chain"
        logs = escrow.events.Disputed.get_logs(argument_filters={"planId": plan.chain_plan_id}, from_block=0)
        reasons = {bytes(log["args"]["reasonHash"]) for log in logs if log["args"]["index"] == index}
        return set_hash in reasons, f"the dispute of instalment {index} on chain"
    return None, f"{document.purpose.replace('_', ' ')} documents are reviewed by the operator, not recorded on chain"
