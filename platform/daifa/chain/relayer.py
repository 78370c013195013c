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
Nothing here says whether the call did what it meant: the indexer reads that from the chain's events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
        moved = 0
        for entry_id in self._ids(PENDING):
            moved += self.sign(entry_id)
        for entry_id in self._ids(SIGNED):
            moved += self.broadcast(entry_id)
        for entry_id in self._ids(SENT):
            moved += self.follow(entry_id)
        return moved

    def _ids(self, status: str) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(select(OutboxEntry.id).where(OutboxEntry.status == status).order_by(OutboxEntry.id))
            )

    # ------------------------------------------------------------------------------------- steps

    def sign(self, entry_id: int) -> int:
        with self.sessions.begin() as session:
            entry = self._lock(session, entry_id, PENDING)
            if entry is None:
                return 0  # another worker took it
            entry.attempts += 1
            try:
                gas = self.client.estimate_gas(self.signer.address, entry.to, entry.data)
            except Exception as error:
                data = revert_data(error)
                if not data and not _is_revert(error):
                    log.warning("outbox %s: gas estimate failed, will retry: %s", entry.id, error)
                    return 0
                entry.status = FAILED
                entry.error = f"would revert: {decode_revert(data)}" if data else f"would revert: {error}"
                self._settled(session, entry)
                return 1
            max_fee, tip = self.client.fees()
            entry.sender = self.signer.address
            entry.nonce = self._take_nonce(session)
            entry.gas_limit = int(gas * GAS_HEADROOM) + 10_000
            entry.max_fee_per_gas, entry.max_priority_fee_per_gas = max_fee, tip
            self._sign_current(entry)
            entry.status = SIGNED
        self._fault("signed", entry)
        return 1

    def broadcast(self, entry_id: int) -> int:
        with self.sessions() as session:
            entry = session.get(OutboxEntry, entry_id)
            if entry is None or entry.status != SIGNED or entry.raw_transaction is None:
                return 0
            raw = entry.raw_transaction
        # Sent with no database transaction open: two workers may both send these bytes, which is harmless.
        if not self._send(raw, entry_id):
            return 0
        with self.sessions.begin() as session:
            entry = self._lock(session, entry_id, SIGNED)
            if entry is None:
                return 0
            entry.status = SENT
            entry.sent_at = utcnow()
        self._fault("sent", entry)
        return 1

    def follow(self, entry_id: int) -> int:
        with self.sessions.begin() as session:
            entry = self._lock(session, entry_id, SENT)
            if entry is None:
                return 0
            for tx_hash in reversed(entry.tx_hashes):
                receipt = self.client.receipt(bytes.fromhex(tx_hash[2:]))
                if receipt is None:
                    continue
                entry.mined_tx_hash = tx_hash
                entry.mined_block = int(receipt["blockNumber"])
                entry.gas_used = int(receipt["gasUsed"])
                if receipt["status"] == 1:
                    entry.status = MINED
                else:
                    entry.status = FAILED
                    entry.error = "reverted on chain"
                self._settled(session, entry)
                return 1
            assert entry.sent_at is not None and entry.raw_transaction is not None
            if utcnow() - entry.sent_at >= self.replace_after:
                self._replace(entry)
            else:
                self._send(entry.raw_transaction, entry.id)  # a node restarted without its mempool forgets it
            return 0

    # ------------------------------------------------------------------------------------- helpers

    def _lock(self, session: Session, entry_id: int, status: str) -> OutboxEntry | None:
        entry = session.scalars(
            select(OutboxEntry).where(OutboxEntry.id == entry_id).with_for_update(skip_locked=True)
        ).first()
        return entry if entry is not None and entry.status == status else None

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

    def _replace(self, entry: OutboxEntry) -> None:
        max_fee, tip = self.client.fees()
        assert entry.max_fee_per_gas is not None and entry.max_priority_fee_per_gas is not None
        entry.max_fee_per_gas = max(max_fee, int(entry.max_fee_per_gas * FEE_BUMP))
        entry.max_priority_fee_per_gas = max(tip, int(entry.max_priority_fee_per_gas * FEE_BUMP))
        self._sign_current(entry)
        entry.sent_at = utcnow()
        log.info("outbox %s: replaced at nonce %s with fee %s", entry.id, entry.nonce, entry.max_fee_per_gas)
        assert entry.raw_transaction is not None
        self._send(entry.raw_transaction, entry.id)

    def _send(self, raw: bytes, entry_id: int) -> bool:
        """Broadcasts; True when the node has the transaction (now or already)."""
        try:
            self.client.send_raw(raw)
        except Exception as error:
            message = str(error).lower()
            if "known" in message or "nonce too low" in message or "already" in message:
                return True
            log.warning("outbox %s: broadcast failed, will retry: %s", entry_id, error)
            return False
        return True

    def _settled(self, session: Session, entry: OutboxEntry) -> None:
        for listener in self.listeners:
            listener(session, entry)

    def _fault(self, point: str, entry: OutboxEntry) -> None:
        if self.fault is not None:
            self.fault(point, entry)


def _is_revert(error: Exception) -> bool:
    name = type(error).__name__
    return "Revert" in name or "ContractLogicError" in name or "TransactionFailed" in name
