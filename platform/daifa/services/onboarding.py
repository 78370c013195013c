"""Onboarding: a party applies with its qualification documents, the operator reviews, and on approval
the platform approves the party on chain. The account opens when the indexer sees PartyApproved."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from eth_utils.address import is_address, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain.relayer import enqueue
from daifa.domain.onboarding import ONBOARDING, PartyEvent, PartyStatus
from daifa.domain.plans import PartyRole
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import credentials, documents, records
from daifa.services.context import Actor, Ports, Role
from daifa.services.documents import Upload
from daifa.services.notifications import emit
from daifa.store import models as m

KINDS = {"payer": PartyRole.PAYER, "payee": PartyRole.PAYEE, "both": PartyRole.PAYER | PartyRole.PAYEE}
MAX_TEXT = 2_000


def check_address(value: str, field: str = "address") -> str:
    """A checksummed address, or InvalidInput saying how an address looks."""
    if not isinstance(value, str) or not is_address(value) or value.lower() == "0x" + "00" * 20:
        raise InvalidInput([Problem(field, "must be a non-zero 0x-prefixed 20-byte hex address")])
    digits = value[2:]
    mixed_case = digits not in (digits.lower(), digits.upper())
    if mixed_case and to_checksum_address(value) != value:
        raise InvalidInput([Problem(field, "has a wrong EIP-55 checksum: copy the address again")])
    return to_checksum_address(value)


def check_text(value: str, field: str, max_length: int = 200, required: bool = True) -> str:
    text = unicodedata.normalize("NFC", value or "").strip()
    if required and not text:
        raise InvalidInput([Problem(field, "is required")])
    if len(text) > max_length:
        raise InvalidInput([Problem(field, f"is {len(text)} characters; the most is {max_length}")])
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInput([Problem(field, "must not contain control characters")])
    return text


def apply(
    session: Session, ports: Ports, address: str, legal_name: str, kind: str, uploads: Sequence[Upload]
) -> tuple[m.Party, str]:
    """A new application. Returns the party and its API key, which works at once for the application
    itself (status, more documents) and for everything else once the account opens."""
    address = check_address(address)
    legal_name = check_text(legal_name, "legal_name")
    if kind not in KINDS:
        raise InvalidInput([Problem("kind", "must be payer, payee or both")])
    if session.scalars(select(m.Party.id).where(m.Party.address == address)).first() is not None:
        raise Conflict(f"{address} has already applied: use that party's API key, or apply with another wallet")
    party = m.Party(address=address, legal_name=legal_name, kind=kind, status=ONBOARDING.initial)
    session.add(party)
    session.flush()
    documents.store(
        session, ports, uploads, purpose="qualification", subject=f"party:{party.id}", owner_party_id=party.id
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
        session, ports, uploads, purpose="qualification", subject=f"party:{party.id}", owner_party_id=party.id
    )
    _emit(session, party, "party.documents_added")
    return party


def request_documents(session: Session, actor: Actor, party_id: str, comment: str) -> m.Party:
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.REQUEST_DOCUMENTS)
    party.review_note = check_text(comment, "comment", MAX_TEXT)
    _emit(session, party, "party.documents_requested")
    return party


def reject(session: Session, actor: Actor, party_id: str, reason: str) -> m.Party:
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.REJECT)
    party.review_note = check_text(reason, "reason", MAX_TEXT)
    _emit(session, party, "party.rejected")
    return party


def approve(session: Session, ports: Ports, actor: Actor, party_id: str, comment: str) -> m.Party:
    """Approves the application and sends approveParty with the hash of the documents reviewed."""
    actor.require_operator()
    party = records.get_party(session, actor, party_id, for_update=True)
    party.status = ONBOARDING.next(PartyStatus(party.status), PartyEvent.APPROVE)
    party.review_note = check_text(comment, "comment", MAX_TEXT, required=False)
    reviewed = documents.of_subject(session, f"party:{party.id}", "qualification")
    party.documents_hash = documents.set_hash(d.hash for d in reviewed)
    data = ports.chain.encode("approveParty", party.address, int(KINDS[party.kind]), party.documents_hash)
    enqueue(session, "approve_party", f"party:{party.id}", ports.chain.escrow_address, data)
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
    enqueue(session, function, f"party:{party.id}", ports.chain.escrow_address, data)
    return party


def require_active(session: Session, party_id: int, role: PartyRole, field: str = "party") -> m.Party:
    party = session.get(m.Party, party_id)
    if party is None or party.status != PartyStatus.ACTIVE:
        raise Conflict(f"{field}: the account is not open (approved on chain) yet; wait for party.activated")
    if not KINDS[party.kind] & role:
        raise Conflict(
            f"{field}: {records.public_id(m.Party, party.id)} did not apply as a {(role.name or str(role)).lower()}"
        )
    return party


def _emit(session: Session, party: m.Party, kind: str) -> None:
    data = {"status": party.status, "note": party.review_note}
    emit(session, kind, records.public_id(m.Party, party.id), data, [party.id])
