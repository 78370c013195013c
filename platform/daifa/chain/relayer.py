"""The relayer: every transaction the platform sends goes through its durable outbox.

An entry moves pending -> signed -> sent -> mined (or failed), each step committed before the next:
1. A use case adds the entry in the same database transaction as the change that needs it, so the
   intent and the change are both kept or both lost.
2. `sign` estimates the gas (a call that would revert fails the entry with the decoded custom error and
   spends no nonce), takes the signer's next nonce with a row lock, signs, and stores the raw
   transaction and its hash before anything is broadcast.
3. `broadcast` sends the stored bytes. A crash before it leaves a signed entry, sent again on restart;
   a crash after it leaves the same bytes, which the node calls known or already mined.
4. `follow` looks for a receipt of every version of the entry; one that waits too long is replaced by
   the same call at the same nonce with higher fees, so at most one version can ever be mined.
Each step handles every entry waiting for it at once: one JSON-RPC batch to the node (estimates, raw
transactions, receipts), then one database transaction, so a thousand approvals cost a few round trips
rather than thousands, and no database lock is held while the node is asked.
Nothing here says whether the call did what it meant: the indexer reads that from the chain's events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from daifa.chain.client import ChainClient
from daifa.chain.reverts import decode_revert, revert_data
from daifa.store.models import OutboxEntry, SignerNonce, utcnow

log = logging.getLogger(__name__)

PENDING, SIGNED, SENT, MINED, FAILED = "pending", "signed", "sent", "mined", "failed"
GAS_HEADROOM = 1.25  # the estimate is taken at one state; the call may run in a slightly different one
FEE_BUMP = 1.25  # nodes accept a replacement only if it pays at least 10% more; 25% clears quickly
BATCH = 1_000  # entries a step handles at once

FaultHook = Callable[[str, OutboxEntry], None]
SettledListener = Callable[[Session, OutboxEntry], None]


def enqueue(session: Session, kind: str, subject: str, to: str, data: bytes) -> OutboxEntry:
    """Adds a transaction to the outbox inside the caller's database transaction."""
    entry = OutboxEntry(kind=kind, subject=subject, to=to, data=data, status=PENDING, tx_hashes=[])
    session.add(entry)
    session.flush()
    return entry


@dataclass
class Relayer:
    sessions: sessionmaker[Session]
    client: ChainClient
    signer: LocalAccount
    replace_after: timedelta = timedelta(seconds=30)
    fault: FaultHook | None = None  # tests crash the relayer at named points with it
    listeners: list[SettledListener] = field(default_factory=list)

    def run_once(self) -> int:
        """Signs, broadcasts and follows everything in the outbox once; returns how many entries moved."""
        return self.sign() + self.broadcast() + self.follow()

    def _entries(self, status: str, ids: Sequence[int] | None) -> list[OutboxEntry]:
        """A detached snapshot of the entries in `status` (oldest first, at most BATCH); each step locks
        them again before it changes one."""
        with self.sessions() as session:
            query = select(OutboxEntry).where(OutboxEntry.status == status).order_by(OutboxEntry.id).limit(BATCH)
            if ids is not None:
                query = query.where(OutboxEntry.id.in_(ids))
            entries = list(session.scalars(query))
            session.expunge_all()
            return entries

    # ------------------------------------------------------------------------------------- steps
    # Each step asks the node about a whole batch of entries in one round trip, with no database
    # transaction open, then records what it learnt in one transaction.

    def sign(self, ids: Sequence[int] | None = None) -> int:
        snapshot = self._entries(PENDING, ids)
        if not snapshot:
            return 0
        estimates = dict(
            zip(
                [e.id for e in snapshot],
                self.client.estimate_many(self.signer.address, [(e.to, e.data) for e in snapshot]),
                strict=True,
            )
        )
        max_fee, tip = self.client.fees()
        moved: list[OutboxEntry] = []
        with self.sessions.begin() as session:
            for entry in self._lock(session, list(estimates), PENDING):
                entry.attempts += 1
                gas = estimates[entry.id]
                if isinstance(gas, Exception):
                    data = revert_data(gas)
                    if not data and not _is_revert(gas):
                        log.warning("outbox %s: gas estimate failed, will retry: %s", entry.id, gas)
                        continue
                    entry.status = FAILED
                    entry.error = f"would revert: {decode_revert(data)}" if data else f"would revert: {gas}"
                    self._settled(session, entry)
                else:
                    entry.sender = self.signer.address
                    entry.nonce = self._take_nonce(session)
                    entry.gas_limit = int(gas * GAS_HEADROOM) + 10_000
                    entry.max_fee_per_gas, entry.max_priority_fee_per_gas = max_fee, tip
                    self._sign_current(entry)
                    entry.status = SIGNED
                moved.append(entry)
        for entry in moved:
            if entry.status == SIGNED:
                self._fault("signed", entry)
        return len(moved)

    def broadcast(self, ids: Sequence[int] | None = None) -> int:
        # Sent with no database transaction open: two workers may both send these bytes, which is harmless.
        snapshot = [e for e in self._entries(SIGNED, ids) if e.raw_transaction is not None]
        if not snapshot:
            return 0
        taken = self._send(snapshot)
        moved: list[OutboxEntry] = []
        with self.sessions.begin() as session:
            for entry in self._lock(session, taken, SIGNED):
                entry.status = SENT
                entry.sent_at = utcnow()
                moved.append(entry)
        for entry in moved:
            self._fault("sent", entry)
        return len(moved)

    def follow(self, ids: Sequence[int] | None = None) -> int:
        snapshot = self._entries(SENT, ids)
        if not snapshot:
            return 0
        hashes = [h for e in snapshot for h in e.tx_hashes]
        receipts = dict(zip(hashes, self.client.receipts([bytes.fromhex(h[2:]) for h in hashes]), strict=True))
        moved, unmined = 0, []
        with self.sessions.begin() as session:
            for entry in self._lock(session, [e.id for e in snapshot], SENT):
                mined = next(((h, receipts[h]) for h in reversed(entry.tx_hashes) if receipts.get(h)), None)
                if mined is None:
                    unmined.append(entry)
                    continue
                tx_hash, receipt = mined
                assert receipt is not None
                entry.mined_tx_hash = tx_hash
                entry.mined_block = receipt.block_number
                entry.gas_used = receipt.gas_used
                if receipt.succeeded:
                    entry.status = MINED
                else:
                    entry.status = FAILED
                    entry.error = "reverted on chain"
                self._settled(session, entry)
                moved += 1
            stale = [e for e in unmined if e.sent_at is not None and utcnow() - e.sent_at >= self.replace_after]
            if stale:
                self._replace(stale)
        # Sent again: a node restarted without its mempool forgets them; one that has them says so.
        self._send([e for e in unmined if e not in stale])
        return moved

    # ------------------------------------------------------------------------------------- helpers

    def _lock(self, session: Session, ids: Sequence[int], status: str) -> list[OutboxEntry]:
        """The entries among `ids` still in `status`, locked (another worker's locked ones are skipped)."""
        if not ids:
            return []
        query = (
            select(OutboxEntry)
            .where(OutboxEntry.id.in_(ids), OutboxEntry.status == status)
            .order_by(OutboxEntry.id)
            .with_for_update(skip_locked=True)
        )
        return list(session.scalars(query))

    def _take_nonce(self, session: Session) -> int:
        address = self.signer.address
        row = session.scalars(select(SignerNonce).where(SignerNonce.address == address).with_for_update()).first()
        if row is None:
            try:
                with session.begin_nested():
                    row = SignerNonce(address=address, next_nonce=self.client.transaction_count(address))
                    session.add(row)
            except IntegrityError:  # another worker created it first
                row = session.scalars(select(SignerNonce).where(SignerNonce.address == address).with_for_update()).one()
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        return nonce

    def _sign_current(self, entry: OutboxEntry) -> None:
        tx: dict[str, Any] = {
            "chainId": self.client.chain_id,
            "nonce": entry.nonce,
            "to": entry.to,
            "data": entry.data,
            "value": 0,
            "gas": entry.gas_limit,
            "maxFeePerGas": entry.max_fee_per_gas,
            "maxPriorityFeePerGas": entry.max_priority_fee_per_gas,
            "type": 2,
        }
        signed = self.signer.sign_transaction(cast(Any, tx))
        entry.raw_transaction = bytes(signed.raw_transaction)
        entry.tx_hashes = [*entry.tx_hashes, "0x" + bytes(signed.hash).hex()]

    def _replace(self, entries: list[OutboxEntry]) -> None:
        """Re-signs each at its nonce with fees at least FEE_BUMP higher and sends the new versions."""
        max_fee, tip = self.client.fees()
        for entry in entries:
            assert entry.max_fee_per_gas is not None and entry.max_priority_fee_per_gas is not None
            entry.max_fee_per_gas = max(max_fee, int(entry.max_fee_per_gas * FEE_BUMP))
            entry.max_priority_fee_per_gas = max(tip, int(entry.max_priority_fee_per_gas * FEE_BUMP))
            self._sign_current(entry)
            entry.sent_at = utcnow()
            log.info("outbox %s: replaced at nonce %s with fee %s", entry.id, entry.nonce, entry.max_fee_per_gas)
        self._send(entries)

    def _send(self, entries: list[OutboxEntry]) -> list[int]:
        """Broadcasts the entries' current raw transactions; the ids of those the node has (now or already)."""
        if not entries:
            return []
        try:
            errors = self.client.send_many([e.raw_transaction or b"" for e in entries])
        except Exception as error:
            log.warning("outbox: broadcast of %s failed, will retry: %s", len(entries), error)
            return []
        taken = []
        for entry, refusal in zip(entries, errors, strict=True):
            message = str(refusal).lower()
            if refusal is None or "known" in message or "nonce too low" in message or "already" in message:
                taken.append(entry.id)
            else:
                log.warning("outbox %s: broadcast failed, will retry: %s", entry.id, refusal)
        return taken

    def _settled(self, session: Session, entry: OutboxEntry) -> None:
        for listener in self.listeners:
            listener(session, entry)

    def _fault(self, point: str, entry: OutboxEntry) -> None:
        if self.fault is not None:
            self.fault(point, entry)


def _is_revert(error: Exception) -> bool:
    name = type(error).__name__
    return "Revert" in name or "ContractLogicError" in name or "TransactionFailed" in name
