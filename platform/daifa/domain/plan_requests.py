"""A payer's request for a disbursement plan: checked against its product before the payee sees it,
confirmed or rejected by the payee, recorded on chain with both signatures.

`check_plan_request` refuses, with every problem named, what the contracts would refuse, so a bad plan
gets a clear answer from the platform instead of a reverted transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from daifa.domain.plans import (
    MAX_FEE_BPS,
    MAX_INSTALMENTS,
    UINT40_MAX,
    UINT128_MAX,
    Instalment,
    PlanParams,
    ReleaseRule,
)
from daifa.domain.workflow import Workflow
from daifa.errors import InvalidInput, Problem

ZERO_HASH = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20


class PlanStatus(StrEnum):
    AWAITING_PAYER = "awaiting_payer"  # checked against the product; the payer signs what goes on chain
    AWAITING_PAYEE = "awaiting_payee"  # checked against the product, signed by the payer, sent to the payee
    REJECTED = "rejected"  # the payee refused, with a reason
    WITHDRAWN = "withdrawn"  # the payer took it back before the payee answered
    RECORDING = "recording"  # both signed; the plan is in the relayer's outbox
    AWAITING_FUNDING = "awaiting_funding"  # both signed; the payer's wallet records it and funds it at once
    RECORDED = "recorded"  # the indexer saw PlanRecorded
    COMPLETED = "completed"  # every instalment is closed on chain
    EXPIRED = "expired"  # the signatures' deadline passed before the plan was recorded


class PlanEvent(StrEnum):
    PAYER_SIGN = "payer_sign"
    PAYER_SENDS = "payer_sends"  # a run funded at recording: the payer consents by sending the transaction
    PAYEE_CONFIRM = "payee_confirm"
    PAYEE_CONFIRM_PAYER_FUNDS = "payee_confirm_payer_funds"  # a run the payer records and funds itself
    PAYEE_REJECT = "payee_reject"
    PAYER_WITHDRAW = "payer_withdraw"
    RECORD_CONFIRMED = "record_confirmed"
    ALL_INSTALMENTS_CLOSED = "all_instalments_closed"
    SIGNATURES_EXPIRED = "signatures_expired"


S, E = PlanStatus, PlanEvent

PLAN_LIFECYCLE: Workflow[PlanStatus, PlanEvent] = Workflow(
    name="plan",
    initial=S.AWAITING_PAYER,
    moves={
        (S.AWAITING_PAYER, E.PAYER_SIGN): S.AWAITING_PAYEE,
        (S.AWAITING_PAYER, E.PAYER_SENDS): S.AWAITING_PAYEE,
        (S.AWAITING_PAYER, E.PAYER_WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_PAYER, E.SIGNATURES_EXPIRED): S.EXPIRED,
        (S.AWAITING_PAYEE, E.PAYEE_CONFIRM): S.RECORDING,
        (S.AWAITING_PAYEE, E.PAYEE_CONFIRM_PAYER_FUNDS): S.AWAITING_FUNDING,
        (S.AWAITING_PAYEE, E.PAYEE_REJECT): S.REJECTED,
        (S.AWAITING_PAYEE, E.PAYER_WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_PAYEE, E.SIGNATURES_EXPIRED): S.EXPIRED,
        (S.RECORDING, E.RECORD_CONFIRMED): S.RECORDED,
        (S.RECORDING, E.SIGNATURES_EXPIRED): S.EXPIRED,
        (S.AWAITING_FUNDING, E.RECORD_CONFIRMED): S.RECORDED,
        (S.AWAITING_FUNDING, E.SIGNATURES_EXPIRED): S.EXPIRED,
        (S.RECORDED, E.ALL_INSTALMENTS_CLOSED): S.COMPLETED,
    },
)


@dataclass(frozen=True)
class ProductTerms:
    """What a plan is checked against: the open product (agreement set) it is requested under."""

    agreement_set_id: int
    payer: str
    payee: str
    tokens: frozenset[str]
    limit: int
    committed: int  # the total of its live plans: asked for, being signed, recorded or completed
    expiry: int
    is_open: bool


def check_plan_request(product: ProductTerms, params: PlanParams, instalments: Sequence[Instalment], now: int) -> int:
    """Returns the plan's total, or raises InvalidInput listing every problem. `now` is the chain's time."""
    problems: list[Problem] = []

    def problem(field: str, message: str) -> None:
        problems.append(Problem(field, message))

    if not product.is_open:
        problem("agreement_set_id", "the product is not open: finish opening it, or choose an open one")
    if params.agreement_set_id != product.agreement_set_id:
        problem("agreement_set_id", f"must be {product.agreement_set_id}, the product's agreement set")
    if (params.payer.lower(), params.payee.lower()) != (product.payer.lower(), product.payee.lower()):
        problem("payer", "payer and payee must be the product's parties")
    if params.token.lower() not in {t.lower() for t in product.tokens}:
        problem("token", f"the product allows only {', '.join(sorted(product.tokens))}")
    if not now < params.expiry <= min(product.expiry, UINT40_MAX):
        problem("expiry", f"must be after now ({now}) and no later than the product's expiry ({product.expiry})")
    if not 0 <= params.fee_bps <= MAX_FEE_BPS:
        problem("fee_bps", f"must be between 0 and {MAX_FEE_BPS} basis points")
    if params.fee_bps and params.fee_recipient.lower() == ZERO_ADDRESS:
        problem("fee_recipient", "a plan with a fee needs a fee recipient")
    if not 0 <= params.fee_cap <= UINT128_MAX:
        problem("fee_cap", "must be a whole number of token units, 0 or more")
    if params.arbiter.lower() == ZERO_ADDRESS:
        problem("arbiter", "name the arbiter (the operator unless the parties agree on another)")
    if not 1 <= len(instalments) <= MAX_INSTALMENTS:
        problem("instalments", f"a plan has 1 to {MAX_INSTALMENTS} instalments")

    total = 0
    for i, instalment in enumerate(instalments):
        problems += _instalment_problems(f"instalments[{i}]", instalment, params.expiry, now)
        total += instalment.amount if 0 < instalment.amount <= UINT128_MAX else 0

    available = product.limit - product.committed
    if total > available:
        problem("instalments", f"the plan totals {total}; the product has {available} left of its limit")
    if problems:
        raise InvalidInput(problems)
    return total


@dataclass(frozen=True)
class StandingInstalment:
    """A recorded plan's instalment as it stands, for an amendment to be checked against."""

    terms: Instalment
    touched: bool  # funded, approved, delivered, disputed or closed: it must stay exactly as both signed it


def check_amendment(
    product: ProductTerms,
    params: PlanParams,
    standing: Sequence[StandingInstalment],
    amended: Sequence[Instalment],
    now: int,
) -> int:
    """Returns the amended plan's total, or raises InvalidInput listing every problem: the contract's rules
    for amendPlan (touched instalments stay as they are, each new one valid, the product's limit holds:
    `product.committed` counts the product's other plans) and the platform's (a new or changed instalment
    is deposited in the future; an amendment changes something)."""
    problems: list[Problem] = []
    current = [s.terms for s in standing]
    if list(amended) == current:
        problems.append(Problem("instalments", "the amendment changes nothing: send the instalments as they should be"))
    if not 1 <= len(amended) <= MAX_INSTALMENTS:
        problems.append(Problem("instalments", f"a plan has 1 to {MAX_INSTALMENTS} instalments"))
    for i, item in enumerate(standing):
        if item.touched and (i >= len(amended) or amended[i] != item.terms):
            problems.append(
                Problem(f"instalments[{i}]", "is funded, approved, delivered, disputed or closed: send it unchanged")
            )
    total = 0
    for i, instalment in enumerate(amended):
        unchanged = i < len(current) and current[i] == instalment
        if not unchanged:
            problems += _instalment_problems(f"instalments[{i}]", instalment, params.expiry, now)
        total += instalment.amount if 0 < instalment.amount <= UINT128_MAX else 0
    available = product.limit - product.committed
    if total > available:
        problems.append(
            Problem("instalments", f"the amended plan totals {total}; the product has {available} for it of its limit")
        )
    if problems:
        raise InvalidInput(problems)
    return total


def _instalment_problems(where: str, instalment: Instalment, expiry: int, now: int) -> list[Problem]:
    """What is wrong with one new instalment of a plan that expires at `expiry`."""
    problems = []
    if not 0 < instalment.amount <= UINT128_MAX:
        problems.append(Problem(f"{where}.amount", "must be a positive whole number of the token's smallest unit"))
    if instalment.deposit_by <= now:
        problems.append(Problem(f"{where}.deposit_by", "must be in the future"))
    if instalment.deposit_by > instalment.release_at:
        problems.append(Problem(f"{where}.deposit_by", "must not be after release_at"))
    if instalment.release_at > expiry:
        problems.append(Problem(f"{where}.release_at", "must not be after the plan's expiry"))
    if instalment.rule == ReleaseRule.MATERIALS and instalment.materials_hash == ZERO_HASH:
        problems.append(
            Problem(f"{where}.materials_hash", "a MATERIALS instalment needs its list of required materials")
        )
    return problems
