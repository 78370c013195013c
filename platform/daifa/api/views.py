"""Records as the API shows them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from daifa import wire as s
from daifa.chain.typed_data import payload_digest
from daifa.domain.onboarding import PartyStatus
from daifa.domain.plans import InstalmentStatus, ReleaseRule
from daifa.services import credentials, documents, payroll_funding, payroll_progress, records, signatures, subjects
from daifa.services.subjects import Subject
from daifa.store import models as m


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def document(row: m.Document) -> s.DocumentOut:
    return s.DocumentOut(
        id=records.public_id(m.Document, row.id),
        hash="0x" + row.hash.hex(),
        content_type=row.content_type,
        size=row.size,
        filename=row.filename,
        purpose=row.purpose,
        subject=subjects.public(row.subject),
        created=row.created_at,
    )


def party(session: Session, row: m.Party) -> s.PartyOut:
    return s.PartyOut(
        id=records.public_id(m.Party, row.id),
        address=row.address,
        legal_name=row.legal_name,
        kind=row.kind,
        status=row.status,
        review_note=row.review_note,
        documents_hash=_hex(row.documents_hash),
        account_open=row.status == PartyStatus.ACTIVE,
        created=row.created_at,
        documents=[document(d) for d in documents.of_subject(session, Subject.of(row))],
    )


def product(session: Session, row: m.Product) -> s.ProductOut:
    return s.ProductOut(
        id=records.public_id(m.Product, row.id),
        payer=records.public_id(m.Party, row.payer_id),
        payee=records.public_id(m.Party, row.payee_id),
        business_name=row.business_name,
        status=row.status,
        tokens=list(row.tokens),
        limit=row.limit,
        expiry=row.expiry,
        review_note=row.review_note,
        agreement_set_id=row.chain_agreement_set_id,
        consent_hash=_hex(row.consent_hash),
        created=row.created_at,
        documents=[document(d) for d in documents.of_subject(session, Subject.of(row))],
    )


def instalment_status(bits: int) -> str:
    """One word for the instalment's on-chain status, the most advanced first."""
    if bits & InstalmentStatus.CLOSED:
        return "closed"
    if bits & InstalmentStatus.DISPUTED:
        return "disputed"
    if bits & InstalmentStatus.CONDITION_MET:
        return "releasable" if bits & InstalmentStatus.FUNDED else "approved_unfunded"
    return "funded" if bits & InstalmentStatus.FUNDED else "unfunded"


def instalment(row: m.Instalment) -> s.InstalmentOut:
    return s.InstalmentOut(
        index=row.index,
        deposit_by=row.deposit_by,
        release_at=row.release_at,
        amount=row.amount,
        rule=ReleaseRule(row.rule).name.lower(),
        required_materials=list(row.required_materials),
        verification=row.verification,
        materials_hash="0x" + row.materials_hash.hex(),
        status=instalment_status(row.chain_status),
        status_bits=row.chain_status,
        overdue=row.overdue and not row.chain_status & InstalmentStatus.FUNDED,
        delivered_hash=_hex(row.delivered_hash),
        review_ends_at=row.review_ends_at,
        to_payee=row.to_payee,
        fee=row.fee,
        to_payer=row.to_payer,
    )


def plan(session: Session, row: m.Plan) -> s.PlanOut:
    product_row, payer, payee = (
        session.get(m.Product, row.product_id),
        session.get(m.Party, row.payer_id),
        session.get(m.Party, row.payee_id),
    )
    assert product_row is not None and payer is not None and payee is not None
    return s.PlanOut(
        id=records.public_id(m.Plan, row.id),
        product=records.public_id(m.Product, row.product_id),
        payer=records.public_id(m.Party, row.payer_id),
        payee=records.public_id(m.Party, row.payee_id),
        status=row.status,
        agreement_set_id=product_row.chain_agreement_set_id,
        payer_address=payer.address,
        payee_address=payee.address,
        payer_nonce=row.payer_nonce,
        payee_nonce=row.payee_nonce,
        deadline=row.deadline,
        token=row.token,
        arbiter=row.arbiter,
        fee_recipient=row.fee_recipient,
        fee_bps=row.fee_bps,
        fee_cap=row.fee_cap,
        review_window=row.review_window,
        expiry=row.expiry,
        total=row.total,
        chain_plan_id=row.chain_plan_id,
        consent_hash="0x" + row.consent_hash.hex(),
        reject_reason=row.reject_reason,
        created=row.created_at,
        instalments=[instalment(i) for i in records.instalment_rows(session, row)],
    )


def plan_json(session: Session, row: m.Plan) -> bytes:
    """The plan as its read answers it: what daifa.api.representations keeps."""
    return plan(session, row).model_dump_json().encode()


def signature_request(row: m.SignatureRequest) -> s.SignatureRequestOut:
    return s.SignatureRequestOut(
        id=records.public_id(m.SignatureRequest, row.id),
        party=records.public_id(m.Party, row.party_id),
        subject=subjects.public(row.subject),
        purpose=row.purpose,
        status=row.status,
        typed_data=row.typed_data,
        digest="0x" + payload_digest(row.typed_data).hex(),
        context=row.context or {},
        created=row.created_at,
    )


def action(session: Session, row: m.PlanAction) -> s.ActionOut:
    subject = Subject.of(row)
    return s.ActionOut(
        id=records.public_id(m.PlanAction, row.id),
        plan=records.public_id(m.Plan, row.plan_id),
        kind=row.kind,
        indices=list(row.indices),
        status=row.status,
        details=row.details,
        transaction=None if row.outbox_id is None else records.public_id(m.OutboxEntry, row.outbox_id),
        signature_requests=[signature_request(r) for r in signatures.of_subject(session, subject)],
        documents=[document(d) for d in documents.of_subject(session, subject)],
        created=row.created_at,
    )


def payroll_run(session: Session, row: m.PayrollRun) -> s.PayrollRunOut:
    progress = payroll_progress.progress(session, row)
    return s.PayrollRunOut(
        id=records.public_id(m.PayrollRun, row.id),
        status=row.status,
        error=row.error,
        filename=row.filename,
        rows=row.rows,
        time_zone=row.time_zone,
        funding=row.funding,
        file_hash="0x" + row.file_hash.hex(),
        progress=s.PayrollProgress(
            asked=row.created_plans,
            plans=progress.plans,
            signed_by_payer=progress.signed_by_payer,
            recorded=progress.recorded,
            funded=progress.funded,
        ),
        created=row.created_at,
    )


def run_funding(funding: payroll_funding.RunFunding) -> s.RunFundingOut:
    return s.RunFundingOut(
        run=records.public_id(m.PayrollRun, funding.run.id),
        plans=[records.public_id(m.Plan, plan.id) for plan in funding.plans],
        token=funding.token.address,
        value=str(funding.value),
        deadline=funding.deadline,
        transactions=[s.WalletTransaction(**tx) for tx in funding.transactions],
        has_more=funding.has_more,
    )


def event(row: m.Event) -> s.EventOut:
    return s.EventOut(
        id=records.public_id(m.Event, row.id), type=row.type, subject=row.subject, data=row.data, created=row.created_at
    )


def transaction(row: m.OutboxEntry) -> s.TransactionOut:
    return s.TransactionOut(
        id=records.public_id(m.OutboxEntry, row.id),
        kind=row.kind,
        subject=subjects.public(row.subject),
        status=row.status,
        nonce=row.nonce,
        tx_hashes=list(row.tx_hashes),
        mined_tx_hash=row.mined_tx_hash,
        mined_block=row.mined_block,
        gas_used=row.gas_used,
        error=row.error,
        created=row.created_at,
    )


def api_key(row: m.ApiKey, secret: str | None = None) -> s.ApiKeyOut:
    def unix(at: datetime | None) -> int | None:
        return None if at is None else int(at.timestamp())

    return s.ApiKeyOut(
        id=records.public_id(m.ApiKey, row.id),
        prefix=row.prefix,
        role="operator" if row.role == "operator" else "party",
        party=records.public_id(m.Party, row.party_id) if row.party_id is not None else None,
        label=row.label,
        status=credentials.status(row),  # type: ignore[arg-type]
        created=int(row.created_at.timestamp()),
        expires_at=unix(row.expires_at),
        revoked_at=unix(row.revoked_at),
        secret=secret,
    )
