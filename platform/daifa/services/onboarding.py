"""Onboarding: a party applies with its qualification documents, the operator reviews, and on approval
the platform approves the party on chain. The account opens when the indexer sees PartyApproved."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain.relayer import enqueue
from daifa.domain.limits import MAX_TEXT
from daifa.domain.onboarding import ONBOARDING, ROLES, PartyEvent, PartyStatus
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import credentials, documents, records
from daifa.services.checks import check_address, check_text
from daifa.services.context import Actor, Ports, Role
from daifa.services.documents import Upload
from daifa.services.notifications import emit
from daifa.services.subjects import Subject
from daifa.store import models as m


def apply(
    session: Session, ports: Ports, address: str, legal_name: str, kind: str, uploads: Sequence[Upload]
) -> tuple[m.Party, str]:
    """A new application. Returns the party and its API key, which works at once for the application
    itself (status, more documents) and for everything else once the account opens."""
    address = check_address(address)
    legal_name = check_text(legal_name, "legal_name")
    if kind not in ROLES:
        raise InvalidInput([Problem("kind", "must be payer, payee or both")])
    if session.scalars(select(m.Party.id).where(m.Party.address == address)).first() is not None:
        raise Conflict(f"{address} has already applied: use that party's API key, or apply with another wallet")
    party = m.Party(address=address, legal_name=legal_name, kind=kind, status=ONBOARDING.initial)
    session.add(party)
    session.flush()
    documents.store(
        session, ports, uploads, purpose="qualification", subject=Subject.of(party), owner_party_id=party.id
    )
    key = credentials.issue(session, Role.PARTY, party.id)
    emit(session, "party.submitted", records.public_id(m.Party, party.id), {"status": party.status}, [party.id])
    return party, key


def add_documents(session: Session, ports: Ports, actor: Actor, party_id: str, uploads: Sequence[Upload]) -> m.Party:
    party = records.get_party(session, actor, party_id, for_update=True)
    if party.status == PartyStatus.DOCUMENTS_REQUESTED:
        party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.RESUBMIT)
    elif party.status != PartyStatus.SUBMITTED:
        raise Conflict(f"the application is {party.status}: documents are added only while it is under review")
    documents.store(
        session, ports, uploads, purpose="qualification", subject=Subject.of(party), owner_party_id=party.id
    )
    _emit(session, party, "party.documents_added")
    return party


def request_documents(session: Session, actor: Actor, party_id: str, comment: str) -> m.Party:
    return _review(
        session, actor, party_id, PartyEvent.REQUEST_DOCUMENTS, ("comment", comment), "party.documents_requested"
    )


def reject(session: Session, actor: Actor, party_id: str, reason: str) -> m.Party:
    return _review(session, actor, party_id, PartyEvent.REJECT, ("reason", reason), "party.rejected")


def _review(
    session: Session, actor: Actor, party_id: str, event: PartyEvent, note: tuple[str, str], kind: str
) -> m.Party:
    """An operator's review step with its note (`note` is the field's name and its text)."""
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    party.status = ONBOARDING.next(PartyStatus(party.status), event)
    party.review_note = check_text(note[1], note[0], MAX_TEXT)
    _emit(session, party, kind)
    return party


def approve(session: Session, ports: Ports, actor: Actor, party_id: str, comment: str) -> m.Party:
    """Approves the application and sends approveParty with the hash of the documents reviewed."""
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.APPROVE)
    party.review_note = check_text(comment, "comment", MAX_TEXT, required=False)
    reviewed = documents.of_subject(session, Subject.of(party), "qualification")
    party.documents_hash = documents.set_hash(d.hash for d in reviewed)
    data = ports.chain.encode("approveParty", party.address, int(ROLES[party.kind]), party.documents_hash)
    enqueue(session, "approve_party", str(Subject.of(party)), ports.chain.escrow_address, data)
    _emit(session, party, "party.approved")
    return party


def suspend(session: Session, ports: Ports, actor: Actor, party_id: str) -> m.Party:
    return _switch(session, ports, actor, party_id, "suspendParty", PartyStatus.ACTIVE)


def reinstate(session: Session, ports: Ports, actor: Actor, party_id: str) -> m.Party:
    return _switch(session, ports, actor, party_id, "reinstateParty", PartyStatus.SUSPENDED)


def _switch(session: Session, ports: Ports, actor: Actor, party_id: str, function: str, needs: PartyStatus) -> m.Party:
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    if party.status != needs:
        raise Conflict(f"the party is {party.status}; {function} needs it {needs.value}")
    data = ports.chain.encode(function, party.address)
    enqueue(session, function, str(Subject.of(party)), ports.chain.escrow_address, data)
    return party


def _emit(session: Session, party: m.Party, kind: str) -> None:
    data = {"status": party.status, "note": party.review_note}
    emit(session, kind, records.public_id(m.Party, party.id), data, [party.id])
