"""The platform's tables (SQLAlchemy 2). Alembic migrations in store/migrations create them.

Money columns hold token amounts up to 2**256 - 1 exactly: SQLite has no such integer and would turn a
NUMERIC into a float, so they are stored as decimal text and read back as int (`TokenAmount`). Chain times
are unix seconds (BigInteger); record times are timezone-aware UTC.

Columns named `chain_*`, and the instalments' statuses and payouts, are written by the indexer alone:
they are the database's copy of what the chain says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from daifa.domain.plans import Instalment as InstalmentTerms


def utcnow() -> datetime:
    return datetime.now(UTC)


class TokenAmount(TypeDecorator[int]):
    """An unsigned integer of up to 78 digits, stored as text so that no database rounds it."""

    impl = String(78)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"a token amount is a non-negative int, not {value!r}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite drops the zone; it is put back here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (UTC)")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# ------------------------------------------------------------------------------------------ parties


class Party(Timestamps, Base):
    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # payer, payee or both
    status: Mapped[str] = mapped_column(String(32))
    review_note: Mapped[str | None] = mapped_column(Text)
    documents_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))  # what the operator approved
    next_nonce: Mapped[int] = mapped_column(BigInteger, default=1)  # the next EIP-712 nonce the party signs
    chain_roles: Mapped[int] = mapped_column(Integer, default=0)
    chain_suspended: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKey(Base):
    """An API key: only its SHA-256 is kept. Keys are 32 random bytes, so a fast hash is enough."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so people can tell keys apart
    role: Mapped[str] = mapped_column(String(10))  # operator or party
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a rolled key works until then
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Document(Base):
    """A stored file's record: who uploaded it, for what. The bytes live in the DocumentStore."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(String(32))  # qualification, business_contract, agreement, materials, evidence
    subject: Mapped[str] = mapped_column(String(64), index=True)  # party:3, product:7, action:12
    owner_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# ------------------------------------------------------------------------------------------ products


class Product(Timestamps, Base):
    """A product opening: the payee's application, the payer's credit authorisation, the agreement set."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    payee_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    business_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40))
    tokens: Mapped[list[Any]] = mapped_column(JSON)
    limit: Mapped[int] = mapped_column(TokenAmount)
    expiry: Mapped[int] = mapped_column(BigInteger)
    review_note: Mapped[str | None] = mapped_column(Text)
    agreement_hashes: Mapped[list[Any] | None] = mapped_column(JSON)  # payer-platform, payee-platform, payer-payee
    payer_nonce: Mapped[int | None] = mapped_column(BigInteger)
    payee_nonce: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[int | None] = mapped_column(BigInteger)
    consent_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    chain_agreement_set_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)


# ------------------------------------------------------------------------------------------ plans


class Plan(Timestamps, Base):
    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_payroll_run_status", "payroll_run_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    payee_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    # Goes up with every change to the plan or its instalments, whoever writes them: database triggers
    # (migration 0002) keep it, so the API can serve a plan's kept representation while it is unchanged.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(32), index=True)
    token: Mapped[str] = mapped_column(String(42))
    arbiter: Mapped[str] = mapped_column(String(42))
    fee_recipient: Mapped[str] = mapped_column(String(42))
    fee_bps: Mapped[int] = mapped_column(Integer)
    fee_cap: Mapped[int] = mapped_column(TokenAmount)
    review_window: Mapped[int] = mapped_column(BigInteger)
    expiry: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(TokenAmount)
    payer_nonce: Mapped[int] = mapped_column(BigInteger)
    payee_nonce: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    consent_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    chain_plan_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # With its status in one index: a run's progress asks "is any of its plans still short of ..." often.
    payroll_run_id: Mapped[int | None] = mapped_column(ForeignKey("payroll_runs.id"))
    # The outbox entry that records it (alone, or in a batch with others); None until the worker queues it.
    record_entry_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Materials hash (hex) -> {"required_materials": [...], "verification": "..."}: the words behind every
    # materials list the plan was signed with (the chain keeps the hashes only); see instalment_texts.
    materials: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    def keep_texts(self, terms: InstalmentTerms, required_materials: list[str], verification: str) -> None:
        """Remembers the words behind `terms.materials_hash` (a new dict: JSON columns see only assignment)."""
        texts = {"required_materials": list(required_materials), "verification": verification}
        self.materials = {**(self.materials or {}), terms.materials_hash.hex(): texts}

    def instalment_texts(self, materials_hash: bytes) -> tuple[list[str], str]:
        """The required materials and verification text behind a materials hash; none if the plan was
        amended outside the platform."""
        texts = (self.materials or {}).get(materials_hash.hex())
        if texts is None:
            return [], ""
        return list(texts["required_materials"]), str(texts["verification"])


class PayrollRun(Timestamps, Base):
    """A payer's file of plans, checked whole when it came; the worker then asks for its plans a chunk of
    rows at a time (created_plans says how far it got). Its plans name it (Plan.payroll_run_id)."""

    __tablename__ = "payroll_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # creating, created, stopped
    filename: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    created_plans: Mapped[int] = mapped_column(Integer, default=0)
    time_zone: Mapped[str] = mapped_column(String(64))
    release_time: Mapped[str] = mapped_column(String(8))
    funding: Mapped[str] = mapped_column(String(16), server_default="after_recording")  # daifa.domain.payroll.Funding
    # As sent: the worker reads its rows from it. Deferred: the run is read on every indexed batch of its
    # plans (its progress), and a file of 10,000 rows is a megabyte.
    file: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    file_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # keccak of the file
    error: Mapped[str | None] = mapped_column(Text)  # why creating stopped


class Instalment(Base):
    __tablename__ = "instalments"
    __table_args__ = (UniqueConstraint("plan_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    deposit_by: Mapped[int] = mapped_column(BigInteger)
    release_at: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(TokenAmount)
    rule: Mapped[int] = mapped_column(Integer)
    materials_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    required_materials: Mapped[list[Any]] = mapped_column(JSON)
    verification: Mapped[str] = mapped_column(Text, default="")
    # The chain's view, written by the indexer only.
    chain_status: Mapped[int] = mapped_column(Integer, default=0)
    delivered_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    review_ends_at: Mapped[int | None] = mapped_column(BigInteger)
    to_payee: Mapped[int] = mapped_column(TokenAmount, default=0)
    fee: Mapped[int] = mapped_column(TokenAmount, default=0)
    to_payer: Mapped[int] = mapped_column(TokenAmount, default=0)
    # The scheduler's bookkeeping.
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))  # the release or refund in flight

    @classmethod
    def from_terms(
        cls, plan_id: int, index: int, terms: InstalmentTerms, required_materials: list[str], verification: str = ""
    ) -> Instalment:
        """A new row for instalment `index` of a plan as both parties signed it."""
        return cls(
            plan_id=plan_id,
            index=index,
            deposit_by=terms.deposit_by,
            release_at=terms.release_at,
            amount=terms.amount,
            rule=int(terms.rule),
            materials_hash=terms.materials_hash,
            required_materials=required_materials,
            verification=verification,
        )


class PlanAction(Timestamps, Base):
    """What a party or the operator asked for on a plan: a deposit, a payer approval, submitted
    materials, an attestation, a dispute and its resolution, a cancellation. It waits for the
    signatures it needs, then goes to the relayer's outbox."""

    __tablename__ = "plan_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    indices: Mapped[list[Any]] = mapped_column(JSON)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))  # who asked; None: the operator
    status: Mapped[str] = mapped_column(String(32), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class SignatureRequest(Timestamps, Base):
    """EIP-712 typed data a party must sign with its own wallet; the signature is checked on arrival."""

    __tablename__ = "signature_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)  # product:7, plan:3, action:12
    purpose: Mapped[str] = mapped_column(String(40))
    typed_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # for people: units, names, agreements
    status: Mapped[str] = mapped_column(String(16))  # pending, signed, void
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)  # 65 bytes from a key; more from a multisig


class Credit(Base):
    """A payment the escrow could not push (PaymentDeferred) and holds for its creditor to withdraw."""

    __tablename__ = "credits"

    token: Mapped[str] = mapped_column(String(42), primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[int] = mapped_column(TokenAmount, default=0)


# ------------------------------------------------------------------------------------------ relayer


class OutboxEntry(Timestamps, Base):
    """A transaction the platform will send: committed before it is signed, signed and stored before it
    is broadcast, so a crash at any point resumes without a second payment (one nonce per entry)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    to: Mapped[str] = mapped_column(String(42))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending, signed, sent, mined, failed
    sender: Mapped[str | None] = mapped_column(String(42))
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    raw_transaction: Mapped[bytes | None] = mapped_column(LargeBinary)
    tx_hashes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # every version sent, the last is current
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    mined_tx_hash: Mapped[str | None] = mapped_column(String(66))
    mined_block: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a pending entry set aside waits until then


class SignerNonce(Base):
    """The next nonce of each platform signer. Taken with one atomic UPDATE, so workers never collide."""

    __tablename__ = "signer_nonces"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)


# ------------------------------------------------------------------------------------------ indexer


class ChainIdentity(Base):
    """Which chain this database describes: the chain id and its genesis block, and the escrow. The
    platform refuses a node of another chain (a devnet reset under a kept database would otherwise look
    like a reorg of everything)."""

    __tablename__ = "chain_identity"

    escrow: Mapped[str] = mapped_column(String(42), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    genesis_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WorkerReport(Base):
    """What a worker last saw of itself and the chain, written every second or so: the node, each step's
    failures, the nonces. `/v1/health` and `/metrics` answer from these rows without asking the node."""

    __tablename__ = "worker_reports"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class IndexerCursor(Base):
    __tablename__ = "indexer_cursor"

    contract: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_block: Mapped[int] = mapped_column(BigInteger)


class IndexedBlock(Base):
    """Hashes of blocks the indexer read (each range's last block and every block with a log): a block
    whose hash changed on chain marks a reorg, and the newest one that did not is where to roll back to."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ChainLog(Base):
    """A raw log of the escrow, as the chain returned it. Projections are folded from these."""

    __tablename__ = "chain_logs"
    __table_args__ = (UniqueConstraint("block_number", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    address: Mapped[str] = mapped_column(String(42))
    topics: Mapped[list[Any]] = mapped_column(JSON)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(String(40))
    chain_plan_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


# ------------------------------------------------------------------------------------------ events


class Event(Base):
    """A state change, as the parties' webhooks and the events feed see it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(200))  # the chain log behind it, if any (unique)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    __table_args__ = (Index("ix_events_key", "key", unique=True),)
    # Written through these, an event and its rows need no flush of their own to learn the event's id:
    # the indexer emits thousands in one transaction and they go in as a few multi-row INSERTs.
    recipients: Mapped[list[EventRecipient]] = relationship()
    deliveries: Mapped[list[WebhookDelivery]] = relationship()


class EventRecipient(Base):
    """Which parties see an event. The operator sees them all."""

    __tablename__ = "event_recipients"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    __table_args__ = (Index("ix_event_recipients_party", "party_id", "event_id"),)


class WebhookEndpoint(Timestamps, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)  # None: the operator's
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(80))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # attempts failed in a row
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdempotencyRecord(Base):
    """A POST's response kept under its Idempotency-Key, so a retried request gets the same answer."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # the caller: its API key's id, or its address
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the first request is running
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)  # secrets shown once are blanked
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)  # kept 24 h


class ConsoleSession(Base):
    """A signed-in browser of the web console (daifa.console). Only the cookie's SHA-256 is kept: the
    cookie holds 32 random bytes, so a fast hash is enough, as for API keys."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # operator or party
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)  # an operator's session
    # The Sign-In with Ethereum nonce a party's session was opened with: unique, so a signed message
    # opens one session only.
    sign_in_nonce: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
