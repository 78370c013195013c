"""What parties and the operator do on a recorded plan: deposits, payer approvals, delivered materials and
their attestation, disputes and their resolution, cancellations and amendments.

Each is a PlanAction. It is checked against the instalments' on-chain state first, so a request the
contract would refuse gets a clear answer here; then it waits for the signatures it needs (the party's
own wallet signs), then it goes to the relayer. Its status follows the transaction (queued, mined,
failed); what it changed on chain reaches the instalments through the indexer only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.chain.client import TokenFacts
from daifa.chain.relayer import enqueue
from daifa.describe import units
from daifa.domain.actions import ACTION_LIFECYCLE, ActionEvent, ActionKind, ActionStatus
from daifa.domain.limits import MAX_TEXT
from daifa.domain.plan_requests import PlanStatus, StandingInstalment, check_amendment
from daifa.domain.plans import UINT128_MAX, Instalment, InstalmentStatus, ReleaseRule
from daifa.errors import Conflict, InvalidInput, Problem
from daifa.services import documents, nonces, plans, records, signatures
from daifa.services.calls import instalment_target, plan_target
from daifa.services.checks import check_text
from daifa.services.context import Actor, Ports
from daifa.services.documents import Upload
from daifa.services.subjects import Subject
from daifa.store import models as m

PERMIT, DEPOSIT_AUTHORIZATION = "permit", "deposit_authorization"  # what a deposit's payer signs (purposes)


# ------------------------------------------------------------------------------------------ deposits


def deposit(
    session: Session, ports: Ports, actor: Actor, plan_id: str, indices: Sequence[int], method: str
) -> m.PlanAction:
    """The payer funds instalments. `permit`: the payer signs an EIP-2612 permit and a deposit
    authorisation and the platform relays; `wallet`: the payer sends the returned transactions itself;
    `auto`: permit where the token has it and the payer's wallet is a key's (a contract wallet, such as a
    multisig, cannot sign a permit), else wallet; and wallet while another deposit of the payer's by permit
    in the token is unsettled (asked for by permit then, it is refused: the two permits would carry the same
    nonce). The payer's balance is checked first: a deposit it cannot cover is refused now, with the
    numbers, not later on chain."""
    plan, rows = _plan_for(session, actor, plan_id, payer_only=True)
    chosen = _indices(rows, indices)
    for row in chosen:
        if row.chain_status & (InstalmentStatus.FUNDED | InstalmentStatus.CLOSED):
            raise Conflict(f"instalment {row.index} is already funded or closed")
    payer = session.get(m.Party, plan.payer_id)
    assert payer is not None and plan.chain_plan_id is not None
    value = sum(r.amount for r in chosen)
    token = ports.chain.token_facts(plan.token)
    asked, method = method, _deposit_method(ports, payer, token, method)
    pending = _permit_in_flight(session, ports, payer.id, plan.token) if method == "permit" else None
    if pending is not None:
        if asked == "permit":
            raise Conflict(
                f"your deposit {records.public_id(m.PlanAction, pending.id)} by permit in {token.symbol} is not "
                f"settled, and each permit takes the token's next permit number, so a second signed now would fail: "
                f"sign that one and ask again once it is mined, or deposit these with method wallet"
            )
        method = "wallet"  # auto: the wallet's own transactions take no permit number
    require_balance(ports, token, payer.address, value)
    details = {"method": method, "value": str(value)}
    action = _new(session, plan, ActionKind.DEPOSIT, [r.index for r in chosen], actor.party_id, details)
    if method == "wallet":
        function, args = _wallet_deposit(session, plan, rows, action.indices)
        call = ports.chain.encode(function, *args)
        transactions = wallet_transactions(ports, payer.address, token, value, [(call, "the deposit")])
        action.status = ACTION_LIFECYCLE.next(ActionStatus(action.status), ActionEvent.LEFT_TO_WALLET)
        action.details = {**action.details, "transactions": transactions}
        return action
    return _by_permit(session, ports, plan, payer, token, value, action)


def _wallet_deposit(
    session: Session, plan: m.Plan, rows: Sequence[m.Instalment], indices: Sequence[int]
) -> tuple[str, tuple[object, ...]]:
    """The escrow call a wallet deposit sends: one instalment with its Merkle proof (`deposit`), several
    with the plan's whole list instead of a proof each (`depositInstalments`: 114k gas for twelve, not
    149k)."""
    if len(indices) == 1:
        return "deposit", plan_target(session, plan, rows, indices)
    params = abi.plan_params(records.plan_params(session, plan))
    return "depositInstalments", (plan.chain_plan_id, params, [abi.instalment(records.terms(r)) for r in rows], indices)


def _permit_in_flight(session: Session, ports: Ports, payer_id: int, token: str) -> m.PlanAction | None:
    """A deposit by permit of the payer's in this token that may still use its permit: waiting for its
    signatures before the permit's deadline, or in the outbox. A permit signs the token's next permit nonce
    (EIP-2612), so a second one prepared meanwhile would carry the same nonce and fail."""
    unsettled = (
        select(m.PlanAction)
        .join(m.Plan, m.Plan.id == m.PlanAction.plan_id)
        .where(
            m.PlanAction.kind == ActionKind.DEPOSIT,
            m.PlanAction.status.in_([ActionStatus.AWAITING_SIGNATURES, ActionStatus.QUEUED]),
            m.Plan.payer_id == payer_id,
            m.Plan.token == token,
        )
        .order_by(m.PlanAction.id)
    )
    now = ports.chain.now()
    for action in session.scalars(unsettled):
        if action.details.get("method") != "permit":
            continue
        if action.status == ActionStatus.QUEUED or int(action.details.get("deadline", 0)) >= now:
            return action
    return None


def _deposit_method(ports: Ports, payer: m.Party, token: TokenFacts, asked: str) -> str:
    if asked not in ("auto", "permit", "wallet"):
        raise InvalidInput([Problem("method", "must be auto, permit (the platform relays) or wallet (you send it)")])
    contract_wallet = ports.chain.has_code(payer.address)
    if asked == "permit" and not token.permit:
        raise InvalidInput([Problem("method", f"{token.symbol} has no permit(): deposit with method wallet (or auto)")])
    if asked == "permit" and contract_wallet:
        raise InvalidInput(
            [Problem("method", "a contract wallet (a multisig) cannot sign a permit: use method wallet (or auto)")]
        )
    if asked == "auto":
        return "permit" if token.permit and not contract_wallet else "wallet"
    return asked


def require_balance(ports: Ports, token: TokenFacts, payer: str, value: int) -> None:
    balance = ports.chain.token_balance(token.address, payer)
    if balance < value:
        raise Conflict(
            f"your wallet {payer} holds {_units(balance, token)}; these instalments need {_units(value, token)}: "
            f"fund it with {_units(value - balance, token)} more and ask again"
        )


def wallet_transactions(
    ports: Ports, payer: str, token: TokenFacts, value: int, calls: Sequence[tuple[bytes, str]]
) -> list[dict[str, str]]:
    """The transactions the payer sends: an approval of exactly what is missing (from zero, as tokens
    such as USDT require: an allowance left over is reset first), then the escrow `calls` (data,
    description) that take `value` in all. When the allowance already covers it, the first call is tried
    against the chain now, so a token the escrow cannot hold (one that takes a fee on transfer) is refused
    here."""
    escrow = ports.chain.escrow_address
    allowance = ports.chain.allowance(token.address, payer, escrow)
    erc20 = ports.chain.token(token.address)
    transactions = []
    if allowance < value:
        if allowance:
            approve_zero = erc20.encode_abi("approve", args=[escrow, 0])
            transactions.append({"to": token.address, "data": approve_zero, "description": "reset the allowance left"})
        approve = erc20.encode_abi("approve", args=[escrow, value])
        transactions.append({"to": token.address, "data": approve, "description": "let the escrow take the deposit"})
    else:
        refusal = ports.chain.refusal(payer, escrow, calls[0][0])
        if refusal is not None:
            raise Conflict(f"the deposit would be refused on chain: {_explain(refusal, token)}")
    transactions += [{"to": escrow, "data": "0x" + data.hex(), "description": what} for data, what in calls]
    return transactions


def _by_permit(
    session: Session, ports: Ports, plan: m.Plan, payer: m.Party, token: TokenFacts, value: int, action: m.PlanAction
) -> m.PlanAction:
    assert plan.chain_plan_id is not None
    deadline = ports.chain.now() + ports.signature_ttl
    permit_nonce = int(ports.chain.token(token.address).functions.nonces(payer.address).call())
    permit = td.permit_payload(
        token.name, token.address, ports.chain.chain_id, payer.address, ports.chain.escrow_address, value,
        permit_nonce, deadline,
    )  # fmt: skip
    nonce = nonces.take(session, payer)
    authorisation = td.payload(
        "DepositAuthorization",
        td.deposit_authorization_message(plan.chain_plan_id, action.indices, nonce, deadline),
        ports.chain.chain_id,
        ports.chain.escrow_address,
    )
    action.details = {**action.details, "nonce": nonce, "deadline": deadline}
    signatures.request(session, ports, payer.id, Subject.of(action), PERMIT, permit)
    signatures.request(session, ports, payer.id, Subject.of(action), DEPOSIT_AUTHORIZATION, authorisation)
    return action


def _units(amount: int, token: TokenFacts) -> str:
    return f"{units(amount, token.decimals)} {token.symbol}"


def _explain(refusal: str, token: TokenFacts) -> str:
    if refusal.startswith("Escrow_TransferShortfall"):
        return (
            f"{token.symbol} delivers less than is sent (a fee on transfer), and the escrow takes only the whole amount"
        )
    return refusal


# ------------------------------------------------------------------------------------------ release conditions


def approve_release(session: Session, ports: Ports, actor: Actor, plan_id: str, index: int) -> m.PlanAction:
    plan = _awaiting_condition(session, actor, plan_id, index, ReleaseRule.PAYER_APPROVAL, "is already approved")
    action = _new(session, plan, ActionKind.PAYER_APPROVAL, [index], plan.payer_id, {})
    return _sign(session, ports, plan, action, plan.payer_id, td.payer_approval_message)


def submit_materials(
    session: Session, ports: Ports, actor: Actor, plan_id: str, index: int, uploads: Sequence[Upload]
) -> m.PlanAction:
    plan = _awaiting_condition(session, actor, plan_id, index, ReleaseRule.MATERIALS, "has its materials attested")
    action = _new(session, plan, ActionKind.MATERIALS, [index], actor.party_id, {})
    stored = documents.store(
        session, ports, uploads, purpose="materials", subject=Subject.of(action), owner_party_id=plan.payee_id
    )
    delivered = documents.set_hash(d.hash for d in stored)
    action.details = {"delivered_hash": "0x" + delivered.hex()}
    return _sign(session, ports, plan, action, plan.payee_id, td.materials_submission_message, delivered)


def attest_materials(session: Session, ports: Ports, actor: Actor, plan_id: str, index: int) -> m.PlanAction:
    """The operator attests the delivered materials it reviewed; the review window starts on chain."""
    actor.require_operator()
    plan, rows = _plan_for(session, actor, plan_id)
    [row] = _indices(rows, [index])
    _require_open(row, rule=ReleaseRule.MATERIALS)
    if row.delivered_hash is None:
        raise Conflict(f"no materials for instalment {index} are on chain yet: wait for instalment.materials_submitted")
    if row.chain_status & InstalmentStatus.CONDITION_MET:
        raise Conflict(f"instalment {index}'s materials are already attested")
    action = _new(
        session, plan, ActionKind.ATTESTATION, [index], None, {"delivered_hash": "0x" + row.delivered_hash.hex()}
    )
    call = ports.chain.encode("attestMaterials", *instalment_target(session, plan, rows, index), row.delivered_hash)
    _queue(session, ports, action, "attest_materials", call)
    return action


# ------------------------------------------------------------------------------------------ disputes


def dispute(
    session: Session, ports: Ports, actor: Actor, plan_id: str, index: int, reason: str, uploads: Sequence[Upload]
) -> m.PlanAction:
    """Payer or payee disputes an instalment, with a reason and evidence; once signed it freezes on chain."""
    plan, rows = _plan_for(session, actor, plan_id)
    party_id = actor.require_party()
    [row] = _indices(rows, [index])
    _require_open(row)
    if row.chain_status & InstalmentStatus.DISPUTED:
        raise Conflict(f"instalment {index} is already disputed")
    reason = check_text(reason, "reason", MAX_TEXT)
    action = _new(session, plan, ActionKind.DISPUTE, [index], party_id, {"reason": reason})
    statement = Upload("reason.txt", "text/plain", reason.encode())
    stored = documents.store(
        session, ports, [statement, *uploads], purpose="evidence", subject=Subject.of(action), owner_party_id=party_id
    )
    reason_hash = documents.set_hash(d.hash for d in stored)
    party = session.get(m.Party, party_id)
    assert party is not None
    action.details = {"reason": reason, "reason_hash": "0x" + reason_hash.hex(), "by": party.address}
    return _sign(session, ports, plan, action, party_id, td.dispute_message, reason_hash)


def resolve(session: Session, ports: Ports, actor: Actor, dispute_id: str, to_payee: int, note: str) -> m.PlanAction:
    """The arbiter splits a disputed instalment: `to_payee` to the payee, the rest back to the payer."""
    actor.require_operator()
    disputed = records.get(session, m.PlanAction, dispute_id)
    if disputed.kind != ActionKind.DISPUTE:
        raise Conflict(f"{dispute_id} is a {disputed.kind}, not a dispute")
    plan, rows = _plan_for(session, actor, records.public_id(m.Plan, disputed.plan_id))
    [row] = _indices(rows, disputed.indices)
    if plan.arbiter != ports.operator_address:
        raise Conflict(f"the plan's arbiter is {plan.arbiter}: it resolves the dispute on chain itself")
    if not row.chain_status & InstalmentStatus.DISPUTED or row.chain_status & InstalmentStatus.CLOSED:
        raise Conflict(f"instalment {row.index} is not an open dispute on chain")
    funded = row.amount if row.chain_status & InstalmentStatus.FUNDED else 0
    if not isinstance(to_payee, int) or not 0 <= to_payee <= min(funded, UINT128_MAX):
        raise InvalidInput([Problem("to_payee", f"must be from 0 to {funded}, what the instalment holds")])
    details = {
        "dispute": dispute_id,
        "to_payee": str(to_payee),
        "note": check_text(note, "note", MAX_TEXT, required=False),
    }
    action = _new(session, plan, ActionKind.RESOLUTION, [row.index], None, details)
    call = ports.chain.encode("resolveDispute", *instalment_target(session, plan, rows, row.index), to_payee)
    _queue(session, ports, action, "resolve_dispute", call)
    return action


# ------------------------------------------------------------------------------------------ cancellations


def cancel(session: Session, ports: Ports, actor: Actor, plan_id: str, indices: Sequence[int]) -> m.PlanAction:
    """Either party proposes to cancel instalments; when both sign, funded ones refund to the payer."""
    plan, rows = _plan_for(session, actor, plan_id)
    party_id = actor.require_party()
    chosen = _indices(rows, indices)
    for row in chosen:
        _require_open(row)
    picked = [r.index for r in chosen]
    action = _new(session, plan, ActionKind.CANCELLATION, picked, party_id, {})
    payer, payee = session.get(m.Party, plan.payer_id), session.get(m.Party, plan.payee_id)
    assert payer is not None and payee is not None and plan.chain_plan_id is not None
    payer_nonce, payee_nonce = nonces.take(session, payer), nonces.take(session, payee)
    deadline = ports.chain.now() + ports.signature_ttl
    action.details = {"payer_nonce": payer_nonce, "payee_nonce": payee_nonce, "deadline": deadline}
    message = td.cancellation_message(plan.chain_plan_id, picked, payer_nonce, payee_nonce, deadline)
    typed = td.payload("Cancellation", message, ports.chain.chain_id, ports.chain.escrow_address)
    for party in (payer, payee):
        signatures.request(session, ports, party.id, Subject.of(action), ActionKind.CANCELLATION, typed)
    return action


# ------------------------------------------------------------------------------------------ amendments


def amend(
    session: Session, ports: Ports, actor: Actor, plan_id: str, requested: Sequence[plans.InstalmentRequest]
) -> m.PlanAction:
    """Either party proposes the plan's instalments as they should be from now on (the whole list); when
    both sign, the chain takes them. Instalments funded, approved, delivered, disputed or closed must stay
    exactly as they are; the product's limit must hold for the new total."""
    plan, rows = _plan_for(session, actor, plan_id)
    party_id = actor.require_party()
    if plan.status != PlanStatus.RECORDED:
        raise Conflict(f"the plan is {plan.status}: ask for a new plan under the product instead")
    now = ports.chain.now()
    _require_no_amendment_in_flight(session, plan, now)
    amended = [plans.instalment_terms(i, item) for i, item in enumerate(requested)]
    product = session.get(m.Product, plan.product_id)
    payer, payee = session.get(m.Party, plan.payer_id), session.get(m.Party, plan.payee_id)
    assert product is not None and payer is not None and payee is not None and plan.chain_plan_id is not None
    standing = [
        StandingInstalment(records.terms(r), bool(r.chain_status) or r.delivered_hash is not None) for r in rows
    ]
    terms = plans.product_terms(session, product, payer, payee, excluding=plan.id)
    total = check_amendment(terms, records.plan_params(session, plan), standing, amended, now)
    for item, instalment in zip(requested, amended, strict=True):
        plan.keep_texts(instalment, item.required_materials, item.verification)
    payer_nonce, payee_nonce = nonces.take(session, payer), nonces.take(session, payee)
    deadline = now + ports.signature_ttl
    current_root = td.instalments_root([s.terms for s in standing])
    details = {
        "payer_nonce": payer_nonce,
        "payee_nonce": payee_nonce,
        "deadline": deadline,
        "total": str(total),
        "instalments": [_instalment_details(i) for i in amended],
    }
    action = _new(session, plan, ActionKind.AMENDMENT, list(range(len(amended))), party_id, details)
    message = td.amendment_message(plan.chain_plan_id, current_root, amended, payer_nonce, payee_nonce, deadline)
    typed = td.payload("Amendment", message, ports.chain.chain_id, ports.chain.escrow_address)
    for party in (payer, payee):
        signatures.request(session, ports, party.id, Subject.of(action), ActionKind.AMENDMENT, typed)
    return action


def _require_no_amendment_in_flight(session: Session, plan: m.Plan, now: int) -> None:
    """One amendment at a time: a second one's signatures would name instalments the first replaces."""
    waiting = session.scalars(
        select(m.PlanAction).where(
            m.PlanAction.plan_id == plan.id,
            m.PlanAction.kind == ActionKind.AMENDMENT,
            m.PlanAction.status.in_([ActionStatus.AWAITING_SIGNATURES, ActionStatus.QUEUED]),
        )
    ).all()
    for action in waiting:
        if action.status == ActionStatus.QUEUED or action.details["deadline"] >= now:
            raise Conflict(
                f"amendment {records.public_id(m.PlanAction, action.id)} of this plan is {action.status}: "
                "wait until it is mined, or until its signatures expire"
            )


def _instalment_details(instalment: Instalment) -> dict[str, Any]:
    return {
        "deposit_by": instalment.deposit_by,
        "release_at": instalment.release_at,
        "amount": str(instalment.amount),
        "rule": int(instalment.rule),
        "materials_hash": "0x" + instalment.materials_hash.hex(),
    }


def _amended_instalments(action: m.PlanAction) -> list[Instalment]:
    return [
        Instalment(
            deposit_by=d["deposit_by"],
            release_at=d["release_at"],
            amount=int(d["amount"]),
            rule=ReleaseRule(d["rule"]),
            materials_hash=bytes.fromhex(d["materials_hash"][2:]),
        )
        for d in action.details["instalments"]
    ]


# ------------------------------------------------------------------------------ signatures in, transactions out


def on_signatures_complete(session: Session, ports: Ports, action_id: int) -> None:
    """Everything the action waits for is signed: its call goes to the relayer."""
    action = records.get(session, m.PlanAction, action_id, for_update=True)
    plan = records.get(session, m.Plan, action.plan_id)
    rows = records.instalment_rows(session, plan)
    function, arguments = _SIGNED_CALLS[ActionKind(action.kind)](session, plan, rows, action)
    _queue(session, ports, action, _OUTBOX_KINDS[function], ports.chain.encode(function, *arguments))


SignedCall = tuple[str, tuple[object, ...]]  # the escrow's function and its arguments


def _deposit_with_permit(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    d, subject = action.details, Subject.of(action)
    permit_sig = signatures.signature_of(session, subject, PERMIT, plan.payer_id) or b""
    auth_sig = signatures.signature_of(session, subject, DEPOSIT_AUTHORIZATION, plan.payer_id) or b""
    permit = (int(d["value"]), d["deadline"], permit_sig[64], permit_sig[:32], permit_sig[32:64])
    authorisation = abi.party_signature(d["nonce"], d["deadline"], auth_sig)
    return "depositWithPermit", (*plan_target(session, plan, rows, action.indices), permit, authorisation)


def _cancellation(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    d = action.details
    parties, taken = (plan.payer_id, plan.payee_id), (d["payer_nonce"], d["payee_nonce"])
    auth = signatures.joint_authorization(
        session, Subject.of(action), ActionKind.CANCELLATION, parties, taken, d["deadline"]
    )
    return "cancelInstalments", (*plan_target(session, plan, rows, action.indices), auth)


def _amendment(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    d = action.details
    parties, taken = (plan.payer_id, plan.payee_id), (d["payer_nonce"], d["payee_nonce"])
    auth = signatures.joint_authorization(
        session, Subject.of(action), ActionKind.AMENDMENT, parties, taken, d["deadline"]
    )
    current = [abi.instalment(records.terms(r)) for r in rows]
    amended = [abi.instalment(i) for i in _amended_instalments(action)]
    params = abi.plan_params(records.plan_params(session, plan))
    return "amendPlan", (plan.chain_plan_id, params, current, amended, auth)


def _party_signature(session: Session, action: m.PlanAction) -> tuple[object, ...]:
    """The one party's signature on an approval, a materials submission or a dispute, as the contract takes it."""
    assert action.party_id is not None
    signature = signatures.signature_of(session, Subject.of(action), action.kind, action.party_id) or b""
    return abi.party_signature(action.details["nonce"], action.details["deadline"], signature)


def _payer_approval(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    target = instalment_target(session, plan, rows, action.indices[0])
    return "approveRelease", (*target, _party_signature(session, action))


def _materials(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    target = instalment_target(session, plan, rows, action.indices[0])
    delivered = bytes.fromhex(action.details["delivered_hash"][2:])
    return "submitMaterials", (*target, delivered, _party_signature(session, action))


def _dispute(session: Session, plan: m.Plan, rows: list[m.Instalment], action: m.PlanAction) -> SignedCall:
    target = instalment_target(session, plan, rows, action.indices[0])
    by, reason_hash = action.details["by"], bytes.fromhex(action.details["reason_hash"][2:])
    return "dispute", (*target, by, reason_hash, _party_signature(session, action))


_SIGNED_CALLS = {
    ActionKind.DEPOSIT: _deposit_with_permit,
    ActionKind.CANCELLATION: _cancellation,
    ActionKind.AMENDMENT: _amendment,
    ActionKind.PAYER_APPROVAL: _payer_approval,
    ActionKind.MATERIALS: _materials,
    ActionKind.DISPUTE: _dispute,
}
_OUTBOX_KINDS = {  # how the relayer's outbox names each call (what the operator sees in /v1/transactions)
    "depositWithPermit": "deposit_with_permit",
    "cancelInstalments": "cancel_instalments",
    "amendPlan": "amend_plan",
    "approveRelease": ActionKind.PAYER_APPROVAL,
    "submitMaterials": ActionKind.MATERIALS,
    "dispute": ActionKind.DISPUTE,
}


# ------------------------------------------------------------------------------------------ helpers


def _plan_for(
    session: Session, actor: Actor, plan_id: str, *, payer_only: bool = False, payee_only: bool = False
) -> tuple[m.Plan, list[m.Instalment]]:
    plan = records.get_plan(session, actor, plan_id)
    if payer_only and actor.party_id != plan.payer_id:
        raise Conflict("only the plan's payer does this")
    if payee_only and actor.party_id != plan.payee_id:
        raise Conflict("only the plan's payee does this")
    if plan.status not in (PlanStatus.RECORDED, PlanStatus.COMPLETED) or plan.chain_plan_id is None:
        raise Conflict(f"the plan is {plan.status}: this needs a plan recorded on chain")
    return plan, records.instalment_rows(session, plan)


def _indices(rows: Sequence[m.Instalment], indices: Sequence[int]) -> list[m.Instalment]:
    if not indices:
        raise InvalidInput([Problem("indices", "name at least one instalment")])
    if len(set(indices)) != len(indices):
        raise InvalidInput([Problem("indices", "name each instalment once")])
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < len(rows)]
    if bad:
        raise InvalidInput([Problem("indices", f"the plan's instalments are 0 to {len(rows) - 1}; got {bad}")])
    return [rows[i] for i in indices]


def _awaiting_condition(
    session: Session, actor: Actor, plan_id: str, index: int, rule: ReleaseRule, met: str
) -> m.Plan:
    """The plan, once instalment `index` is open, released by `rule`, and its condition not yet met (`met`
    says how it would be): the payer approves, the payee delivers."""
    payer = rule == ReleaseRule.PAYER_APPROVAL
    plan, rows = _plan_for(session, actor, plan_id, payer_only=payer, payee_only=not payer)
    [row] = _indices(rows, [index])
    _require_open(row, rule=rule)
    if row.chain_status & InstalmentStatus.CONDITION_MET:
        raise Conflict(f"instalment {index} {met}")
    return plan


def _require_open(row: m.Instalment, rule: ReleaseRule | None = None) -> None:
    if rule is not None and row.rule != rule:
        raise Conflict(
            f"instalment {row.index} is released by {ReleaseRule(row.rule).name.lower()}, not {rule.name.lower()}"
        )
    if row.chain_status & InstalmentStatus.CLOSED:
        raise Conflict(f"instalment {row.index} is closed")


def _new(
    session: Session, plan: m.Plan, kind: ActionKind, indices: list[int], party_id: int | None, details: dict[str, Any]
) -> m.PlanAction:
    action = m.PlanAction(
        plan_id=plan.id, kind=kind, indices=indices, party_id=party_id, status=ACTION_LIFECYCLE.initial, details=details
    )
    session.add(action)
    session.flush()
    return action


def _sign(
    session: Session, ports: Ports, plan: m.Plan, action: m.PlanAction, party_id: int, message: Any, *extra: bytes
) -> m.PlanAction:
    """Asks `party_id` to sign the action's typed data; `message` builds it from
    (planId, index, *extra, nonce, deadline)."""
    party = session.get(m.Party, party_id)
    assert party is not None and plan.chain_plan_id is not None
    nonce = nonces.take(session, party)
    deadline = ports.chain.now() + ports.signature_ttl
    action.details = {**action.details, "nonce": nonce, "deadline": deadline}
    body = message(plan.chain_plan_id, action.indices[0], *extra, nonce, deadline)
    primary = {
        ActionKind.PAYER_APPROVAL: "PayerApproval",
        ActionKind.MATERIALS: "MaterialsSubmission",
        ActionKind.DISPUTE: "Dispute",
    }[ActionKind(action.kind)]
    typed = td.payload(primary, body, ports.chain.chain_id, ports.chain.escrow_address)
    signatures.request(session, ports, party_id, Subject.of(action), action.kind, typed)
    return action


def _queue(session: Session, ports: Ports, action: m.PlanAction, kind: str, call: bytes) -> None:
    entry = enqueue(session, kind, str(Subject.of(action)), ports.chain.escrow_address, call)
    action.outbox_id = entry.id
    action.status = ACTION_LIFECYCLE.next(ActionStatus(action.status), ActionEvent.QUEUED)
