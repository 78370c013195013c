"""Plans: the payer asks for one under an open product; the platform checks it against the product and
the payer signs exactly what goes on chain; the payee confirms by signing too, or rejects with a reason;
with both signatures the relayer records it. It is RECORDED when the indexer sees PlanRecorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import Select, String, cast, literal, select
from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.limits import MAX_MATERIALS, MAX_TEXT
from daifa.domain.outbox import OutboxStatus
from daifa.domain.payroll import Funding
from daifa.domain.plan_requests import (
    PLAN_LIFECYCLE,
    ZERO_ADDRESS,
    PlanEvent,
    PlanStatus,
    ProductTerms,
    check_plan_request,
)
from daifa.domain.plans import UINT32_MAX, Instalment, PartyRole, PlanParams, ReleaseRule, materials_hash
from daifa.domain.products import ProductStatus
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import nonces, payroll_progress, records, signatures
from daifa.services.checks import check_address, check_text, require_active
from daifa.services.context import DAY, Actor, Ports
from daifa.services.notifications import emit
from daifa.services.subjects import Kind, Subject
from daifa.store import models as m

PLAN = "plan"
RULES = {"time": ReleaseRule.TIME, "payer_approval": ReleaseRule.PAYER_APPROVAL, "materials": ReleaseRule.MATERIALS}
LIVE = [
    PlanStatus.AWAITING_PAYER,
    PlanStatus.AWAITING_PAYEE,
    PlanStatus.RECORDING,
    PlanStatus.AWAITING_FUNDING,
    PlanStatus.RECORDED,
    PlanStatus.COMPLETED,
]


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


@dataclass(frozen=True)
class CheckedRequest:
    """A plan request that passed every check, with what creating it needs."""

    product: m.Product
    payer: m.Party
    payee: m.Party
    params: PlanParams
    instalments: list[Instalment]
    total: int
    now: int


def check_request(
    session: Session, ports: Ports, actor: Actor, request: PlanRequest, now: int | None = None, committed: int = 0
) -> CheckedRequest:
    """The payer's request checked against its open product as the contracts would check it, writing
    nothing. `now`, the chain's time, is read unless given; `committed` is what plans not yet in the
    database (a payroll run's earlier rows) take of the product's limit."""
    product, payer, payee = _open_product_of_payer(session, actor, request.product_id)
    instalments = [instalment_terms(i, item) for i, item in enumerate(request.instalments)]
    params = _params(ports, product, payer, payee, request)
    now = ports.chain.now() if now is None else now
    terms = product_terms(session, product, payer, payee)
    total = check_plan_request(replace(terms, committed=terms.committed + committed), params, instalments, now)
    return CheckedRequest(product, payer, payee, params, instalments, total, now)


def request_plan(
    session: Session,
    ports: Ports,
    actor: Actor,
    request: PlanRequest,
    now: int | None = None,
    payer_signs: bool = True,
) -> m.Plan:
    """The payer's request, checked (`check_request`); the payer is then asked to sign exactly what goes
    on chain. Without `payer_signs` (a payroll run funded at recording) the payee is asked at once: the
    payer consents by sending the transaction that records the plan, which the contract takes in place of
    its signature."""
    checked = check_request(session, ports, actor, request, now)
    payer, payee, params, instalments = checked.payer, checked.payee, checked.params, checked.instalments
    plan = _new_plan(session, ports, checked.product, (payer, payee), params, instalments, checked.total, checked.now)
    for index, (item, terms) in enumerate(zip(request.instalments, instalments, strict=True)):
        plan.keep_texts(terms, item.required_materials, item.verification)
        session.add(m.Instalment.from_terms(plan.id, index, terms, list(item.required_materials), item.verification))
    _emit(session, plan, "plan.requested")
    if payer_signs:
        typed = typed_plan(ports, params, instalments, plan)
        signatures.request(session, ports, payer.id, Subject.of(plan), PLAN, typed)
    else:
        _send_to_payee(session, ports, plan, PlanEvent.PAYER_SENDS)
    return plan


def _open_product_of_payer(session: Session, actor: Actor, product_id: str) -> tuple[m.Product, m.Party, m.Party]:
    """The product, its payer and its payee, when the actor is its payer and plans may be asked for."""
    payer_id = actor.require_party()
    product = records.get_product(session, actor, product_id)
    if product.payer_id != payer_id:
        raise Conflict("only the product's payer asks for plans under it")
    payer = require_active(session, product.payer_id, PartyRole.PAYER, "payer")
    payee = require_active(session, product.payee_id, PartyRole.PAYEE, "payee")
    if product.status != ProductStatus.OPEN or product.chain_agreement_set_id is None:
        raise Conflict(f"the product is {product.status}: plans are asked for under an open product")
    return product, payer, payee


def _params(ports: Ports, product: m.Product, payer: m.Party, payee: m.Party, request: PlanRequest) -> PlanParams:
    """The plan's terms as they go on chain: the product's first token, the operator as arbiter and (when
    there is a fee) as fee recipient, unless the request names others."""
    if not isinstance(request.review_window, int) or not 0 <= request.review_window <= UINT32_MAX:
        raise InvalidInput([Problem("review_window", f"must be a number of seconds from 0 to {UINT32_MAX}")])
    assert product.chain_agreement_set_id is not None
    fee_recipient = check_address(request.fee_recipient, "fee_recipient") if request.fee_recipient else None
    return PlanParams(
        agreement_set_id=product.chain_agreement_set_id,
        payer=payer.address,
        payee=payee.address,
        token=check_address(request.token, "token") if request.token else product.tokens[0],
        arbiter=check_address(request.arbiter, "arbiter") if request.arbiter else ports.operator_address,
        fee_recipient=fee_recipient or (ports.operator_address if request.fee_bps else ZERO_ADDRESS),
        fee_bps=request.fee_bps,
        fee_cap=request.fee_cap,
        review_window=request.review_window,
        expiry=request.expiry,
    )


def product_terms(
    session: Session, product: m.Product, payer: m.Party, payee: m.Party, excluding: int | None = None
) -> ProductTerms:
    """The open product as a plan is checked against it, with what its live plans (but plan `excluding`,
    the one being amended) already commit."""
    assert product.chain_agreement_set_id is not None
    live = select(m.Plan.total).where(m.Plan.product_id == product.id, m.Plan.status.in_(LIVE))
    if excluding is not None:
        live = live.where(m.Plan.id != excluding)
    committed = session.scalars(live).all()
    return ProductTerms(
        agreement_set_id=product.chain_agreement_set_id,
        payer=payer.address,
        payee=payee.address,
        tokens=frozenset(product.tokens),
        limit=product.limit,
        committed=sum(committed),
        expiry=product.expiry,
        is_open=True,
    )


def _new_plan(
    session: Session,
    ports: Ports,
    product: m.Product,
    parties: tuple[m.Party, m.Party],
    params: PlanParams,
    instalments: Sequence[Instalment],
    total: int,
    now: int,
) -> m.Plan:
    """The plan's row, with the nonces both parties will sign with, the signatures' deadline and the hash
    of what they sign."""
    payer, payee = parties
    payer_nonce, payee_nonce = nonces.take(session, payer), nonces.take(session, payee)
    deadline = min(now + ports.signature_ttl, params.expiry)
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
        payer_nonce=payer_nonce,
        payee_nonce=payee_nonce,
        deadline=deadline,
        consent_hash=td.plan_consent_hash(params, instalments, payer_nonce, payee_nonce, deadline),
    )
    session.add(plan)
    session.flush()
    return plan


def instalment_terms(i: int, item: InstalmentRequest) -> Instalment:
    """Instalment `i` of a request as it goes on chain, or InvalidInput naming its problems."""
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


def on_signatures_complete(session: Session, ports: Ports, plan_id: int) -> None:
    """The payer signed: the payee is asked to confirm by signing the same. Both signed: the plan waits
    for the transaction that records it (`_await_recording`)."""
    plan = records.get(session, m.Plan, plan_id, for_update=True)
    if plan.status == PlanStatus.AWAITING_PAYER:
        _send_to_payee(session, ports, plan)
    else:
        _await_recording(session, plan)


def _send_to_payee(session: Session, ports: Ports, plan: m.Plan, event: PlanEvent = PlanEvent.PAYER_SIGN) -> None:
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), event)
    params = records.plan_params(session, plan)
    instalments = [records.terms(r) for r in records.instalment_rows(session, plan)]
    typed = typed_plan(ports, params, instalments, plan)
    signatures.request(session, ports, plan.payee_id, Subject.of(plan), PLAN, typed)
    _emit(session, plan, "plan.awaiting_payee")
    payroll_progress.announce(session, [plan.payroll_run_id], milestones=["signed"])


def _await_recording(session: Session, plan: m.Plan) -> None:
    """Both signed: the worker's next turn queues the plan for the relayer to record (recording.queue), or,
    in a run the payer funds at recording, the plan waits for the payer's wallet (payroll_funding)."""
    run = None if plan.payroll_run_id is None else session.get(m.PayrollRun, plan.payroll_run_id)
    if run is not None and run.funding == Funding.AT_RECORDING:
        plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYEE_CONFIRM_PAYER_FUNDS)
        _emit(session, plan, "plan.awaiting_funding")
        return
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYEE_CONFIRM)
    _emit(session, plan, "plan.confirmed")


def record_arguments(session: Session, plan: m.Plan) -> tuple[object, ...]:
    """(params, instalments, auth): what recordPlan takes for a plan both parties signed, and what each
    plan of recordPlans and recordPlansAndDeposit is."""
    parties, taken = (plan.payer_id, plan.payee_id), (plan.payer_nonce, plan.payee_nonce)
    auth = signatures.joint_authorization(session, Subject.of(plan), PLAN, parties, taken, plan.deadline)
    params = records.plan_params(session, plan)
    tuples = [abi.instalment(records.terms(r)) for r in records.instalment_rows(session, plan)]
    return abi.plan_params(params), tuples, auth


def reject(session: Session, actor: Actor, plan_id: str, reason: str) -> m.Plan:
    party_id = actor.require_party()
    plan = records.get_plan(session, actor, plan_id, for_update=True)
    if party_id != plan.payee_id:
        raise Conflict("only the plan's payee rejects it; the payer withdraws it instead")
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYEE_REJECT)
    plan.reject_reason = check_text(reason, "reason", MAX_TEXT)
    signatures.void(session, Subject.of(plan))
    _emit(session, plan, "plan.rejected")
    return plan


def withdraw(session: Session, actor: Actor, plan_id: str) -> m.Plan:
    party_id = actor.require_party()
    plan = records.get_plan(session, actor, plan_id, for_update=True)
    if party_id != plan.payer_id:
        raise Conflict("only the plan's payer withdraws it; the payee rejects it instead")
    plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.PAYER_WITHDRAW)
    signatures.void(session, Subject.of(plan))
    _emit(session, plan, "plan.withdrawn")
    return plan


def signatures_expired(now: int) -> Select[tuple[m.Plan]]:
    """Plans whose signature deadline passed before they were recorded: they can never be recorded now.
    A plan already sent to the chain counts only once its transaction failed: a successful one may
    simply not be confirmed yet."""
    waiting = [PlanStatus.AWAITING_PAYER, PlanStatus.AWAITING_PAYEE, PlanStatus.AWAITING_FUNDING]
    failed = select(m.OutboxEntry.subject).where(
        m.OutboxEntry.kind == "record_plan", m.OutboxEntry.status == OutboxStatus.FAILED
    )
    return select(m.Plan).where(
        m.Plan.deadline < now,
        m.Plan.status.in_(waiting)
        | ((m.Plan.status == PlanStatus.RECORDING) & (literal(f"{Kind.PLAN}:") + cast(m.Plan.id, String)).in_(failed)),
    )


def expire_signatures(session: Session, now: int) -> int:
    """Expires the plans `signatures_expired` names."""
    expired = list(session.scalars(signatures_expired(now)))
    for plan in expired:
        plan.status = PLAN_LIFECYCLE.next(PlanStatus(plan.status), PlanEvent.SIGNATURES_EXPIRED)
        signatures.void(session, Subject.of(plan))
        _emit(session, plan, "plan.expired")
    return len(expired)


def _emit(session: Session, plan: m.Plan, kind: str) -> None:
    data = {"status": plan.status, "reason": plan.reject_reason}
    emit(session, kind, records.public_id(m.Plan, plan.id), data, [plan.payer_id, plan.payee_id])
