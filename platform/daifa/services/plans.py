"""Plans: the payer asks for one under an open product; the platform checks it against the product and
the payer signs exactly what goes on chain; the payee confirms by signing too, or rejects with a reason;
with both signatures the relayer records it. It is RECORDED when the indexer sees PlanRecorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, String, cast, literal, select
from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.chain.relayer import FAILED, enqueue
from daifa.domain.plan_requests import (
    PLAN_LIFECYCLE,
    ZERO_ADDRESS,
    PlanEvent,
    PlanStatus,
    ProductTerms,
    check_plan_request,
)
from daifa.domain.plans import Instalment, PartyRole, PlanParams, ReleaseRule, materials_hash
from daifa.domain.products import ProductStatus
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import products, records, signatures
from daifa.services.context import DAY, Actor, Ports
from daifa.services.notifications import emit
from daifa.services.onboarding import MAX_TEXT, check_address, check_text, require_active
from daifa.store import models as m

PLAN = "plan"
RULES = {"time": ReleaseRule.TIME, "payer_approval": ReleaseRule.PAYER_APPROVAL, "materials": ReleaseRule.MATERIALS}
LIVE = [
    PlanStatus.AWAITING_PAYER,
    PlanStatus.AWAITING_PAYEE,
    PlanStatus.RECORDING,
    PlanStatus.RECORDED,
    PlanStatus.COMPLETED,
]
MAX_MATERIALS = 20


@dataclass(frozen=True)
class InstalmentRequest:
    deposit_by: int
    release_at: int
    amount: int
    rule: str  # time, payer_approval or materials
    required_materials: list[str] = field(default_factory=list)
    verification: str = ""


@dataclass(frozen=True)
class PlanRequest:
    product_id: str
    instalments: list[InstalmentRequest]
    expiry: int
    token: str | None = None  # the product's first token unless named
    fee_bps: int = 0
    fee_cap: int = 0
    fee_recipient: str | None = None  # the operator unless named, when there is a fee
    review_window: int = 3 * DAY
    arbiter: str | None = None  # the operator unless the parties agree on another


def request_plan(session: Session, ports: Ports, actor: Actor, request: PlanRequest) -> m.Plan:
    payer_id = actor.require_party()
    product = records.get_product(session, actor, request.product_id)
    if product.payer_id != payer_id:
        raise Conflict("only the product's payer asks for plans under it")
    payer = require_active(session, product.payer_id, PartyRole.PAYER, "payer")
    payee = require_active(session, product.payee_id, PartyRole.PAYEE, "payee")
    if product.status != ProductStatus.OPEN or product.chain_agreement_set_id is None:
        raise Conflict(f"the product is {product.status}: plans are asked for under an open product")
    instalments = [_instalment(i, item) for i, item in enumerate(request.instalments)]
    token = check_address(request.token, "token") if request.token else product.tokens[0]
    has_fee = bool(request.fee_bps)
    fee_recipient = check_address(request.fee_recipient, "fee_recipient") if request.fee_recipient else None
    params = PlanParams(
        agreement_set_id=product.chain_agreement_set_id,
        payer=payer.address,
        payee=payee.address,
        token=token,
        arbiter=check_address(request.arbiter, "arbiter") if request.arbiter else ports.operator_address,
        fee_recipient=fee_recipient or (ports.operator_address if has_fee else ZERO_ADDRESS),
        fee_bps=request.fee_bps,
        fee_cap=request.fee_cap,
        review_window=request.review_window,
        expiry=request.expiry,
    )
    if not isinstance(request.review_window, int) or not 0 <= request.review_window <= 2**32 - 1:
        raise InvalidInput([Problem("review_window", "must be a number of seconds from 0 to 4294967295")])
    committed = session.scalars(
        select(m.Plan.total).where(m.Plan.product_id == product.id, m.Plan.status.in_(LIVE))
    ).all()
    terms = ProductTerms(
        agreement_set_id=product.chain_agreement_set_id,
        payer=payer.address,
        payee=payee.address,
        tokens=frozenset(product.tokens),
        limit=product.limit,
        committed=sum(committed),
        expiry=product.expiry,
        is_open=True,
    )
    now = ports.chain.now()
    total = check_plan_request(terms, params, instalments, now)
    plan = m.Plan(
        product_id=product.id,
        payer_id=payer.id,
        payee_id=payee.id,
        status=PLAN_LIFECYCLE.initial,
        token=params.token,
        arbiter=params.arbiter,
        fee_recipient=params.fee_recipient,
        fee_bps=params.fee_bps,
        fee_cap=params.fee_cap,
        review_window=params.review_window,
        expiry=params.expiry,
        total=total,
        payer_nonce=products.take_nonce(session, payer),
        payee_nonce=products.take_nonce(session, payee),
        deadline=min(now + ports.signature_ttl, params.expiry),
    )
    plan.consent_hash = td.plan_consent_hash(params, instalments, plan.payer_nonce, plan.payee_nonce, plan.deadline)
    session.add(plan)
    session.flush()
    for index, (item, terms_) in enumerate(zip(request.instalments, instalments, strict=True)):
        session.add(
            m.Instalment(
                plan_id=plan.id,
                index=index,
                deposit_by=terms_.deposit_by,
                release_at=terms_.release_at,
                amount=terms_.amount,
                rule=int(terms_.rule),
                materials_hash=terms_.materials_hash,
                required_materials=list(item.required_materials),
                verification=item.verification,
            )
        )
    signatures.request(session, ports, payer.id, f"plan:{plan.id}", PLAN, typed_plan(ports, params, instalments, plan))
    _emit(session, plan, "plan.requested")
    return plan


def _instalment(i: int, item: InstalmentRequest) -> Instalment:
    where = f"instalments[{i}]"
    problems = []
    rule = RULES.get(item.rule)
    if rule is None:
        problems.append(Problem(f"{where}.rule", "must be time, payer_approval or materials"))
    if len(item.required_materials) > MAX_MATERIALS:
        problems.append(Problem(f"{where}.required_materials", f"at most {MAX_MATERIALS} items"))
    if rule == ReleaseRule.MATERIALS and not item.required_materials:
        problems.append(Problem(f"{where}.required_materials", "a materials instalment lists what the payee delivers"))
    for n, name in enumerate(item.required_materials):
        check_text(name, f"{where}.required_materials[{n}]")
    check_text(item.verification, f"{where}.verification", MAX_TEXT, required=False)
    for name in ("deposit_by", "release_at", "amount"):
        value = getattr(item, name)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(Problem(f"{where}.{name}", "must be a whole number"))
    if problems:
        raise InvalidInput(problems)
    assert rule is not None
    return Instalment(
        deposit_by=item.deposit_by,
        release_at=item.release_at,
        amount=item.amount,
        rule=rule,
        materials_hash=materials_hash(item.required_materials, item.verification),
    )


def typed_plan(ports: Ports, params: PlanParams, instalments: Sequence[Instalment], plan: m.Plan) -> dict[str, object]:
    message = td.plan_message(params, instalments, plan.payer_nonce, plan.payee_nonce, plan.deadline)
    return td.payload("Plan", message, ports.chain.chain_id, ports.chain.escrow_address)


def on_signed(session: Session, ports: Ports, plan_id: int, row: m.SignatureRequest) -> None:
    plan = records.get(session, m.Plan, plan_id, for_update=True)
    if row.party_id == plan.payer_id:
        plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYER_SIGN)
        params = records.plan_params(session, plan)
        instalments = [records.terms(r) for r in records.instalment_rows(session, plan)]
        signatures.request(
            session, ports, plan.payee_id, f"plan:{plan.id}", PLAN, typed_plan(ports, params, instalments, plan)
        )
        _emit(session, plan, "plan.awaiting_payee")
        return
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYEE_CONFIRM)
    subject = f"plan:{plan.id}"
    parties, nonces = (plan.payer_id, plan.payee_id), (plan.payer_nonce, plan.payee_nonce)
    auth = signatures.joint_authorization(session, subject, PLAN, parties, nonces, plan.deadline)
    params = records.plan_params(session, plan)
    tuples = [abi.instalment(records.terms(r)) for r in records.instalment_rows(session, plan)]
    data = ports.chain.encode("recordPlan", abi.plan_params(params), tuples, auth)
    enqueue(session, "record_plan", subject, ports.chain.escrow_address, data)
    _emit(session, plan, "plan.confirmed")


def reject(session: Session, actor: Actor, plan_id: str, reason: str) -> m.Plan:
    party_id = actor.require_party()
    plan = records.get_plan(session, actor, plan_id, for_update=True)
    if party_id != plan.payee_id:
        raise Conflict("only the plan's payee rejects it; the payer withdraws it instead")
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYEE_REJECT)
    plan.reject_reason = check_text(reason, "reason", MAX_TEXT)
    signatures.void(session, f"plan:{plan.id}")
    _emit(session, plan, "plan.rejected")
    return plan


def withdraw(session: Session, actor: Actor, plan_id: str) -> m.Plan:
    party_id = actor.require_party()
    plan = records.get_plan(session, actor, plan_id, for_update=True)
    if party_id != plan.payer_id:
        raise Conflict("only the plan's payer withdraws it; the payee rejects it instead")
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYER_WITHDRAW)
    signatures.void(session, f"plan:{plan.id}")
    _emit(session, plan, "plan.withdrawn")
    return plan


def signatures_expired(now: int) -> Select[tuple[m.Plan]]:
    """Plans whose signature deadline passed before they were recorded: they can never be recorded now.
    A plan already sent to the chain counts only once its transaction failed: a successful one may
    simply not be confirmed yet."""
    waiting = [PlanStatus.AWAITING_PAYER, PlanStatus.AWAITING_PAYEE]
    failed = select(m.OutboxEntry.subject).where(m.OutboxEntry.kind == "record_plan", m.OutboxEntry.status == FAILED)
    return select(m.Plan).where(
        m.Plan.deadline < now,
        m.Plan.status.in_(waiting)
        | ((m.Plan.status == PlanStatus.RECORDING) & (literal("plan:") + cast(m.Plan.id, String)).in_(failed)),
    )


def expire_signatures(session: Session, now: int) -> int:
    """Expires the plans `signatures_expired` names."""
    expired = list(session.scalars(signatures_expired(now)))
    for plan in expired:
        plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.SIGNATURES_EXPIRED)
        signatures.void(session, f"plan:{plan.id}")
        _emit(session, plan, "plan.expired")
    return len(expired)


def _emit(session: Session, plan: m.Plan, kind: str) -> None:
    data = {"status": plan.status, "reason": plan.reject_reason}
    emit(session, kind, records.public_id(m.Plan, plan.id), data, [plan.payer_id, plan.payee_id])
