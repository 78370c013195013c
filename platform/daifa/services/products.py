"""Product opening: the payee applies for a piece of business with a payer, uploading the contract; the
operator reviews; the payer authorises the credit; the three agreements are generated and both parties
sign the agreement set; the relayer records it; the product opens when the indexer sees it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.chain.relayer import enqueue
from daifa.domain.limits import MAX_TEXT, MAX_TOKENS
from daifa.domain.plans import UINT40_MAX, AgreementSetParams, PartyRole
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import agreements, documents, nonces, records, signatures
from daifa.services.checks import check_address, check_text, each_or_none, require_active
from daifa.services.context import Actor, Ports
from daifa.services.documents import Upload
from daifa.services.notifications import emit
from daifa.services.subjects import Subject
from daifa.store import models as m

UINT104_MAX = 2**104 - 1  # the agreement set's limit is a uint104 on chain
AGREEMENT_SET = "agreement_set"


def apply(
    session: Session,
    ports: Ports,
    actor: Actor,
    payer_id: str,
    business_name: str,
    limit: int,
    tokens: Sequence[str],
    expiry: int,
    uploads: Sequence[Upload],
    now: int,
) -> m.Product:
    """The payee applies for the product; `now` is the chain's time, read before the write transaction
    (a slow node must not hold the write lock)."""
    payee_id = actor.require_party()
    payee = require_active(session, payee_id, PartyRole.PAYEE, "payee")
    payer = records.get(session, m.Party, payer_id)
    require_active(session, payer.id, PartyRole.PAYER, "payer")
    problems = []
    if payer.id == payee.id:
        problems.append(Problem("payer", "must be another party than the payee"))
    if not isinstance(limit, int) or not 0 < limit <= UINT104_MAX:
        problems.append(Problem("limit", f"must be a whole number of token units from 1 to {UINT104_MAX}"))
    if not tokens or len(tokens) > MAX_TOKENS:
        problems.append(Problem("tokens", f"name 1 to {MAX_TOKENS} token addresses"))
    if not isinstance(expiry, int) or not now < expiry <= UINT40_MAX:
        problems.append(Problem("expiry", f"must be a unix time after the chain's now ({now})"))
    if problems:
        raise InvalidInput(problems)
    checked = sorted({check_address(t, f"tokens[{i}]") for i, t in enumerate(tokens)})
    product = m.Product(
        payer_id=payer.id,
        payee_id=payee.id,
        business_name=check_text(business_name, "business_name"),
        status=PRODUCT_OPENING.initial,
        tokens=checked,
        limit=limit,
        expiry=expiry,
    )
    session.add(product)
    session.flush()
    documents.store(
        session, ports, uploads, purpose="business_contract", subject=Subject.of(product), owner_party_id=payee.id
    )
    _emit(session, product, "product.submitted")
    return product


def add_documents(
    session: Session, ports: Ports, actor: Actor, product_id: str, uploads: Sequence[Upload]
) -> m.Product:
    """The payee adds documents the operator asked for; the payer may add its copy of the contract."""
    party_id = actor.require_party()
    product = records.get_product(session, actor, product_id, for_update=True)
    if product.status == ProductStatus.DOCUMENTS_REQUESTED and party_id == product.payee_id:
        product.status = PRODUCT_OPENING.next(ProductStatus(product.status), ProductEvent.RESUBMIT)
    elif product.status not in (ProductStatus.SUBMITTED, ProductStatus.DOCUMENTS_REQUESTED):
        raise Conflict(f"the product is {product.status}: documents are added only while it is under review")
    documents.store(
        session, ports, uploads, purpose="business_contract", subject=Subject.of(product), owner_party_id=party_id
    )
    _emit(session, product, "product.documents_added")
    return product


def request_documents(session: Session, actor: Actor, product_id: str, comment: str) -> m.Product:
    return _review(session, actor, product_id, ProductEvent.REQUEST_DOCUMENTS, comment, "product.documents_requested")


def reject(session: Session, actor: Actor, product_id: str, reason: str) -> m.Product:
    return _review(session, actor, product_id, ProductEvent.REJECT, reason, "product.rejected")


def approve(session: Session, actor: Actor, product_id: str, comment: str) -> m.Product:
    """The operator approves; the payer is asked to authorise the credit."""
    return _review(session, actor, product_id, ProductEvent.APPROVE, comment, "product.credit_authorisation_requested")


def _review(session: Session, actor: Actor, product_id: str, event: ProductEvent, note: str, kind: str) -> m.Product:
    actor.require_operator()
    product = records.get_product(session, actor, product_id, for_update=True)
    product.status = PRODUCT_OPENING.next(ProductStatus(product.status), event)
    product.review_note = check_text(note, "comment", MAX_TEXT, required=event != ProductEvent.APPROVE)
    _emit(session, product, kind)
    return product


def decline_credit(session: Session, actor: Actor, product_id: str, reason: str) -> m.Product:
    product = _as_payer(session, actor, product_id)
    product.status = PRODUCT_OPENING.next(ProductStatus(product.status), ProductEvent.DECLINE_CREDIT)
    product.review_note = check_text(reason, "reason", MAX_TEXT)
    _emit(session, product, "product.credit_declined")
    return product


def authorise_credit(
    session: Session, ports: Ports, actor: Actor, product_id: str, limit: int | None, now: int
) -> m.Product:
    """The payer authorises the credit (it may lower the limit); the three agreements are generated and
    both parties are asked to sign the agreement set, by a deadline from `now` (the chain's time, read
    before the write transaction)."""
    product = _as_payer(session, actor, product_id)
    product.status = PRODUCT_OPENING.next(ProductStatus(product.status), ProductEvent.AUTHORISE_CREDIT)
    if limit is not None:
        if not isinstance(limit, int) or not 0 < limit <= product.limit:
            raise InvalidInput([Problem("limit", f"may only lower the limit: from 1 to {product.limit}")])
        product.limit = limit
    payer, payee = session.get(m.Party, product.payer_id), session.get(m.Party, product.payee_id)
    assert payer is not None and payee is not None
    terms = agreements.AgreementTerms(
        product=records.public_id(m.Product, product.id),
        business=product.business_name,
        payer_name=payer.legal_name,
        payer_address=payer.address,
        payee_name=payee.legal_name,
        payee_address=payee.address,
        tokens=tuple(product.tokens),
        limit=product.limit,
        expiry=product.expiry,
        operator=ports.operator_address,
        escrow=ports.chain.escrow_address,
        chain_id=ports.chain.chain_id,
    )
    hashes = []
    for filename, text in agreements.render(terms):
        upload = Upload(filename, "text/plain", text)
        [row] = documents.store(
            session, ports, [upload], purpose="agreement", subject=Subject.of(product), owner_party_id=None
        )
        hashes.append(row.hash)
    product.agreement_hashes = ["0x" + h.hex() for h in hashes]
    product.payer_nonce, product.payee_nonce = nonces.take(session, payer), nonces.take(session, payee)
    product.deadline = min(now + ports.signature_ttl, product.expiry)
    params = agreement_set_params(product, payer, payee)
    message = td.agreement_set_message(params, product.payer_nonce, product.payee_nonce, product.deadline)
    product.consent_hash = td.hash_struct("AgreementSet", message)
    typed = td.payload("AgreementSet", message, ports.chain.chain_id, ports.chain.escrow_address)
    for party in (payer, payee):
        signatures.request(session, ports, party.id, Subject.of(product), AGREEMENT_SET, typed)
    _emit(session, product, "product.agreements_generated")
    return product


def authorise_credit_many(
    session: Session, ports: Ports, actor: Actor, product_ids: Sequence[str], now: int
) -> list[m.Product]:
    """`authorise_credit` for each product, at the limit its payee asked for, in one transaction: all are
    authorised or, with every refusal named by its place (`products[3]`), none."""
    return each_or_none(
        "products", product_ids, lambda i: authorise_credit(session, ports, actor, product_ids[i], None, now)
    )


def on_signatures_complete(session: Session, ports: Ports, product_id: int) -> None:
    """Both parties signed the agreement set: it goes to the relayer."""
    product = records.get(session, m.Product, product_id, for_update=True)
    subject = Subject.of(product)
    product.status = PRODUCT_OPENING.next(ProductStatus(product.status), ProductEvent.SIGNATURES_COMPLETE)
    payer, payee = session.get(m.Party, product.payer_id), session.get(m.Party, product.payee_id)
    assert payer is not None and payee is not None and product.deadline is not None
    taken = (product.payer_nonce or 0, product.payee_nonce or 0)
    auth = signatures.joint_authorization(
        session, subject, AGREEMENT_SET, (payer.id, payee.id), taken, product.deadline
    )
    params = agreement_set_params(product, payer, payee)
    data = ports.chain.encode("recordAgreementSet", abi.agreement_set(params), auth)
    enqueue(session, "record_agreement_set", str(subject), ports.chain.escrow_address, data)
    _emit(session, product, "product.signed")


def agreement_set_params(product: m.Product, payer: m.Party, payee: m.Party) -> AgreementSetParams:
    assert product.agreement_hashes is not None
    first, second, third = (bytes.fromhex(h[2:]) for h in product.agreement_hashes)
    return AgreementSetParams(
        payer=payer.address,
        payee=payee.address,
        payer_platform_agreement=first,
        payee_platform_agreement=second,
        payer_payee_agreement=third,
        tokens=tuple(product.tokens),
        limit=product.limit,
        expiry=product.expiry,
    )


def _as_payer(session: Session, actor: Actor, product_id: str) -> m.Product:
    party_id = actor.require_party()
    product = records.get_product(session, actor, product_id, for_update=True)
    if party_id != product.payer_id:
        raise Conflict("only the product's payer authorises or declines its credit")
    return product


def _emit(session: Session, product: m.Product, kind: str) -> None:
    data = {"status": product.status, "note": product.review_note}
    emit(session, kind, records.public_id(m.Product, product.id), data, [product.payer_id, product.payee_id])
