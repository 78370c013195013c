"""Signature requests: EIP-712 typed data the platform prepared and a party signs with its own wallet.

The party's key never reaches the platform: it fetches the request, signs the payload locally (the same
eth_signTypedData_v4 a browser wallet shows) and posts the signature back. A signature is checked
against the party's address on arrival; once everything a record waits for is signed, the flow that
owns the record goes on: the handler the composition root wired for the subject's kind
(`Ports.signatures_complete`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain.typed_data import as_json, payload_digest, recover_signer
from daifa.domain.limits import MAX_SIGNATURE_BYTES
from daifa.domain.signature_requests import SIGNATURE_REQUEST, SignatureEvent, SignatureStatus
from daifa.errors import Conflict, InvalidInput, NotFound, Problem
from daifa.safe import reason as safe_reason
from daifa.services import records, signing_context
from daifa.services.checks import each_or_none
from daifa.services.context import Actor, Ports
from daifa.services.notifications import emit
from daifa.services.subjects import Subject
from daifa.store import models as m

SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def request(
    session: Session, ports: Ports, party_id: int, subject: Subject, purpose: str, typed: dict[str, Any]
) -> m.SignatureRequest:
    """Asks `party_id` to sign `typed`, with what a person needs to read it (daifa.services.signing_context)."""
    row = m.SignatureRequest(
        party_id=party_id,
        subject=str(subject),
        purpose=purpose,
        typed_data=as_json(typed),
        context=signing_context.of(session, ports, subject),
        status=SIGNATURE_REQUEST.initial,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        "signature_request.created",
        records.public_id(m.SignatureRequest, row.id),
        {"purpose": purpose, "subject": str(subject)},
        [party_id],
    )
    return row


def get(session: Session, actor: Actor, request_id: str) -> m.SignatureRequest:
    row = records.get(session, m.SignatureRequest, request_id)
    if not records.visible_to(actor, row.party_id):
        raise NotFound(f"no signature request {request_id}: check the id")
    return row


def of_subject(session: Session, subject: Subject) -> list[m.SignatureRequest]:
    return list(
        session.scalars(
            select(m.SignatureRequest).where(m.SignatureRequest.subject == str(subject)).order_by(m.SignatureRequest.id)
        )
    )


def signature_of(session: Session, subject: Subject, purpose: str, party_id: int) -> bytes | None:
    for row in of_subject(session, subject):
        if row.purpose == purpose and row.party_id == party_id and row.status == SignatureStatus.SIGNED:
            return row.signature
    return None


def joint_authorization(
    session: Session,
    subject: Subject,
    purpose: str,
    parties: tuple[int, int],
    nonces: tuple[int, int],
    deadline: int,
) -> tuple[object, ...]:
    """The contracts' JointAuthorization from the payer's and the payee's signatures on `subject`."""
    payer, payee = parties
    return abi.joint_authorization(
        nonces[0],
        nonces[1],
        deadline,
        signature_of(session, subject, purpose, payer) or b"",
        signature_of(session, subject, purpose, payee) or b"",
    )


def all_signed(session: Session, subject: Subject) -> bool:
    rows = [r for r in of_subject(session, subject) if r.status != SignatureStatus.VOID]
    return bool(rows) and all(r.status == SignatureStatus.SIGNED for r in rows)


def void(session: Session, subject: Subject) -> None:
    session.execute(
        update(m.SignatureRequest)
        .where(m.SignatureRequest.subject == str(subject), m.SignatureRequest.status == SignatureStatus.PENDING)
        .values(status=SignatureStatus.VOID)
    )


def check(session: Session, ports: Ports, actor: Actor, request_id: str, signature_hex: str) -> bytes:
    """Checks the signature over the request's typed data, in a read-only session before `submit`'s write
    transaction: recovering it costs milliseconds, and a contract wallet's takes a call to the node, which
    must not happen while the database's write lock is held (on SQLite every writer, the relayer's too,
    would wait on the node). Neither a request's typed data nor a party's address ever changes, so the
    check still holds in `submit`. Returns the signature's bytes."""
    row = _pending(session, actor, request_id)
    signature = _parse_signature(signature_hex)
    party = session.get(m.Party, row.party_id)
    assert party is not None
    _check(ports, party.address, row.typed_data, signature)
    return signature


def check_many(session: Session, ports: Ports, actor: Actor, signed: Sequence[tuple[str, str]]) -> list[bytes]:
    """`check` for each (request id, signature) of a batch; every refusal is listed, by its place in the
    batch (`signatures[3].signature`), so the whole batch is refused or none of it."""
    ids = [request_id for request_id, _ in signed]
    return each_or_none("signatures", ids, lambda i: check(session, ports, actor, *signed[i]), id_field="request")


def submit(session: Session, ports: Ports, actor: Actor, request_id: str, signature: bytes) -> m.SignatureRequest:
    """Stores a signature `check` accepted, if its request is still pending (another request may have
    signed or voided it meanwhile); once everything the subject waits for is signed, its flow goes on."""
    row = _pending(session, actor, request_id, for_update=True)
    row.signature = signature
    row.status = SIGNATURE_REQUEST.next(SignatureStatus(row.status), SignatureEvent.SIGN)
    session.flush()
    subject = Subject.parse(row.subject)
    assert subject is not None, row.subject  # requests are made for records only
    if all_signed(session, subject):
        ports.signatures_complete[subject.kind](session, ports, subject.id)
    return row


def _pending(session: Session, actor: Actor, request_id: str, *, for_update: bool = False) -> m.SignatureRequest:
    party_id = actor.require_party()
    row = records.get(session, m.SignatureRequest, request_id, for_update=for_update)
    if row.party_id != party_id:
        raise NotFound(f"no signature request {request_id}: check the id")
    if row.status != SignatureStatus.PENDING:
        raise Conflict(f"this request is {row.status}: nothing more to sign here")
    return row


def _check(ports: Ports, address: str, typed: dict[str, Any], signature: bytes) -> None:
    """Accepts `signature` by `address` exactly as the escrow will: a 65-byte ECDSA signature that recovers
    to the address (with a low s, as OpenZeppelin's ECDSA requires), or, where the address is a contract
    wallet (a multisig), one its ERC-1271 `isValidSignature` accepts. Refusals say why."""
    signer = _recovered(typed, signature)
    if signer == address:
        return
    if ports.chain.has_code(address):
        refusal = ports.chain.erc1271_refusal(address, payload_digest(typed), signature)
        if refusal is None:
            return
        raise InvalidInput(
            [
                Problem(
                    "signature",
                    f"your contract wallet {address} does not accept it: {safe_reason(refusal)}. For a Safe, enough "
                    "owners sign the SafeMessage over this request's digest (`daifa sign` gathers them)",
                )
            ]
        )
    raise InvalidInput(
        [
            Problem(
                "signature",
                f"was made by {signer or 'no valid key'}, not by your wallet {address}: sign this "
                "request's typed_data, unchanged, with that wallet (eth_signTypedData_v4)",
            )
        ]
    )


def _recovered(typed: dict[str, Any], signature: bytes) -> str | None:
    if len(signature) != 65 or int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_ORDER:
        return None
    try:
        return recover_signer(typed, signature)
    except Exception:
        return None


def _parse_signature(value: str) -> bytes:
    text = (value or "").removeprefix("0x")
    try:
        signature = bytes.fromhex(text)
    except ValueError:
        signature = b""
    if not 65 <= len(signature) <= MAX_SIGNATURE_BYTES:
        raise InvalidInput(
            [
                Problem(
                    "signature",
                    f"must be 0x-prefixed hex: 65 bytes from a key's wallet (r, s, v), or up to {MAX_SIGNATURE_BYTES} "
                    "from a contract wallet (a multisig's owners' signatures)",
                )
            ]
        )
    return signature
