"""The API's request and response bodies: what travels on the wire, shared by the server (daifa.api) and
the SDK (daifa.sdk), owned by neither. Token amounts travel as decimal strings (they outgrow JavaScript's
numbers) and are accepted as strings or integers; times are unix seconds, UTC, as on chain. The limits
are the domain's (daifa.domain.limits, daifa.domain.plans), so the schema documents what the use cases
enforce."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from daifa.domain.limits import (
    MAX_BATCH,
    MAX_ID,
    MAX_LABEL,
    MAX_MATERIALS,
    MAX_NAME,
    MAX_SIGNATURE_BYTES,
    MAX_TEXT,
    MAX_URL,
)
from daifa.domain.plans import MAX_FEE_BPS, MAX_INSTALMENTS, UINT32_MAX, UINT40_MAX
from daifa.errors import InvalidInput, Problem

UINT256_MAX = 2**256 - 1


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a whole number of the token's smallest unit, as a string or an integer")
    if isinstance(value, str):
        if not value.isdigit() or len(value) > 78:
            raise ValueError("must be a whole number of the token's smallest unit, digits only")
        value = int(value)
    if not 0 <= value <= UINT256_MAX:
        raise ValueError("must be from 0 to 2**256 - 1")
    return int(value)


def parse_amount(value: Any, field: str) -> int:
    """An amount from a form field, or InvalidInput naming the field."""
    try:
        return _amount(value)
    except ValueError as error:
        raise InvalidInput([Problem(field, str(error))]) from None


Amount = Annotated[
    int,
    BeforeValidator(_amount),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,78}$", "examples": ["2500000000"]}),
]
UnixTime = Annotated[int, Field(ge=0, le=UINT40_MAX, description="unix seconds, UTC")]
Index = Annotated[int, Field(ge=0, le=MAX_INSTALMENTS - 1)]
ShortText = Annotated[str, Field(max_length=MAX_TEXT)]
Address = Annotated[str, Field(max_length=42, examples=["0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"])]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------ requests


class ReviewIn(In):
    comment: ShortText = ""


class RejectIn(In):
    reason: ShortText


class CreditAuthorisationIn(In):
    limit: Amount | None = Field(None, description="lower the credit limit the payee asked for")


class CreditAuthorisationsIn(In):
    products: list[str] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} product ids (prd_12), each authorised at the limit its payee asked for",
    )


class InstalmentIn(In):
    deposit_by: UnixTime
    release_at: UnixTime
    amount: Amount
    rule: Literal["time", "payer_approval", "materials"]
    required_materials: list[Annotated[str, Field(max_length=MAX_NAME)]] = Field(
        default_factory=list, max_length=MAX_MATERIALS
    )
    verification: ShortText = ""


class PlanIn(In):
    product: str = Field(max_length=MAX_ID, examples=["prd_1"])
    instalments: list[InstalmentIn] = Field(min_length=1, max_length=MAX_INSTALMENTS)
    expiry: UnixTime
    token: Address | None = None
    fee_bps: int = Field(0, ge=0, le=MAX_FEE_BPS)
    fee_cap: Amount = 0
    fee_recipient: Address | None = None
    review_window: int = Field(3 * 86_400, ge=0, le=UINT32_MAX, description="seconds")
    arbiter: Address | None = None


class DepositIn(In):
    indices: list[Index] = Field(min_length=1, max_length=MAX_INSTALMENTS)
    method: Literal["auto", "permit", "wallet"] = Field(
        "auto", description="auto: permit where the token has it and the payer's wallet is a key's, else wallet"
    )


class CancellationIn(In):
    indices: list[Index] = Field(min_length=1, max_length=MAX_INSTALMENTS)


class AmendmentIn(In):
    instalments: list[InstalmentIn] = Field(
        min_length=1,
        max_length=MAX_INSTALMENTS,
        description="the plan's instalments as they should be, all of them: funded, approved, delivered, disputed "
        "or closed ones unchanged at their index; others changed, removed from the end or added after it",
    )


class ResolutionIn(In):
    to_payee: Amount
    note: ShortText = ""


class SignatureIn(In):
    signature: str = Field(
        max_length=2 + 2 * MAX_SIGNATURE_BYTES,
        description="0x-prefixed hex: the 65 bytes eth_signTypedData_v4 returns, or a contract wallet's signature "
        "(a Safe's owners' signatures, concatenated), up to 4,096 bytes",
    )


class SignedRequestIn(SignatureIn):
    request: str = Field(max_length=MAX_ID, description="the signature request's id (sig_12)")


class SignaturesIn(In):
    signatures: list[SignedRequestIn] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} signatures, each over its request's typed_data",
    )


class WebhookEndpointIn(In):
    url: str = Field(max_length=MAX_URL, description="https://... (a public address; credentials in it are refused)")


class ApiKeyIn(In):
    party: str | None = Field(
        None, max_length=MAX_ID, description="(operator) whose key; leave out for an operator key"
    )
    label: str | None = Field(None, max_length=MAX_LABEL, description="what the key is for, to tell keys apart")


class ApiKeyRollIn(In):
    expires_in: int = Field(
        0, ge=0, le=7 * 86_400, description="seconds the old key keeps working (0: it stops now; at most a week)"
    )


# ------------------------------------------------------------------------------------------ responses


class Out(BaseModel):
    pass


class DocumentOut(Out):
    id: str
    object: Literal["document"] = "document"
    hash: str
    content_type: str
    size: int
    filename: str
    purpose: str
    subject: str
    created: datetime


class PartyOut(Out):
    id: str
    object: Literal["party"] = "party"
    address: str
    legal_name: str
    kind: str
    status: str
    review_note: str | None
    documents_hash: str | None
    account_open: bool
    created: datetime
    documents: list[DocumentOut]


class ApplicationOut(Out):
    party: PartyOut
    api_key: str = Field(description="shown once: it works for the application now and for everything once approved")


class ProductOut(Out):
    id: str
    object: Literal["product"] = "product"
    payer: str
    payee: str
    business_name: str
    status: str
    tokens: list[str]
    limit: Amount
    expiry: int
    review_note: str | None
    agreement_set_id: int | None
    consent_hash: str | None
    created: datetime
    documents: list[DocumentOut]


class InstalmentOut(Out):
    index: int
    deposit_by: int
    release_at: int
    amount: Amount
    rule: str
    required_materials: list[str]
    verification: str
    materials_hash: str
    status: str
    status_bits: int
    overdue: bool
    delivered_hash: str | None
    review_ends_at: int | None
    to_payee: Amount
    fee: Amount
    to_payer: Amount


class PlanOut(Out):
    id: str
    object: Literal["plan"] = "plan"
    product: str
    payer: str
    payee: str
    status: str
    agreement_set_id: int | None
    payer_address: str
    payee_address: str
    payer_nonce: int
    payee_nonce: int
    deadline: int = Field(description="the signatures' deadline (unix seconds)")
    token: str
    arbiter: str
    fee_recipient: str
    fee_bps: int
    fee_cap: Amount
    review_window: int
    expiry: int
    total: Amount
    chain_plan_id: int | None
    consent_hash: str
    reject_reason: str | None
    created: datetime
    instalments: list[InstalmentOut]


class SignatureRequestOut(Out):
    id: str
    object: Literal["signature_request"] = "signature_request"
    party: str
    subject: str
    purpose: str
    status: str
    typed_data: dict[str, Any] = Field(description="the eth_signTypedData_v4 payload; every integer a decimal string")
    digest: str = Field(description="the EIP-712 digest a wallet signs (a multisig's owners sign a message over it)")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="for people: the token's symbol and decimals, the parties' legal names, the agreements",
    )
    created: datetime


class ActionOut(Out):
    id: str
    object: Literal["action"] = "action"
    plan: str
    kind: str
    indices: list[int]
    status: str
    details: dict[str, Any]
    transaction: str | None
    signature_requests: list[SignatureRequestOut]
    documents: list[DocumentOut]
    created: datetime


class EventOut(Out):
    id: str
    object: Literal["event"] = "event"
    type: str
    subject: str
    data: dict[str, Any]
    created: datetime


class WebhookEndpointOut(Out):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    enabled: bool
    failures: int = Field(0, description="deliveries that failed in a row")
    disabled_reason: str | None = Field(None, description="why the platform disabled it, if it did")
    secret: str | None = Field(None, description="shown once, when the endpoint is created")


class ApiKeyOut(Out):
    id: str
    object: Literal["api_key"] = "api_key"
    prefix: str = Field(description="the key's first characters, to tell it apart")
    role: Literal["operator", "party"]
    party: str | None
    label: str | None
    status: Literal["active", "expired", "revoked"]
    created: int
    expires_at: int | None = Field(description="a rolled key works until then")
    revoked_at: int | None
    secret: str | None = Field(None, description="the key itself: shown once, when it is created or rolled")


class TransactionOut(Out):
    id: str
    object: Literal["transaction"] = "transaction"
    kind: str
    subject: str
    status: str
    nonce: int | None
    tx_hashes: list[str]
    mined_tx_hash: str | None
    mined_block: int | None
    gas_used: int | None
    error: str | None
    created: datetime


class MismatchOut(Out):
    subject: str
    field: str
    database: str
    chain: str


class ReconciliationOut(Out):
    object: Literal["reconciliation"] = "reconciliation"
    ok: bool
    block: int
    parties: int
    products: int
    plans: int
    instalments: int
    tokens: int
    transactions: int = Field(description="the relayer's transactions checked against their receipts")
    mismatches: list[MismatchOut]


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    reasons: list[str] = Field(description="why it is degraded, each saying what to look at; empty when ok")
    chain_id: int
    escrow: str
    workers: int = Field(description="workers whose report is fresh")
    node_reachable: bool | None = Field(description="whether the node answered the worker's last probe")
    head_block: int | None
    chain_time: int | None = Field(description="the latest block's timestamp: the clock plans are checked against")
    head_age_seconds: float | None = Field(description="seconds since the head block last changed")
    indexer_lag_blocks: int | None
    outbox_waiting: int
    outbox_oldest_age_seconds: float | None
    nonce_gap: int | None = Field(description="the node's pending nonce less the platform's next; above 0: foreign use")
    webhook_backlog: int


T = TypeVar("T")


class PayrollProgress(Out):
    asked: int = Field(description="rows made plans so far (the worker makes them a few hundred at a time)")
    plans: dict[str, int] = Field(description="the run's plans by status")
    signed_by_payer: int
    recorded: int
    funded: int = Field(description="recorded plans whose every instalment is funded (or already closed)")


class PayrollRunOut(Out):
    id: str
    object: Literal["payroll_run"] = "payroll_run"
    status: str = Field(description="creating (rows becoming plans), created, or stopped (see error)")
    error: str | None = Field(description="why a stopped run stopped: the row and the reason")
    filename: str
    rows: int
    time_zone: str
    funding: str = Field(
        description="after_recording (the platform records each plan, the payer deposits later) or at_recording "
        "(the payer's wallet records the signed plans and funds them in full: GET /v1/payroll_runs/{id}/funding)"
    )
    file_hash: str = Field(description="keccak-256 of the file as sent")
    progress: PayrollProgress
    created: datetime


class WalletTransaction(Out):
    to: str
    data: str = Field(description="0x calldata")
    description: str


class RunFundingOut(Out):
    object: Literal["payroll_run.funding"] = "payroll_run.funding"
    run: str
    plans: list[str] = Field(description="the plans these transactions record and fund, oldest first")
    token: str
    value: str = Field(description="what the transactions take from the payer's wallet, in the token's base units")
    deadline: int = Field(description="unix time: the plans' signatures expire then; send the transactions before")
    transactions: list[WalletTransaction] = Field(
        description="for the payer's wallet to send in order: the token approval if the allowance is short, "
        "then each batch (recordPlansAndDeposit)"
    )
    has_more: bool = Field(description="more plans wait: ask again once these are mined")


class Page(Out, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
