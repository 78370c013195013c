"""Reconciliation: does the database say what the chain says? The operator runs it through the API; the
tests run it after every flow.

It compares, as of the last block the indexer read: every approved party's roles, suspension and
reviewed-documents hash; every open product's agreement set (parties, expiry, limit); every recorded
plan's 24-byte commitment (its terms and instalments, hashed the way the contract does) and each
instalment's status and delivered materials; per token, the escrow's balance against what the
records say it holds (deposits less payouts, plus credited payments); and the relayer's outbox against
the node: the signer's next nonce is not behind the chain's count (else the next transaction it signs is
refused), the newest RECENT_TRANSACTIONS it took as mined have their receipts where it recorded them,
and none it still waits for has a nonce the chain has used for something else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain import typed_data as td
from daifa.domain.outbox import OutboxStatus
from daifa.domain.plans import InstalmentStatus, ReleaseRule
from daifa.errors import Conflict
from daifa.services import records
from daifa.services.context import Ports
from daifa.store import models as m

ZERO = b"\x00" * 32
RECENT_TRANSACTIONS = 500


@dataclass(frozen=True)
class Mismatch:
    subject: str
    field: str
    database: str
    chain: str


@dataclass
class Report:
    block: int
    parties: int = 0
    products: int = 0
    plans: int = 0
    instalments: int = 0
    tokens: int = 0
    transactions: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def differ(self, subject: str, name: str, database: object, chain: object) -> None:
        if database != chain:
            self.mismatches.append(Mismatch(subject, name, _show(database), _show(chain)))


def reconcile(session: Session, ports: Ports) -> Report:
    cursor = session.get(m.IndexerCursor, ports.chain.escrow_address)
    block = _state_block(ports, (cursor.next_block - 1) if cursor is not None else 0)
    report = Report(block=block)
    _parties(session, ports, report)
    _products(session, ports, report)
    plans = list(session.scalars(select(m.Plan).where(m.Plan.chain_plan_id.is_not(None)).order_by(m.Plan.id)))
    rows = {plan.id: records.instalment_rows(session, plan) for plan in plans}
    _commitments(session, ports, report, plans, rows)
    held = _instalments(ports, report, [(plan, row) for plan in plans for row in rows[plan.id]])
    _balances(session, ports, report, held)
    _signer_nonces(session, ports, report)
    _receipts(session, ports, report)
    return report


def _parties(session: Session, ports: Ports, report: Report) -> None:
    parties = list(session.scalars(select(m.Party).where(m.Party.chain_roles != 0)))
    recorded = ports.chain.read_many("party", [(p.address,) for p in parties], report.block)
    for party, (roles, suspended, documents_hash) in zip(parties, recorded, strict=True):
        subject = records.public_id(m.Party, party.id)
        report.differ(subject, "roles", party.chain_roles, int(roles))
        report.differ(subject, "suspended", party.chain_suspended, bool(suspended))
        report.differ(subject, "documents_hash", party.documents_hash, bytes(documents_hash))
        report.parties += 1


def _products(session: Session, ports: Ports, report: Report) -> None:
    products = list(session.scalars(select(m.Product).where(m.Product.chain_agreement_set_id.is_not(None))))
    sets = ports.chain.read_many("agreementSet", [(p.chain_agreement_set_id,) for p in products], report.block)
    for product, recorded in zip(products, sets, strict=True):
        payer, payee = session.get(m.Party, product.payer_id), session.get(m.Party, product.payee_id)
        assert payer is not None and payee is not None
        subject = records.public_id(m.Product, product.id)
        report.differ(subject, "payer", payer.address, recorded[0])
        report.differ(subject, "payee", payee.address, recorded[1])
        report.differ(subject, "expiry", product.expiry, int(recorded[2]))
        report.differ(subject, "limit", product.limit, int(recorded[3]))
        report.products += 1


def _commitments(
    session: Session, ports: Ports, report: Report, plans: list[m.Plan], rows: dict[int, list[m.Instalment]]
) -> None:
    """Each recorded plan's terms and instalments, hashed as the contract does, against its commitment."""
    commitments = ports.chain.read_many("planCommitment", [(p.chain_plan_id,) for p in plans], report.block)
    params = records.plan_params_of(session, plans)
    for plan, on_chain in zip(plans, commitments, strict=True):
        terms = [records.terms(r) for r in rows[plan.id]]
        commitment = td.plan_commitment(params[plan.id], td.instalments_root(terms))
        report.differ(records.public_id(m.Plan, plan.id), "commitment", commitment, bytes(on_chain))
        report.plans += 1


def _instalments(ports: Ports, report: Report, every: list[tuple[m.Plan, m.Instalment]]) -> dict[str, int]:
    """Each instalment's status and delivered materials against the chain's; returns what the escrow
    should hold per token for them."""
    held: dict[str, int] = defaultdict(int)
    statuses = ports.chain.read_many("instalmentStatus", [(p.chain_plan_id, r.index) for p, r in every], report.block)
    with_materials = [(plan, row) for plan, row in every if row.rule == ReleaseRule.MATERIALS]
    delivered = ports.chain.read_many(
        "materials", [(p.chain_plan_id, r.index) for p, r in with_materials], report.block
    )
    materials = {row.id: bytes(d[0]) for (_, row), d in zip(with_materials, delivered, strict=True)}
    for (plan, row), status in zip(every, statuses, strict=True):
        where = f"{records.public_id(m.Plan, plan.id)} instalment {row.index}"
        report.differ(where, "status", row.chain_status, int(status))
        if row.id in materials:
            report.differ(where, "delivered_hash", row.delivered_hash or ZERO, materials[row.id])
        if row.chain_status & InstalmentStatus.FUNDED:
            held[plan.token] += row.amount - row.to_payee - row.fee - row.to_payer
        report.instalments += 1
    return held


def _balances(session: Session, ports: Ports, report: Report, held: dict[str, int]) -> None:
    for credit in session.scalars(select(m.Credit)):
        held[credit.token] += credit.amount
    for token, amount in sorted(held.items()):
        balance = ports.chain.token(token).functions.balanceOf(ports.chain.escrow_address)
        report.differ(f"token {token}", "escrow balance", amount, int(balance.call(block_identifier=report.block)))
        report.tokens += 1


def _signer_nonces(session: Session, ports: Ports, report: Report) -> None:
    """The signer's next nonce is not behind the chain's count, and no transaction the relayer waits for
    has a nonce the chain used for something else."""
    for signer in session.scalars(select(m.SignerNonce)):
        mined, _pending = ports.chain.transaction_counts(signer.address)
        if signer.next_nonce < mined:
            report.mismatches.append(
                Mismatch(f"signer {signer.address}", "next nonce", str(signer.next_nonce), f"{mined} already mined")
            )
        waiting = session.scalars(
            select(m.OutboxEntry).where(
                m.OutboxEntry.status == OutboxStatus.SENT,
                m.OutboxEntry.sender == signer.address,
                m.OutboxEntry.nonce < mined,
            )
        ).all()
        if waiting:
            receipts = ports.chain.receipts([bytes.fromhex(h[2:]) for e in waiting for h in e.tx_hashes])
            if not any(receipts):
                for entry in waiting:
                    subject = records.public_id(m.OutboxEntry, entry.id)
                    report.mismatches.append(Mismatch(subject, "nonce", f"{entry.nonce}, waiting", "used by another"))


def _receipts(session: Session, ports: Ports, report: Report) -> None:
    """The newest transactions the relayer took as mined have their receipts where it recorded them."""
    recent = session.scalars(
        select(m.OutboxEntry)
        .where(m.OutboxEntry.mined_tx_hash.is_not(None))
        .order_by(m.OutboxEntry.id.desc())
        .limit(RECENT_TRANSACTIONS)
    ).all()
    receipts = ports.chain.receipts([bytes.fromhex(str(e.mined_tx_hash)[2:]) for e in recent])
    for entry, receipt in zip(recent, receipts, strict=True):
        subject = records.public_id(m.OutboxEntry, entry.id)
        succeeded = entry.status == OutboxStatus.MINED
        report.differ(subject, "mined in block", entry.mined_block, receipt.block_number if receipt else "no receipt")
        report.differ(subject, "succeeded", succeeded, receipt.succeeded if receipt else "no receipt")
        report.transactions += 1


def _state_block(ports: Ports, indexed: int) -> int:
    """The block to read the chain's state at: the last one the indexer read. A node that prunes old
    state (anvil --prune-history, most non-archive nodes) may no longer have it; when the escrow has
    logged nothing since, its state is the same at the head, so the head is read instead."""
    try:
        ports.chain.escrow.functions.paused().call(block_identifier=indexed)
        return indexed
    except Exception:
        head = ports.chain.head()
        if not ports.chain.escrow_logs(indexed + 1, head):
            return head
    raise Conflict(
        f"the node keeps no state for block {indexed}, the last the indexer read, and the escrow has changed "
        "since: wait for the indexer to catch up (GET /v1/health) and run the reconciliation again"
    )


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
